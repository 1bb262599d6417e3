//! The runtime benchmarks on wasync. `bench-wstd` is the same program on
//! wstd 0.6.8; keep the two in step.

wit_bindgen::generate!({ world: "bench", path: "../../wit" });

use std::time::Duration;

use wasip2::clocks::monotonic_clock;
use wasync::task::yield_now;
use wasync::time::sleep;

struct Bench;

const HOUR: Duration = Duration::from_secs(3600);

impl Guest for Bench {
    fn timer_storm(n: u32, spread_ms: u32, seed: u64) -> TimerReport {
        let (wall_ns, lateness) =
            wasync::block_on(examples_common::timer_storm(n, spread_ms, seed));
        let l = examples_common::Lateness::of(&lateness);
        TimerReport {
            fired: l.fired,
            early: l.early,
            wall_ns,
            mean_lateness_ns: l.mean_ns,
            p99_lateness_ns: l.p99_ns,
            max_lateness_ns: l.max_ns,
        }
    }

    fn idle_timers(idle: u32, tasks: u32, yields: u32) -> u64 {
        wasync::block_on(async move {
            let sleepers: Vec<_> = (0..idle)
                .map(|_| wasync::spawn(sleep(HOUR)).abort_on_drop())
                .collect();
            // Let every sleeper register its timer before measuring.
            yield_now().await;
            let start = monotonic_clock::now();
            let workers: Vec<_> = (0..tasks)
                .map(|_| {
                    wasync::spawn(async move {
                        for _ in 0..yields {
                            yield_now().await;
                        }
                    })
                })
                .collect();
            for w in workers {
                w.await.expect("not aborted");
            }
            let elapsed = monotonic_clock::now() - start;
            drop(sleepers);
            elapsed
        })
    }

    fn spawn_join(n: u32) -> u64 {
        wasync::block_on(async move {
            let start = monotonic_clock::now();
            let handles: Vec<_> = (0..n).map(|i| wasync::spawn(async move { i })).collect();
            let mut sum = 0u64;
            for h in handles {
                sum += u64::from(h.await.expect("not aborted"));
            }
            assert_eq!(sum, u64::from(n) * u64::from(n.saturating_sub(1)) / 2);
            monotonic_clock::now() - start
        })
    }

    fn poll_turn(pollables: u32, turns: u32) -> u64 {
        let never: Vec<_> = (0..pollables)
            .map(|_| monotonic_clock::subscribe_duration(HOUR.as_nanos() as u64))
            .collect();
        wasync::block_on(async {
            let waiting = futures::future::join_all(never.iter().map(wasync::wait_for));
            let mut waiting = Box::pin(waiting);
            // Register every waiter before measuring.
            assert!(futures::poll!(waiting.as_mut()).is_pending());
            let start = monotonic_clock::now();
            for _ in 0..turns {
                yield_now().await;
            }
            monotonic_clock::now() - start
        })
    }
}

export!(Bench);
