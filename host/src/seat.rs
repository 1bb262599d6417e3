//! Who holds the mode C event loop's state (every instance's store and the
//! loop's books): the loop task, or a caller that runs the loop's work in
//! its own task while the loop is idle.
//!
//! A call through the loop task costs a hand-off to it and back, and a park
//! of the runtime in between; a call that finishes in its `f-start` needs
//! neither when nothing else waits on the instances.
//!
//! Ground rules:
//! - The state has one holder at a time. Every request is still sent on
//!   the loop's channel at once, in order, whoever then handles it.
//! - The loop task lends the state out only when it is idle (no call in
//!   flight, nothing parked, no event to handle, no request waiting). Then
//!   a [`Call`](crate::Call), at its first poll, may take it and handle
//!   what waits in the channel (its own request among them) exactly as the
//!   loop task would, in its own task. If an entry waits inside the guest,
//!   the work moves to a task of its own: the host never depends on a
//!   caller polling its call again.
//! - Whoever holds the state handles every request in the channel before
//!   it lets go. It lends the state out again only if the loop is still
//!   idle; otherwise it gives it back to the loop task (and wakes it),
//!   which alone waits on pollables and deadlines.
//! - Every send on the channel nudges the loop task, so a request whose
//!   [`Call`](crate::Call) is never polled is handled all the same.

use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{Notify, mpsc};

use crate::event_loop::Loop;
use crate::job::BoxFuture;
use crate::shared::Request;
use crate::view::WasyncView;

/// Where the loop's state is.
enum Holder<T: 'static> {
    /// With the loop task.
    Task,
    /// Idle, for a caller to take.
    Free(Box<Loop<T>>),
    /// With a caller, running its call in place.
    Lent,
    /// Given back, no longer idle: for the loop task only.
    Back(Box<Loop<T>>),
}

/// The loop's state between its holders, and the loop task's wake-up.
pub(crate) struct Seat<T: 'static> {
    holder: Mutex<Holder<T>>,
    nudge: Notify,
    /// The runtime of the loop task: a call polled on another (or on no
    /// tokio runtime) goes through the loop task, since the host functions
    /// an entry calls may need the runtime the host runs on.
    runtime: tokio::runtime::Id,
}

impl<T: WasyncView> Seat<T> {
    /// A seat for a loop task on `runtime`.
    pub(crate) fn new(runtime: tokio::runtime::Id) -> Arc<Seat<T>> {
        Arc::new(Seat {
            holder: Mutex::new(Holder::Task),
            nudge: Notify::new(),
            runtime,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Holder<T>> {
        self.holder.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The loop task lends out its state, which must be idle, unless a
    /// request is waiting: then it gets it back to handle the request.
    pub(crate) fn lend(&self, state: Box<Loop<T>>) -> Result<(), Box<Loop<T>>> {
        let mut holder = self.lock();
        if state.has_requests() {
            return Err(state);
        }
        *holder = Holder::Free(state);
        Ok(())
    }

    /// The loop task takes its state back once nudged (a request was sent,
    /// a caller gave the state back, or the last driver is gone), unless a
    /// caller holds it then: that caller handles the request, and gives
    /// the state back with a nudge if the loop is no longer idle. A state
    /// that is lent out, idle, with no request waiting and a driver left,
    /// stays lent out: there is nothing for the loop task to do.
    pub(crate) async fn reclaim(&self) -> Box<Loop<T>> {
        loop {
            // A nudge sent while the loop task did something else is kept
            // for this wait: at worst the loop lends its state out again.
            self.nudge.notified().await;
            let mut holder = self.lock();
            match std::mem::replace(&mut *holder, Holder::Task) {
                // Still idle with nothing to handle: a caller took its own
                // request in place and gave the state back before this
                // turn. Taking the state only to lend it out again would
                // cost every such call a round of the loop.
                Holder::Free(state) if !state.has_requests() && !state.is_closed() => {
                    *holder = Holder::Free(state);
                }
                Holder::Free(state) | Holder::Back(state) => return state,
                other => *holder = other,
            }
        }
    }

    /// Wakes the loop task, after a send on its channel.
    pub(crate) fn nudge(&self) {
        self.nudge.notify_one();
    }

    /// Gives the state back after a caller's turn: lent out again if the
    /// loop is still idle, else to the loop task.
    fn give_back(&self, mut state: Box<Loop<T>>) {
        let mut holder = self.lock();
        if state.is_idle() && !state.has_requests() {
            *holder = Holder::Free(state);
        } else {
            *holder = Holder::Back(state);
            drop(holder);
            self.nudge();
        }
    }
}

/// A seat as a [`Call`](crate::Call) sees it, whatever the store data.
pub(crate) trait InPlace: Send + Sync {
    /// If the loop is idle, its work (handling the requests waiting, the
    /// caller's own among them) as a future for the caller to run; the
    /// future gives the state back when done. It holds every instance: it
    /// must be run to the end, never dropped.
    fn serve_in_place(self: Arc<Self>) -> Option<BoxFuture<'static, ()>>;
}

impl<T: WasyncView> InPlace for Seat<T> {
    fn serve_in_place(self: Arc<Self>) -> Option<BoxFuture<'static, ()>> {
        let here = tokio::runtime::Handle::try_current();
        if !here.is_ok_and(|h| h.id() == self.runtime) {
            return None;
        }
        let mut state = {
            let mut holder = self.lock();
            match std::mem::replace(&mut *holder, Holder::Lent) {
                Holder::Free(state) => state,
                other => {
                    *holder = other;
                    return None;
                }
            }
        };
        Some(Box::pin(async move {
            state.serve().await;
            self.give_back(state);
        }))
    }
}

/// The drivers' end of the loop's channel. Every send nudges the loop
/// task; dropping the last one closes the channel and nudges it too, so
/// that an idle loop ends when every driver is gone.
pub(crate) struct Link<T: WasyncView> {
    tx: Option<mpsc::UnboundedSender<Request<T>>>,
    seat: Arc<Seat<T>>,
}

impl<T: WasyncView> Link<T> {
    pub(crate) fn new(tx: mpsc::UnboundedSender<Request<T>>, seat: Arc<Seat<T>>) -> Link<T> {
        Link { tx: Some(tx), seat }
    }

    /// Sends `req` to whoever holds the loop's state; `Err` if the loop
    /// has stopped.
    pub(crate) fn send(&self, req: Request<T>) -> Result<(), ()> {
        let sent = self.tx.as_ref().ok_or(())?.send(req).map_err(|_| ());
        self.seat.nudge();
        sent
    }
}

impl<T: WasyncView> Drop for Link<T> {
    fn drop(&mut self) {
        // Closed first, so that the loop task sees it closed once nudged.
        drop(self.tx.take());
        self.seat.nudge();
    }
}
