//! Drives the `slow` interface of the mode-tests component composed behind
//! it: one call in, many overlapping calls out, so that a host that makes
//! one call at a time (`wasmtime run --invoke`) still exercises one
//! instance serving overlapping calls. Mode N only.

mod bindings {
    wasync::generate!({ world: "mode-tests-client", path: "../../wit", mode: "N" });
}

use std::time::Duration;

use bindings::examples::wasync::slow;
use bindings::exports::examples::wasync::slow_driver::{Guest, OverlapReport, RuntimeStats};
use wasync::time::{Instant, sleep, timeout};

fn ms(n: u32) -> Duration {
    Duration::from_millis(u64::from(n))
}

struct Driver;

#[wasync::async_export]
impl Guest for Driver {
    async fn overlap(calls: u32, ms_: u32) -> OverlapReport {
        let start = Instant::now();
        let returned = futures::future::join_all((0..calls).map(|_| slow::sleep_for(ms_))).await;
        let wall = start.elapsed().as_millis();
        OverlapReport {
            returned,
            wall_ms: u32::try_from(wall).unwrap_or(u32::MAX),
            stats: slow::stats(),
        }
    }

    async fn cancel_after(ms_: u32, after_ms: u32) -> RuntimeStats {
        let cut = timeout(ms(after_ms), slow::sleep_for(ms_)).await;
        assert!(
            cut.is_err(),
            "sleep-for({ms_}) finished before {after_ms} ms"
        );
        slow::stats()
    }

    async fn cancel_many(calls: u32, ms_: u32, after_ms: u32) -> RuntimeStats {
        let all = futures::future::join_all((0..calls).map(|_| slow::sleep_for(ms_)));
        let cut = timeout(ms(after_ms), all).await;
        assert!(
            cut.is_err(),
            "{calls} × sleep-for({ms_}) finished before {after_ms} ms"
        );
        slow::stats()
    }

    async fn outlive(ms_: u32, wait_ms: u32) -> (u32, u32) {
        slow::spawn_later(ms_).await;
        let at_once = slow::counter();
        sleep(ms(wait_ms)).await;
        (at_once, slow::counter())
    }

    async fn signal_all(waiters: u32, value: u32) -> Vec<u32> {
        let waiting = futures::future::join_all((0..waiters).map(|_| slow::wait_signal()));
        let signal = async {
            // Let every waiter reach the instance behind before signalling.
            sleep(ms(20)).await;
            slow::signal(value).await;
        };
        futures::join!(waiting, signal).0
    }
}

bindings::export!(Driver with_types_in bindings);
