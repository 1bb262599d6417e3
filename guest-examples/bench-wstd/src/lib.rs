//! The runtime benchmarks on wstd 0.6.8: the same program as
//! `bench-wasync`, for side-by-side runs.

wit_bindgen::generate!({ world: "bench", path: "../../wit" });

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use wasip2::clocks::monotonic_clock;
use wstd::runtime::{Reactor, block_on, spawn};
use wstd::time::Duration;

use examples_common::xorshift;

struct Bench;

const HOUR_NS: u64 = 3_600_000_000_000;

/// wstd has no `yield_now`; this is the usual one.
struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

fn yield_now() -> YieldNow {
    YieldNow(false)
}

impl Guest for Bench {
    fn timer_storm(n: u32, spread_ms: u32, seed: u64) -> TimerReport {
        let spread_ns = u64::from(spread_ms) * 1_000_000;
        block_on(async move {
            let start = monotonic_clock::now();
            let mut x = seed.max(1);
            let tasks: Vec<_> = (0..n)
                .map(|_| {
                    let deadline = start + xorshift(&mut x) % (spread_ns + 1);
                    spawn(async move {
                        let now = monotonic_clock::now();
                        wstd::task::sleep(Duration::from_nanos(deadline.saturating_sub(now))).await;
                        monotonic_clock::now() as i64 - deadline as i64
                    })
                })
                .collect();
            let mut lateness = Vec::with_capacity(tasks.len());
            for t in tasks {
                lateness.push(t.await);
            }
            let wall_ns = monotonic_clock::now() - start;
            // The same summary as bench-wasync's, so rows compare.
            let l = examples_common::Lateness::of(&lateness);
            TimerReport {
                fired: l.fired,
                early: l.early,
                wall_ns,
                mean_lateness_ns: l.mean_ns,
                p99_lateness_ns: l.p99_ns,
                max_lateness_ns: l.max_ns,
            }
        })
    }

    fn idle_timers(idle: u32, tasks: u32, yields: u32) -> u64 {
        block_on(async move {
            let sleepers: Vec<_> = (0..idle)
                .map(|_| spawn(wstd::task::sleep(Duration::from_nanos(HOUR_NS))))
                .collect();
            yield_now().await;
            let start = monotonic_clock::now();
            let workers: Vec<_> = (0..tasks)
                .map(|_| {
                    spawn(async move {
                        for _ in 0..yields {
                            yield_now().await;
                        }
                    })
                })
                .collect();
            for w in workers {
                w.await;
            }
            let elapsed = monotonic_clock::now() - start;
            // Dropping a wstd task cancels it, so block_on can return.
            drop(sleepers);
            elapsed
        })
    }

    fn spawn_join(n: u32) -> u64 {
        block_on(async move {
            let start = monotonic_clock::now();
            let tasks: Vec<_> = (0..n).map(|i| spawn(async move { i })).collect();
            let mut sum = 0u64;
            for t in tasks {
                sum += u64::from(t.await);
            }
            assert_eq!(sum, u64::from(n) * u64::from(n.saturating_sub(1)) / 2);
            monotonic_clock::now() - start
        })
    }

    fn poll_turn(pollables: u32, turns: u32) -> u64 {
        block_on(async move {
            let reactor = Reactor::current();
            let never: Vec<_> = (0..pollables)
                .map(|_| reactor.schedule(monotonic_clock::subscribe_duration(HOUR_NS)))
                .collect();
            let waiting: Vec<_> = never
                .iter()
                .map(|p| {
                    let w = p.wait_for();
                    spawn(w)
                })
                .collect();
            yield_now().await;
            let start = monotonic_clock::now();
            for _ in 0..turns {
                yield_now().await;
            }
            let elapsed = monotonic_clock::now() - start;
            drop(waiting);
            elapsed
        })
    }
}

export!(Bench);
