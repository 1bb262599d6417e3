//! Timeout races: the winner's value comes through, the loser is dropped and
//! leaves nothing registered.

use std::time::Duration;

use wasync::runtime::stats;
use wasync::sim::Pollable;
use wasync::time::{Elapsed, sleep, timeout};

#[test]
fn the_future_wins_when_it_is_faster() {
    let out = wasync::block_on(timeout(Duration::from_millis(50), async {
        sleep(Duration::from_millis(10)).await;
        "made it"
    }));
    assert_eq!(out, Ok("made it"));
    let s = stats();
    assert_eq!((s.live_timers, s.registered_pollables), (0, 0), "{s:?}");
}

#[test]
fn the_deadline_wins_and_the_loser_leaves_nothing_behind() {
    let never = Pollable::new();
    let out = wasync::block_on(async {
        let a = timeout(Duration::from_millis(5), wasync::wait_for(&never)).await;
        let b = timeout(Duration::from_millis(5), sleep(Duration::from_secs(3600))).await;
        (a, b)
    });
    assert!(matches!(out, (Err(Elapsed { .. }), Err(Elapsed { .. }))));
    let s = stats();
    assert_eq!(s.live_timers, 0, "{s:?}");
    assert_eq!(s.registered_pollables, 0, "{s:?}");
    assert_eq!(s.waiters, 0, "{s:?}");
    assert!(!s.timer_armed, "{s:?}");
}

#[test]
fn a_timeout_around_spawned_work_cancels_only_the_wait() {
    wasync::block_on(async {
        let task = wasync::spawn(async {
            sleep(Duration::from_millis(30)).await;
            9
        });
        let abort = task.abort_handle();
        let mut task = Box::pin(task);
        assert!(timeout(Duration::from_millis(10), &mut task).await.is_err());
        // The task itself is unaffected by the timed-out wait on its handle.
        assert!(!abort.is_finished());
        assert_eq!(task.await, Ok(9));
    });
}
