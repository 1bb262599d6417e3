//! Who holds the mode C event loop's state (every instance's store and the
//! loop's books): the loop task, or a caller that runs the loop's work in
//! its own task while the loop is idle.
//!
//! A call through the loop task costs a hand-off to it and back, and a park
//! of the runtime in between; a call that finishes in its `f-start` needs
//! neither when nothing else waits on the instances.
//!
//! Ground rules:
//! - The state has one holder at a time. Every request joins the seat's
//!   queue at once, in order, whoever then handles it. The queue sits
//!   under the same lock as the holder, so that taking the state and the
//!   requests waiting for it, or giving it back once none wait, is one
//!   lock.
//! - The loop task lends the state out only when it is idle (no call in
//!   flight, nothing parked, no event to handle, no request waiting). Then
//!   a [`Call`](crate::Call), at its first poll, may take it and handle
//!   what waits in the queue (its own request among them) exactly as the
//!   loop task would, in its own task. If an entry waits inside the guest,
//!   the work moves to a task of its own: the host never depends on a
//!   caller polling its call again.
//! - Whoever holds the state handles every request in the queue before
//!   it lets go. It lends the state out again only if the loop is still
//!   idle; otherwise it gives it back to the loop task (and wakes it),
//!   which alone waits on pollables and deadlines.
//! - Every request nudges the loop task, so a request whose
//!   [`Call`](crate::Call) is never polled is handled all the same. A
//!   request after one that nudged it need not, until the loop task takes
//!   that nudge: then it looks at the queue under the lock, after it.
//! - Once the loop task has ended (or its runtime dropped it), requests
//!   are refused, and those still queued are dropped, so that their
//!   callers learn the loop has stopped instead of waiting for ever.
//! - A caller's turn runs in an allocation the seat keeps from one turn to
//!   the next ([`Turn`]), and hands the state back as its output, so that
//!   a call run in place allocates nothing for its turn.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use tokio::sync::Notify;

use crate::event_loop::Loop;
use crate::shared::{Request, Shared};
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

/// A caller's turn, boxed once and kept from turn to turn (see [`Turn`]).
type TurnBox<T> = Pin<Box<dyn Reload<T>>>;

/// Who holds the loop's state, the requests waiting for it, and what
/// callers' turns keep between them.
struct Place<T: 'static> {
    holder: Holder<T>,
    /// Requests sent and not yet taken by the state's holder, in order.
    queue: VecDeque<Request<T>>,
    /// Every driver (and every [`Call`](crate::Call)) is gone.
    closed: bool,
    /// The loop task has ended: nothing will handle a request any more.
    stopped: bool,
    /// A request nudged the loop task, which has not taken a nudge since:
    /// the next request need not nudge it again (an atomic operation per
    /// call, where this flag is free under the lock `send` holds anyway).
    nudged: bool,
    /// The allocation of the last turn a caller ran to the end, for the
    /// next (see [`Turn`]).
    spare: Option<TurnBox<T>>,
}

/// What the loop task's offer to lend its idle state out came to.
pub(crate) enum Lend<T: 'static> {
    /// Lent out.
    Lent,
    /// Requests were waiting: they are in the state's inbox now.
    Busy(Box<Loop<T>>),
    /// Every driver is gone and nothing waits: the loop is over.
    Over(Box<Loop<T>>),
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
                queue: VecDeque::new(),
                closed: false,
                stopped: false,
                nudged: false,
                spare: None,
            }),
            nudge: Notify::new(),
            runtime,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Place<T>> {
        self.place.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `req` for whoever holds the state, and nudges the loop
    /// task; `Err` if the loop task has ended.
    fn send(&self, req: Request<T>) -> Result<(), ()> {
        let (refused, nudge) = {
            let mut place = self.lock();
            if place.stopped {
                (Some(req), false)
            } else {
                place.queue.push_back(req);
                (None, !std::mem::replace(&mut place.nudged, true))
            }
        };
        if refused.is_some() {
            // Dropped outside the lock: a request's reply wakes its caller.
            return Err(());
        }
        if nudge {
            self.nudge();
        }
        Ok(())
    }

    /// The loop task, with nothing to wait for, offers its idle state to
    /// callers: lent out unless requests wait (then they go into the
    /// state's inbox, for the loop task) or every driver is gone.
    pub(crate) fn lend(&self, mut state: Box<Loop<T>>) -> Lend<T> {
        let mut place = self.lock();
        if !place.queue.is_empty() {
            state.receive(&mut place.queue);
            return Lend::Busy(state);
        }
        if place.closed {
            return Lend::Over(state);
        }
        place.holder = Holder::Free(state);
        Lend::Lent
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
            self.nudged().await;
            let mut place = self.lock();
            place.nudged = false;
            let Place {
                holder,
                queue,
                closed,
                ..
            } = &mut *place;
            match std::mem::replace(holder, Holder::Task) {
                // Still idle with nothing to handle: a caller took its own
                // request in place and gave the state back before this
                // turn. Taking the state only to lend it out again would
                // cost every such call a round of the loop.
                Holder::Free(state) if queue.is_empty() && !*closed => {
                    *holder = Holder::Free(state);
                }
                Holder::Free(mut state) | Holder::Back(mut state) => {
                    state.receive(queue);
                    return state;
                }
                other => *holder = other,
            }
        }
    }

    /// Waits for a nudge (see [`Seat::nudge`]).
    pub(crate) async fn nudged(&self) {
        self.nudge.notified().await;
    }

    /// The loop task, nudged while it holds the state, takes the requests
    /// waiting into the state's inbox. `false` if there were none and every
    /// driver is gone: the loop is over.
    pub(crate) fn take_requests(&self, state: &mut Loop<T>) -> bool {
        let mut place = self.lock();
        place.nudged = false;
        state.receive(&mut place.queue);
        !place.closed || state.has_requests()
    }

    /// Wakes the loop task, after a request or a state given back.
    pub(crate) fn nudge(&self) {
        self.nudge.notify_one();
    }

    /// The loop task has ended (or was dropped with its runtime): refuses
    /// requests from now on, and drops those still queued and a state left
    /// idle in the seat, so that their callers learn the loop stopped.
    pub(crate) fn stop(&self) {
        let (queue, holder) = {
            let mut place = self.lock();
            place.stopped = true;
            let queue = std::mem::take(&mut place.queue);
            let holder = match std::mem::replace(&mut place.holder, Holder::Task) {
                // A caller's turn gives it back when it ends.
                Holder::Lent => {
                    place.holder = Holder::Lent;
                    None
                }
                other => Some(other),
            };
            (queue, holder)
        };
        // Dropped outside the lock: replies wake callers, and a store's
        // drop may take a while.
        drop(queue);
        drop(holder);
    }

    /// After a turn that waited inside the guest, gives the state back
    /// (see [`Seat::release`]), unless requests came meanwhile: then they
    /// are in the state's inbox, and the holder keeps the state to handle
    /// them.
    fn give_back(&self, mut state: Box<Loop<T>>) -> Option<Box<Loop<T>>> {
        let mut place = self.lock();
        if !place.queue.is_empty() {
            state.receive(&mut place.queue);
            return Some(state);
        }
        self.release(place, state);
        None
    }

    /// [`Seat::give_back`] after a turn that ran to the end in the
    /// caller's task: the turn's allocation is kept for the next.
    fn end_turn(
        &self,
        mut state: Box<Loop<T>>,
        turn: TurnBox<T>,
    ) -> Option<(Box<Loop<T>>, TurnBox<T>)> {
        let mut place = self.lock();
        if !place.queue.is_empty() {
            state.receive(&mut place.queue);
            return Some((state, turn));
        }
        place.spare = Some(turn);
        self.release(place, state);
        None
    }

    /// Gives the state back, no request waiting: lent out again if the
    /// loop is still idle, else to the loop task (nudged).
    fn release(&self, mut place: MutexGuard<'_, Place<T>>, mut state: Box<Loop<T>>) {
        if place.stopped {
            // Nobody would take it back: dropped outside the lock.
            drop(place);
            drop(state);
        } else if state.is_idle() {
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
                Holder::Free(mut state) => {
                    state.receive(&mut place.queue);
                    (state, place.spare.take())
                }
                other => {
                    place.holder = other;
                    return;
                }
            }
        };
        let mut turn: TurnBox<T> = match spare {
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
        loop {
            match turn.as_mut().poll(cx) {
                Poll::Ready(done) => match self.end_turn(done, turn) {
                    // Requests came during the turn: one more.
                    Some((more, again)) => {
                        turn = again;
                        turn.as_mut().reload(more);
                    }
                    None => return,
                },
                Poll::Pending => {
                    // An entry waits inside the guest (a mode S instance's
                    // blocking call, say): the turn goes on in a task of its
                    // own, so that the host never depends on this call being
                    // polled again. It holds every instance: it must run to
                    // the end.
                    let seat = self.clone();
                    drop(tokio::spawn(async move {
                        let mut state = turn.await;
                        while let Some(more) = seat.give_back(state) {
                            state = more;
                            state.serve().await;
                        }
                    }));
                    return;
                }
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

    /// Gives back the place a call held among the host's calls in flight.
    fn give_back_place(&self);
}

impl<T: WasyncView> CallSide for Link<T> {
    fn serve_in_place(&self, cx: &mut Context<'_>) {
        self.seat.serve_in_place(cx);
    }

    fn cancel(&self, key: u64) {
        let _ = self.send(Request::Cancel { key });
    }

    fn give_back_place(&self) {
        self.shared.in_flight.fetch_sub(1, Ordering::AcqRel);
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

/// The drivers' side of the seat. Every request nudges the loop task;
/// dropping the last link (with the last driver and [`Call`](crate::Call))
/// closes the queue and nudges it too, so that an idle loop ends when
/// every driver is gone.
pub(crate) struct Link<T: WasyncView> {
    seat: Arc<Seat<T>>,
    /// For the count of calls in flight, which each call's place in it
    /// gives back through its link.
    shared: Arc<Shared>,
}

impl<T: WasyncView> Link<T> {
    pub(crate) fn new(seat: Arc<Seat<T>>, shared: Arc<Shared>) -> Link<T> {
        Link { seat, shared }
    }

    /// Sends `req` to whoever holds the loop's state; `Err` if the loop
    /// has stopped.
    pub(crate) fn send(&self, req: Request<T>) -> Result<(), ()> {
        self.seat.send(req)
    }
}

impl<T: WasyncView> Drop for Link<T> {
    fn drop(&mut self) {
        // Closed first, so that the loop task sees it closed once nudged.
        self.seat.lock().closed = true;
        self.seat.nudge();
    }
}
