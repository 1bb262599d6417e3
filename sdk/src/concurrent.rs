//! Mode C: the guest side of the wasync ABI. The glue that
//! `#[async_export]` and `wasync::generate!` emit calls these functions;
//! authors never do.
//!
//! Ground rules (see docs/abi.md for the whole protocol):
//! - An entry never blocks. Every entry (`start`, `finish`, `wake`,
//!   `cancel`, and [`plain`] around plain exports, constructors and
//!   resource destructors) runs every runnable task until none is left,
//!   then *parks*: it tells the host what the instance waits on and which
//!   calls finished. So any entry can finish calls other than its own, and
//!   the host learns of it before the entry returns.
//! - A park is skipped when nothing changed since the last one, because the
//!   host still holds the previous list and every handle in it is alive.
//! - Call ids count up and wrap; an id is never live twice at once.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use crate::backend;
use crate::runtime::{self, AbortHandle, DriveGuard, JoinHandle};

struct Calls {
    next: u32,
    /// The task of each live call: a way to abort it, and its boxed
    /// `JoinHandle<T>`.
    live: HashMap<u32, (AbortHandle, Box<dyn Any>)>,
}

thread_local! {
    static CALLS: RefCell<Calls> = RefCell::new(Calls {
        next: 1,
        live: HashMap::new(),
    });
    /// Set while the body of a [`plain`] entry runs.
    static IN_PLAIN: Cell<bool> = const { Cell::new(false) };
}

fn next_id() -> u32 {
    CALLS.with(|c| {
        let mut c = c.borrow_mut();
        loop {
            let id = c.next;
            // Never 0: the runtime marks tasks of no call with it.
            c.next = c.next.wrapping_add(1).max(1);
            if !c.live.contains_key(&id) {
                return id;
            }
        }
    })
}

/// Runs everything runnable, then parks.
fn settle() {
    runtime::run_until_idle();
    runtime::park();
}

/// Takes the output of a finished task.
fn output<T: 'static>(handle: JoinHandle<T>) -> Option<T> {
    let mut handle = pin!(handle);
    match handle
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(Ok(v)) => Some(v),
        _ => None,
    }
}

/// `f-start`: polls the call once and, unless that finished it, spawns it
/// as a task; runs until nothing is runnable, and returns `Ok(result)` if
/// the call finished or `Err(call_id)` for the host to finish it later.
///
/// # Panics
///
/// Panics (trapping the instance) if the runtime is already running, which
/// only a guest calling its own export could cause.
pub fn start<F>(future: F) -> Result<F::Output, u32>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let _guard = DriveGuard::enter("a mode C export");
    // Boxed before its first poll, so that a call still pending afterwards
    // can move into a task; a call that finishes costs this box instead of
    // a task's cell, slot, queue turn and join.
    let mut future = Box::pin(future);
    if let Some(Poll::Ready(out)) = runtime::poll_first(future.as_mut()) {
        // What the call woke or spawned runs before the entry returns.
        settle();
        return Ok(out);
    }
    let id = next_id();
    let handle = match runtime::spawn_call(id, future) {
        Ok(h) => h,
        Err(e) => panic!("cannot start call {id}: {e}"),
    };
    runtime::run_until_idle();
    let result = if runtime::take_finished(id) {
        match output(handle) {
            Some(v) => Ok(v),
            None => unreachable!("a finished call has an output"),
        }
    } else {
        let abort = handle.abort_handle();
        CALLS.with(|c| c.borrow_mut().live.insert(id, (abort, Box::new(handle))));
        Err(id)
    };
    runtime::park();
    result
}

/// `f-finish`: the result of a call the host learned had finished.
///
/// # Panics
///
/// Panics (trapping the instance) if `call_id` is not a finished call of
/// this result type: the host broke the protocol.
pub fn finish<T: 'static>(call_id: u32) -> T {
    let _guard = DriveGuard::enter("a mode C export");
    let handle = CALLS.with(|c| c.borrow_mut().live.remove(&call_id));
    let Some((_, handle)) = handle else {
        panic!("wasync ABI violation: `finish` for call {call_id}, which is not a live call");
    };
    let handle = match handle.downcast::<JoinHandle<T>>() {
        Ok(h) => *h,
        Err(_) => panic!("wasync ABI violation: `finish` for call {call_id} of another function"),
    };
    if !handle.is_finished() {
        panic!("wasync ABI violation: `finish` for call {call_id} before it finished");
    }
    let value = output(handle).expect("a finished, unaborted call has an output");
    settle();
    value
}

/// A plain export, a resource constructor or a resource destructor: runs
/// `body`, then, as every entry does, everything it made runnable, and
/// parks if that changed what the instance waits on or finished calls.
/// Without this, a task the body woke would not run until some other entry
/// (and a call it finished would hang), and a timer pollable the body
/// dropped would stay in the host's parked list.
///
/// Called while another entry runs, it is no entry of its own and only
/// runs `body`: a task, or the body of another plain entry, dropping a
/// handle of the guest's own resource runs its destructor right there, and
/// must not have other tasks run in the middle of its code.
pub fn plain<R>(body: impl FnOnce() -> R) -> R {
    struct Leave;
    impl Drop for Leave {
        fn drop(&mut self) {
            IN_PLAIN.with(|p| p.set(false));
        }
    }
    if IN_PLAIN.with(|p| p.replace(true)) {
        return body();
    }
    let out = {
        let _leave = Leave;
        body()
    };
    if let Some(_guard) = DriveGuard::try_enter() {
        settle();
    }
    out
}

/// `wasync:abi/guest.wake`: `ready` are positions in the last parked list.
pub fn wake(ready: &[u32]) {
    let _guard = DriveGuard::enter("wasync:abi/guest.wake");
    runtime::apply_ready(ready);
    settle();
}

/// `wasync:abi/guest.cancel`: drops the call's future, and with it whatever
/// it awaited (imported calls are cancelled in turn). Unknown ids are
/// ignored: the call may have finished and been reported already.
pub fn cancel(call_id: u32) {
    let _guard = DriveGuard::enter("wasync:abi/guest.cancel");
    let handle = CALLS.with(|c| c.borrow_mut().live.remove(&call_id));
    if let Some((abort, handle)) = handle {
        // Abort first: dropping a JoinHandle alone would only detach.
        abort.abort();
        drop(handle);
    }
    // A call that finished but was not reported yet must not be reported.
    runtime::take_finished(call_id);
    settle();
}

/// Awaits an imported mode C call that returned `err(id)` from its
/// `g-start`, then fetches its result with `finish`. Dropping the future
/// before then cancels the call in the component that serves it.
pub async fn imported<R>(id: u32, finish: fn(u32) -> R) -> R {
    struct CancelOnDrop(Option<u32>);
    impl Drop for CancelOnDrop {
        fn drop(&mut self) {
            if let Some(id) = self.0 {
                backend::cancel_call(id);
            }
        }
    }
    let mut guard = CancelOnDrop(Some(id));
    {
        // The pollable is dropped before the call is finished or cancelled.
        let done = backend::subscribe_call(id);
        crate::wait_for(&done).await;
    }
    guard.0 = None;
    finish(id)
}
