//! The call and timer benchmarks on wasync, in modes S, C and N from one
//! source. `bench-witbindgen` has the same exports on bare wit-bindgen;
//! keep the two in step.

mod bindings {
    wasync::generate!({ world: "bench-async", path: "../../wit" });
}

use std::time::Duration;

use bindings::exports::examples::wasync::bench_calls::{Guest, StormReport};
use wasync::time::sleep;

struct Bench;

/// A WASI 0.2 pollable that is ready at once, awaited through wasync.
#[cfg(not(feature = "native"))]
async fn ready_now() {
    let ready = wasip2::clocks::monotonic_clock::subscribe_duration(0);
    wasync::wait_for(&ready).await;
}

/// Mode N has no pollables: a WASI 0.3 subtask that is done at once.
#[cfg(feature = "native")]
async fn ready_now() {
    wasip3::clocks::monotonic_clock::wait_for(0).await;
}

#[wasync::async_export]
impl Guest for Bench {
    async fn echo(text: String) -> String {
        text
    }

    fn echo_plain(text: String) -> String {
        text
    }

    async fn wait_ready() {
        ready_now().await;
    }

    async fn sleep_for(ms: u32) -> u32 {
        sleep(Duration::from_millis(u64::from(ms))).await;
        ms
    }

    async fn timer_storm(n: u32, spread_ms: u32, seed: u64) -> StormReport {
        let (wall_ns, lateness) = examples_common::timer_storm(n, spread_ms, seed).await;
        examples_common::storm_report!(StormReport, wall_ns, lateness)
    }
}

bindings::export!(Bench with_types_in bindings);
