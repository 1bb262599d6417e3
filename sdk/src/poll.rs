//! Awaiting any `wasi:io/poll.pollable`: streams, incoming HTTP responses,
//! clocks, or pollables of custom WIT resources.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use crate::backend;
pub use crate::backend::Pollable;
use crate::runtime::{self, poll_proceed};

/// Waits until the host reports `pollable` ready.
///
/// Every future waiting on some pollable shares the instance's single
/// `wasi:io/poll.poll` call per turn, and several futures waiting on the
/// same pollable share one entry of its list. Dropping the future removes
/// its registration at once.
///
/// The pollable must outlive the future, which borrows it. (Leaking the
/// future with `mem::forget` and then dropping the pollable leaves a stale
/// handle in the poll list: a logic error that makes the host trap, never
/// undefined behaviour.)
///
/// # Examples
///
/// Natively the pollables are simulated (see [`crate::sim`]):
///
/// ```
/// use std::time::Duration;
/// use wasync::sim::Pollable;
///
/// let ready_soon = Pollable::ready_after(Duration::from_millis(3));
/// wasync::block_on(wasync::wait_for(&ready_soon));
/// assert!(ready_soon.is_ready());
/// ```
pub fn wait_for(pollable: &Pollable) -> WaitFor<'_> {
    WaitFor {
        pollable,
        wait: Registration::default(),
    }
}

/// The future of [`wait_for`].
///
/// # Examples
///
/// ```
/// let p = wasync::sim::Pollable::new();
/// p.set_ready();
/// let wait: wasync::WaitFor<'_> = wasync::wait_for(&p);
/// wasync::block_on(wait);
/// ```
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct WaitFor<'a> {
    pollable: &'a Pollable,
    wait: Registration,
}

impl Future for WaitFor<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let handle = backend::handle(self.pollable);
        self.wait.poll_ready(handle, cx)
    }
}

/// One wait on a pollable, for types that own the pollable they wait on
/// (streams, HTTP bodies) and so cannot hold a [`WaitFor`] that borrows it.
///
/// Between a `Pending` and the next poll the registration stays in the
/// registry; once the host reports the pollable ready, `poll_ready` returns
/// `Ready` once, and a later call waits anew. Dropping it deregisters.
/// Whoever owns the pollable must drop this registration first (declare it
/// before the pollable, as struct fields drop in order).
#[derive(Debug, Default)]
pub(crate) struct Registration {
    waiter: Option<usize>,
}

impl Registration {
    /// Waits for the pollable whose handle is `handle`.
    pub(crate) fn poll_ready(&mut self, handle: u32, cx: &mut Context<'_>) -> Poll<()> {
        runtime::assert_in_runtime("wasync::wait_for");
        ready!(poll_proceed(cx));
        match self.waiter {
            None => {
                let w = runtime::with(|rt| rt.registry.register(handle, cx.waker().clone()));
                self.waiter = Some(w);
                Poll::Pending
            }
            Some(w) => {
                let fired = runtime::with(|rt| {
                    if rt.registry.is_fired(w) {
                        Some(rt.registry.remove(w))
                    } else {
                        rt.registry.set_waker(w, cx.waker());
                        None
                    }
                });
                match fired {
                    Some(old_waker) => {
                        // Dropped outside the runtime borrow.
                        drop(old_waker);
                        self.waiter = None;
                        Poll::Ready(())
                    }
                    None => Poll::Pending,
                }
            }
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Some(w) = self.waiter.take() {
            let waker = runtime::try_with(|rt| rt.registry.remove(w)).flatten();
            drop(waker);
        }
    }
}

/// Waits on a pollable by handle, for wasi types that are not the
/// `Pollable` of this build (natively, `wait_for` takes simulated ones).
/// The caller keeps the pollable alive across the wait.
pub(crate) async fn wait_for_handle(handle: u32) {
    let mut wait = Registration::default();
    std::future::poll_fn(|cx| wait.poll_ready(handle, cx)).await;
}
