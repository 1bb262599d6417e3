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
//! - A caller's turn runs in an allocation the seat keeps from one turn to
//!   the next ([`Turn`]), and hands the state back as its output, so that
//!   a call run in place takes the seat's lock twice and allocates nothing
//!   for its turn.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use tokio::sync::{Notify, mpsc};

use crate::event_loop::Loop;
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

/// Who holds the loop's state, and what callers' turns keep between them.
struct Place<T: 'static> {
    holder: Holder<T>,
    /// The allocation of the last turn a caller ran to the end, for the
    /// next (see [`Turn`]).
    spare: Option<Pin<Box<dyn Reload<T>>>>,
}

/// The loop's state between its holders, and the loop task's wake-up.
pub(crate) struct Seat<T: 'static> {
    place: Mutex<Place<T>>,
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
            place: Mutex::new(Place {
                holder: Holder::Task,
                spare: None,
            }),
            nudge: Notify::new(),
            runtime,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Place<T>> {
        self.place.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The loop task lends out its state, which must be idle, unless a
    /// request is waiting: then it gets it back to handle the request.
    pub(crate) fn lend(&self, state: Box<Loop<T>>) -> Result<(), Box<Loop<T>>> {
        let mut place = self.lock();
        if state.has_requests() {
            return Err(state);
        }
        place.holder = Holder::Free(state);
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
            let mut place = self.lock();
            match std::mem::replace(&mut place.holder, Holder::Task) {
                // Still idle with nothing to handle: a caller took its own
                // request in place and gave the state back before this
                // turn. Taking the state only to lend it out again would
                // cost every such call a round of the loop.
                Holder::Free(state) if !state.has_requests() && !state.is_closed() => {
                    place.holder = Holder::Free(state);
                }
                Holder::Free(state) | Holder::Back(state) => return state,
                other => place.holder = other,
            }
        }
    }

    /// Wakes the loop task, after a send on its channel.
    pub(crate) fn nudge(&self) {
        self.nudge.notify_one();
    }

    /// Gives the state back after a caller's turn (with the turn's
    /// allocation, if it ran to the end there): lent out again if the
    /// loop is still idle, else to the loop task.
    fn give_back(&self, mut state: Box<Loop<T>>, turn: Option<Pin<Box<dyn Reload<T>>>>) {
        let mut place = self.lock();
        if turn.is_some() {
            place.spare = turn;
        }
        if state.is_idle() && !state.has_requests() {
            place.holder = Holder::Free(state);
        } else {
            place.holder = Holder::Back(state);
            drop(place);
            self.nudge();
        }
    }

    /// If the loop is idle, takes its state and handles the requests
    /// waiting (the caller's own among them) in the caller's task, then
    /// gives the state back. If an entry waits inside the guest, the rest
    /// of the turn goes on in a task of its own. Does nothing off the
    /// loop task's runtime.
    fn serve_in_place(self: &Arc<Self>, cx: &mut Context<'_>) {
        let here = tokio::runtime::Handle::try_current();
        if !here.is_ok_and(|h| h.id() == self.runtime) {
            return;
        }
        let (state, spare) = {
            let mut place = self.lock();
            match std::mem::replace(&mut place.holder, Holder::Lent) {
                Holder::Free(state) => (state, place.spare.take()),
                other => {
                    place.holder = other;
                    return;
                }
            }
        };
        let mut turn: Pin<Box<dyn Reload<T>>> = match spare {
            Some(mut turn) => {
                turn.as_mut().reload(state);
                turn
            }
            // The first turn: its future is moved into the box once.
            None => Box::pin(Turn {
                work: turn(state),
                make: turn::<T>,
            }),
        };
        match turn.as_mut().poll(cx) {
            Poll::Ready(state) => self.give_back(state, Some(turn)),
            Poll::Pending => {
                // An entry waits inside the guest (a mode S instance's
                // blocking call, say): the turn goes on in a task of its
                // own, so that the host never depends on this call being
                // polled again. It holds every instance: it must run to
                // the end.
                let seat = self.clone();
                drop(tokio::spawn(async move {
                    let state = turn.await;
                    seat.give_back(state, None);
                }));
            }
        }
    }
}

/// A mode C host as a [`Call`](crate::Call) sees it, whatever the store
/// data.
pub(crate) trait CallSide: Send + Sync {
    /// If the loop is idle, runs its work in the caller's task, the
    /// caller's own request among it (see [`Seat`]).
    fn serve_in_place(&self, cx: &mut Context<'_>);

    /// Cancels the call sent under `key`; the loop ignores a key it does
    /// not know.
    fn cancel(&self, key: u64);
}

impl<T: WasyncView> CallSide for Link<T> {
    fn serve_in_place(&self, cx: &mut Context<'_>) {
        self.seat.serve_in_place(cx);
    }

    fn cancel(&self, key: u64) {
        let _ = self.send(Request::Cancel { key });
    }
}

/// A caller's turn: handles what waits, and hands the state on.
async fn turn<T: WasyncView>(mut state: Box<Loop<T>>) -> Box<Loop<T>> {
    state.serve().await;
    state
}

pin_project_lite::pin_project! {
    /// A turn's future in an allocation kept from turn to turn. The future
    /// holds the loop's entry into wasm in place (wasmtime's call future,
    /// about 1.5 KB): a fresh box per call would be too big for the
    /// allocator's per-thread cache, and a reusable box that takes the
    /// future by value copies all of it twice.
    struct Turn<F, M> {
        #[pin]
        work: F,
        make: M,
    }
}

/// A [`Turn`], whatever its future's type. It ends with the state.
trait Reload<T: 'static>: Future<Output = Box<Loop<T>>> + Send {
    /// Starts a new turn in place of the last one, which has ended.
    fn reload(self: Pin<&mut Self>, state: Box<Loop<T>>);
}

impl<T: 'static, F, M> Reload<T> for Turn<F, M>
where
    F: Future<Output = Box<Loop<T>>> + Send,
    M: Fn(Box<Loop<T>>) -> F + Send,
{
    fn reload(self: Pin<&mut Self>, state: Box<Loop<T>>) {
        let mut this = self.project();
        this.work.set((this.make)(state));
    }
}

impl<F: Future, M> Future for Turn<F, M> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().work.poll(cx)
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
