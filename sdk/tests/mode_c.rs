//! Mode C's guest glue (`wasync::__private::concurrent`, which the macros
//! call) on the simulated host. Each test plays the host: it enters the
//! guest with `start`, `wake` and `finish`, reads what the guest parked
//! from the simulation, and reports ready positions of the last park, as
//! the ABI says.

use std::pin::pin;
use std::rc::Rc;
use std::time::Duration;

use futures::StreamExt;
use futures::future::{Either, select};
use wasync::__private::concurrent;
use wasync::sim;
use wasync::time::{Instant, sleep_until};

/// What the host holds after the entries so far: the last parked list.
fn last_parked() -> Vec<u32> {
    sim::take_parks().pop().expect("the guest parked").waiting
}

/// What the host holds after an entry, given what it held before: a guest
/// that skipped `park` left the list unchanged.
fn held_after(before: Vec<u32>) -> Vec<u32> {
    sim::take_parks().pop().map_or(before, |p| p.waiting)
}

#[test]
fn a_timer_rearmed_at_the_same_tick_is_parked_again() {
    let (tx, mut rx) = futures::channel::mpsc::unbounded::<()>();
    let deadline = Instant::now() + Duration::from_millis(10);
    let looping = concurrent::start(async move {
        let mut kept = Vec::new();
        loop {
            let message = {
                let next = rx.next();
                let timer = sleep_until(deadline);
                matches!(
                    select(pin!(next), pin!(timer)).await,
                    Either::Left((Some(()), _))
                )
            };
            if !message {
                return kept.len() as u32;
            }
            // Cancelling the only timer dropped the timer pollable; this
            // one takes its handle. The next turn's timer, due at the same
            // tick, arms a new pollable with another handle.
            kept.push(sim::Pollable::new());
        }
    });
    let Err(call) = looping else {
        panic!("the loop waits for its deadline")
    };
    // Another call sends on the channel: its entry runs the loop once.
    let sender = tx.clone();
    assert_eq!(
        concurrent::start(async move { sender.unbounded_send(()).is_ok() }),
        Ok(true)
    );
    let parked = last_parked();
    sim::advance(Duration::from_millis(10));
    let ready = sim::ready_positions(&parked);
    assert!(
        !ready.is_empty(),
        "at the deadline nothing the host holds is ready: it holds {parked:?}, a stale timer \
         handle"
    );
    concurrent::wake(&ready);
    let park = sim::take_parks().pop().expect("the loop finished");
    assert_eq!(park.finished, [call]);
    assert_eq!(concurrent::finish::<u32>(call), 1);
    drop(tx);
}

#[test]
fn a_plain_entry_runs_the_call_it_woke_and_reports_it_finished() {
    let (tx, rx) = futures::channel::oneshot::channel::<u32>();
    let Err(call) = concurrent::start(async move { rx.await.unwrap_or(0) }) else {
        panic!("the call waits for the channel")
    };
    sim::take_parks();
    // The plain export sends; the woken call runs before the entry returns.
    concurrent::plain(|| tx.send(5).unwrap());
    let park = sim::take_parks().pop().expect("the entry parked");
    assert_eq!(park.finished, [call]);
    assert_eq!(concurrent::finish::<u32>(call), 5);
}

#[test]
fn a_plain_entry_that_drops_the_last_timer_parks_without_it() {
    let task = wasync::spawn(wasync::time::sleep(Duration::from_secs(60)));
    concurrent::wake(&[]);
    let held = last_parked();
    assert_eq!(held.len(), 1, "the timer pollable");
    concurrent::plain(|| task.abort());
    assert_eq!(
        held_after(held),
        [] as [u32; 0],
        "the timer pollable is gone"
    );
}

#[test]
fn a_plain_export_called_from_a_task_is_no_entry() {
    let out = concurrent::start(async {
        // Guest code calling its own trait function: no park, no panic.
        let v = concurrent::plain(|| 3);
        wasync::task::yield_now().await;
        v
    });
    assert_eq!(out, Ok(3));
}

#[test]
fn a_plain_entry_that_drops_a_wait_parks_the_shifted_list() {
    let pollables: Vec<Rc<sim::Pollable>> = (0..3).map(|_| Rc::new(sim::Pollable::new())).collect();
    let tasks: Vec<_> = pollables
        .iter()
        .map(|p| {
            let p = p.clone();
            wasync::spawn(async move { wasync::wait_for(&p).await })
        })
        .collect();
    concurrent::wake(&[]);
    let held = last_parked();
    assert_eq!(held.len(), 3);
    // Dropping the first wait swap-removes it: the last one moves to the
    // front. The host must hear of the new order before it reports.
    concurrent::plain(|| tasks[0].abort());
    let parked = held_after(held);
    pollables[2].set_ready();
    concurrent::wake(&sim::ready_positions(&parked));
    assert!(tasks[2].is_finished(), "the ready wait was woken");
    assert!(!tasks[1].is_finished());
}

#[test]
fn a_plain_entry_nested_in_another_runs_no_task_until_the_outer_one_ends() {
    let ran = Rc::new(std::cell::Cell::new(false));
    let r = ran.clone();
    let task = wasync::spawn(async move { r.set(true) });
    concurrent::plain(|| {
        // A destructor run by the body (the guest dropping a handle of its
        // own resource) is no entry of its own: the body's user code is
        // still on the stack, holding whatever it holds.
        concurrent::plain(|| ());
        assert!(!ran.get(), "a task ran in the middle of the body");
    });
    assert!(ran.get() && task.is_finished());
}

#[test]
fn a_call_that_finishes_at_its_first_poll_costs_no_task() {
    let before = wasync::runtime::stats();
    assert_eq!(concurrent::start(async { 7 }), Ok(7));
    let after = wasync::runtime::stats();
    assert_eq!(after.spawned, before.spawned, "the call was made a task");
    assert_eq!(after.live_tasks, 0);
}

#[test]
fn a_call_started_while_tasks_are_runnable_runs_after_them() {
    let log = Rc::new(std::cell::RefCell::new(Vec::new()));
    let l = log.clone();
    // Spawned outside an entry: queued, not run yet.
    let task = wasync::spawn(async move { l.borrow_mut().push("task") });
    let l = log.clone();
    assert_eq!(
        concurrent::start(async move { l.borrow_mut().push("call") }),
        Ok(())
    );
    assert_eq!(
        *log.borrow(),
        ["task", "call"],
        "the new call jumped the queue"
    );
    assert!(task.is_finished());
}

#[test]
fn a_call_that_waits_at_its_first_poll_is_woken_in_its_task() {
    let Err(call) = concurrent::start(async {
        wasync::time::sleep(Duration::from_millis(10)).await;
        5u32
    }) else {
        panic!("the call sleeps")
    };
    let stats = wasync::runtime::stats();
    assert_eq!(
        (stats.live_tasks, stats.live_timers),
        (1, 1),
        "one task, waiting on one timer"
    );
    let parked = last_parked();
    sim::advance(Duration::from_millis(10));
    concurrent::wake(&sim::ready_positions(&parked));
    let park = sim::take_parks().pop().expect("the call finished");
    assert_eq!(park.finished, [call]);
    assert_eq!(concurrent::finish::<u32>(call), 5);
}
