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
        waiter: None,
        done: false,
    }
}

/// The future of [`wait_for`].
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct WaitFor<'a> {
    pollable: &'a Pollable,
    waiter: Option<usize>,
    done: bool,
}

impl Future for WaitFor<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.done {
            return Poll::Ready(());
        }
        runtime::assert_in_runtime("wasync::wait_for");
        ready!(poll_proceed(cx));
        let fired = match self.waiter {
            None => {
                let handle = backend::handle(self.pollable);
                let w = runtime::with(|rt| rt.registry.register(handle, cx.waker().clone()));
                self.waiter = Some(w);
                None
            }
            Some(w) => runtime::with(|rt| {
                if rt.registry.is_fired(w) {
                    Some(rt.registry.remove(w))
                } else {
                    rt.registry.set_waker(w, cx.waker());
                    None
                }
            }),
        };
        match fired {
            Some(old_waker) => {
                drop(old_waker);
                self.waiter = None;
                self.done = true;
                Poll::Ready(())
            }
            None => Poll::Pending,
        }
    }
}

impl Drop for WaitFor<'_> {
    fn drop(&mut self) {
        if let Some(w) = self.waiter.take() {
            let waker = runtime::try_with(|rt| rt.registry.remove(w)).flatten();
            drop(waker);
        }
    }
}
