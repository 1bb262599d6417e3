//! Timers on the virtual clock: ordering, lateness, scale, and the single
//! host pollable behind them all.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use wasync::runtime::stats;
use wasync::time::{Instant, sleep, sleep_until};

#[test]
fn sleeps_complete_in_deadline_order() {
    let order = Rc::new(RefCell::new(Vec::new()));
    wasync::block_on(async {
        let mut handles = Vec::new();
        for ms in [50u64, 10, 40, 20, 30, 10] {
            let order = order.clone();
            handles.push(wasync::spawn(async move {
                sleep(Duration::from_millis(ms)).await;
                order.borrow_mut().push(ms);
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
    });
    assert_eq!(*order.borrow(), [10, 10, 20, 30, 40, 50]);
}

#[test]
fn a_timer_never_fires_early() {
    wasync::block_on(async {
        for ns in [1u64, 999_999, 1_000_000, 1_000_001, 7_654_321] {
            let deadline = Instant::now() + Duration::from_nanos(ns);
            sleep_until(deadline).await;
            assert!(Instant::now() >= deadline, "woke before {ns} ns passed");
        }
    });
}

#[test]
fn all_timers_share_one_host_pollable() {
    wasync::runtime::reset_counters();
    wasync::block_on(async {
        let handles: Vec<_> = (1..=200u64)
            .map(|i| wasync::spawn(sleep(Duration::from_millis(i % 17 + 1))))
            .collect();
        for h in handles {
            h.await.unwrap();
        }
    });
    let s = stats();
    assert_eq!(
        s.max_poll_list, 1,
        "only the timer pollable was ever polled: {s:?}"
    );
    assert!(
        s.blocking_polls <= 17,
        "one blocking poll per distinct deadline at most: {s:?}"
    );
    assert_eq!(s.timers_fired, 200);
    assert_eq!(s.live_timers, 0);
    assert!(
        !s.timer_armed,
        "the pollable is dropped once no timer is left"
    );
}

#[test]
fn the_timer_pollable_is_rearmed_only_when_the_earliest_deadline_moves() {
    wasync::block_on(async {
        let far = wasync::spawn(sleep(Duration::from_secs(3600)));
        wasync::task::yield_now().await;
        wasync::runtime::reset_counters();
        // Later deadlines than the armed one do not move it.
        let mut later = Vec::new();
        for i in 0..50u64 {
            later.push(wasync::spawn(sleep(Duration::from_secs(3601 + i))));
        }
        sleep(Duration::from_millis(5)).await;
        let rearms = stats().timer_rearms;
        // One re-arm for the 5 ms sleep, one back to the hour.
        assert!(rearms <= 2, "re-armed {rearms} times");
        far.abort();
        for h in later {
            h.abort();
        }
    });
}

#[test]
fn a_hundred_thousand_timers_all_fire_none_early() {
    let fired = Rc::new(RefCell::new(0u32));
    wasync::block_on(async {
        let mut x: u64 = 42;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let delay = Duration::from_micros(x % 1_000_000);
            let fired = fired.clone();
            let deadline = Instant::now() + delay;
            drop(wasync::spawn(async move {
                sleep_until(deadline).await;
                assert!(Instant::now() >= deadline);
                *fired.borrow_mut() += 1;
            }));
        }
        sleep(Duration::from_secs(2)).await;
    });
    assert_eq!(*fired.borrow(), 100_000);
    assert_eq!(stats().live_timers, 0);
}

#[test]
fn a_million_timers_register_and_fire() {
    let count = Rc::new(RefCell::new(0u32));
    wasync::block_on(async {
        let start = Instant::now();
        let mut sleeps = Vec::with_capacity(1_000_000);
        for i in 0..1_000_000u64 {
            sleeps.push(sleep_until(start + Duration::from_millis(1 + i % 5000)));
        }
        // Join them all as one future: each registers on its first poll.
        let all = futures::future::join_all(sleeps.into_iter().map(|s| {
            let count = count.clone();
            async move {
                s.await;
                *count.borrow_mut() += 1;
            }
        }));
        all.await;
        assert!(start.elapsed() >= Duration::from_millis(5000));
    });
    assert_eq!(*count.borrow(), 1_000_000);
}
