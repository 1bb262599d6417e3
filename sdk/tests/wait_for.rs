//! Awaiting pollables: shared entries, immediate deregistration, and
//! partial poll results.

use std::time::Duration;

use wasync::runtime::{reset_counters, stats};
use wasync::sim::{self, Pollable};

#[test]
fn several_waiters_share_one_poll_list_entry() {
    let p = Pollable::new();
    let handle = p.handle();
    wasync::block_on(async {
        let waits = futures::future::join_all((0..10).map(|_| wasync::wait_for(&p)));
        let trigger = async {
            wasync::yield_now().await;
            let s = stats();
            assert_eq!((s.registered_pollables, s.waiters), (1, 10), "{s:?}");
            sim::set_ready(handle);
        };
        futures::join!(waits, trigger);
    });
    let s = stats();
    assert_eq!((s.registered_pollables, s.waiters), (0, 0));
}

#[test]
fn dropping_a_wait_deregisters_it_at_once() {
    let p = Pollable::new();
    wasync::block_on(async {
        let mut wait = Box::pin(wasync::wait_for(&p));
        assert!(futures::poll!(wait.as_mut()).is_pending());
        assert_eq!(stats().registered_pollables, 1);
        drop(wait);
        assert_eq!(stats().registered_pollables, 0);
        assert_eq!(stats().waiters, 0);
    });
}

#[test]
fn partial_results_are_tolerated() {
    // The host reports at most 2 ready pollables per poll, like wasmtime's
    // cap on clock pollables.
    sim::set_poll_limit(Some(2));
    reset_counters();
    let pollables: Vec<Pollable> = (0..9)
        .map(|_| Pollable::ready_after(Duration::from_millis(1)))
        .collect();
    wasync::block_on(futures::future::join_all(
        pollables.iter().map(wasync::wait_for),
    ));
    sim::set_poll_limit(None);
    let s = stats();
    assert!(
        s.blocking_polls + s.nonblocking_polls >= 5,
        "9 ready, 2 per poll: {s:?}"
    );
    assert_eq!(s.registered_pollables, 0);
}

#[test]
fn one_blocking_poll_covers_every_waiting_future_and_the_timers() {
    let pollables: Vec<Pollable> = (0..50).map(|_| Pollable::new()).collect();
    let last = pollables[49].handle();
    reset_counters();
    wasync::block_on(async {
        let waits = futures::future::join_all(pollables.iter().map(wasync::wait_for));
        let timers = futures::future::join_all(
            (0..20).map(|i| wasync::time::sleep(Duration::from_secs(100 + i))),
        );
        let mut waits = Box::pin(waits);
        let mut timers = Box::pin(timers);
        assert!(futures::poll!(waits.as_mut()).is_pending());
        assert!(futures::poll!(timers.as_mut()).is_pending());
        let trigger = async {
            wasync::time::sleep(Duration::from_millis(1)).await;
            for p in &pollables {
                sim::set_ready(p.handle());
            }
            let _ = last;
        };
        futures::join!(waits, trigger);
    });
    let s = stats();
    // 50 pollables plus the single timer pollable, never one per timer.
    assert_eq!(s.max_poll_list, 51, "{s:?}");
}
