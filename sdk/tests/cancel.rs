//! Abort, detach and abort-on-drop: what dropping means, and that cancelled
//! work releases what it held.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use wasync::JoinError;
use wasync::runtime::stats;
use wasync::time::sleep;

/// Sets a flag when dropped, to observe cancellation.
struct DropFlag(Rc<Cell<bool>>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

#[test]
fn abort_drops_the_future_at_once_and_join_reports_cancelled() {
    let dropped = Rc::new(Cell::new(false));
    wasync::block_on(async {
        let flag = DropFlag(dropped.clone());
        let h = wasync::spawn(async move {
            let _flag = flag;
            sleep(Duration::from_secs(60)).await;
        });
        wasync::task::yield_now().await;
        assert_eq!(stats().live_timers, 1);
        h.abort();
        assert!(dropped.get(), "abort drops the future immediately");
        assert_eq!(stats().live_timers, 0, "its timer went with it");
        assert_eq!(h.await, Err(JoinError::Cancelled));
    });
    assert_eq!(stats().live_tasks, 0);
}

#[test]
fn a_task_can_abort_itself() {
    wasync::block_on(async {
        let (tx, rx) = futures::channel::oneshot::channel();
        let h = wasync::spawn(async move {
            let me: wasync::task::AbortHandle = rx.await.unwrap();
            me.abort();
            // Still runs to the next await: the abort lands when this poll
            // returns.
            wasync::task::yield_now().await;
            unreachable!("an aborted task is never polled again");
        });
        tx.send(h.abort_handle()).unwrap();
        assert_eq!(h.await, Err(JoinError::Cancelled));
    });
}

#[test]
fn dropping_a_handle_detaches_the_task() {
    let done = Rc::new(Cell::new(false));
    wasync::block_on(async {
        let d = done.clone();
        drop(wasync::spawn(async move {
            sleep(Duration::from_millis(10)).await;
            d.set(true);
        }));
        sleep(Duration::from_millis(20)).await;
    });
    assert!(done.get());
    assert_eq!(stats().live_tasks, 0, "a finished detached task is freed");
}

#[test]
fn abort_on_drop_cancels_instead() {
    let dropped = Rc::new(Cell::new(false));
    wasync::block_on(async {
        let flag = DropFlag(dropped.clone());
        let h = wasync::spawn(async move {
            let _flag = flag;
            std::future::pending::<()>().await;
        })
        .abort_on_drop();
        wasync::task::yield_now().await;
        drop(h);
        assert!(dropped.get());
    });
    assert_eq!(stats().live_tasks, 0);
}

#[test]
fn aborting_a_finished_task_keeps_its_output() {
    wasync::block_on(async {
        let h = wasync::spawn(async { 3 });
        wasync::task::yield_now().await;
        assert!(h.is_finished());
        h.abort();
        assert_eq!(h.await, Ok(3));
    });
}

#[test]
fn ten_thousand_cancelled_tasks_leave_no_trace() {
    wasync::block_on(async {
        let never = wasync::sim::Pollable::new();
        let never = Rc::new(never);
        for _ in 0..10_000 {
            let p = never.clone();
            let h = wasync::spawn(async move {
                let sleeping = sleep(Duration::from_secs(60));
                let waiting = wasync::wait_for(&p);
                futures::join!(sleeping, waiting);
            });
            wasync::task::yield_now().await;
            h.abort();
        }
        let s = stats();
        assert_eq!(
            (
                s.live_tasks,
                s.live_timers,
                s.registered_pollables,
                s.waiters
            ),
            (0, 0, 0, 0)
        );
    });
}
