//! The exports of `bench-async` on bare wit-bindgen 0.63, with no wasync:
//! what a native WASI 0.3 component gets without a runtime of its own.
//! Every sleep is its own `wasi:clocks` `wait-until` subtask, and tasks are
//! spawned with wit-bindgen's own `spawn_local` into the call's task (one
//! executor per call). Keep it in step with `bench-async`.

wit_bindgen::generate!({ world: "bench-witbindgen", path: "../../wit" });

use examples_common::xorshift;
use exports::examples::wasync::bench_calls::{Guest, StormReport};
use wasip3::clocks::monotonic_clock::{now, wait_for, wait_until};

struct Bench;

impl Guest for Bench {
    async fn echo(text: String) -> String {
        text
    }

    fn echo_plain(text: String) -> String {
        text
    }

    async fn wait_ready() {
        wait_for(0).await;
    }

    async fn sleep_for(ms: u32) -> u32 {
        // A `wait-until` (not `wait-for`), like every sleep here, so that the
        // harness counts it next to wasync's.
        wait_until(now() + u64::from(ms) * 1_000_000).await;
        ms
    }

    async fn timer_storm(n: u32, spread_ms: u32, seed: u64) -> StormReport {
        let spread_ns = u64::from(spread_ms) * 1_000_000;
        let start = now();
        let mut x = seed.max(1);
        let handles: Vec<_> = (0..n)
            .map(|_| {
                let deadline = start + xorshift(&mut x) % (spread_ns + 1);
                wit_bindgen::spawn_local(async move {
                    wait_until(deadline).await;
                    now() as i64 - deadline as i64
                })
            })
            .collect();
        let mut lateness = Vec::with_capacity(handles.len());
        for h in handles {
            lateness.push(h.await.expect("not cancelled"));
        }
        examples_common::storm_report!(StormReport, now() - start, lateness)
    }
}

export!(Bench);
