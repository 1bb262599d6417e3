//! Mode C's guest glue (`wasync::__private::concurrent`, which the macros
//! call) on the simulated host. Each test plays the host: it enters the
//! guest with `start`, `wake` and `finish`, reads what the guest parked
//! from the simulation, and reports ready positions of the last park, as
//! the ABI says.

use std::pin::pin;
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
