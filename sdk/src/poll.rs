//! Awaiting any `wasi:io/poll.pollable`: streams, incoming HTTP responses,
//! clocks, or pollables of custom WIT resources.
//!
//! Mode N (WASI 0.3) has no pollables: there, every wait is a 0.3 future,
//! stream or subtask, awaited directly (wasync's tasks and export calls
//! poll them like any other future), and [`wait_for`] is a compile error
//! that says so.

#[cfg(all(target_family = "wasm", feature = "native"))]
pub use mode_n::{NotInModeN, WaitFor, wait_for};
#[cfg(all(target_family = "wasm", feature = "native"))]
pub use wasip2::io::poll::Pollable;

#[cfg(any(not(target_family = "wasm"), not(feature = "native")))]
pub use mode_s_c::*;

#[cfg(any(not(target_family = "wasm"), not(feature = "native")))]
mod mode_s_c {
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
}

/// Mode N: `wait_for` exists only to fail the build with a message.
#[cfg(all(target_family = "wasm", feature = "native"))]
mod mode_n {
    use std::future::Future;
    use std::marker::PhantomData;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    /// Implemented by nothing: what makes [`wait_for`] a compile error in
    /// mode N.
    ///
    /// # Examples
    ///
    /// The mode N equivalent of waiting on a pollable is awaiting the 0.3
    /// future itself:
    ///
    /// ```no_run
    /// # async fn demo() {
    /// wasip3::clocks::monotonic_clock::wait_for(1_000_000).await;
    /// # }
    /// ```
    #[diagnostic::on_unimplemented(
        message = "`wasync::wait_for` does not exist in mode N: WASI 0.3 has no pollables",
        label = "a WASI 0.2 pollable cannot be awaited in a native WASI 0.3 component",
        note = "in mode N, `.await` the 0.3 future, stream read or async import itself (for example `wasip3::clocks::monotonic_clock::wait_for(ns)`); wasync's tasks and export calls poll it like any other future"
    )]
    pub trait NotInModeN {}

    /// Mode N: a compile error; see [`NotInModeN`].
    ///
    /// # Examples
    ///
    /// ```compile_fail
    /// # async fn demo() {
    /// let p = wasip2::clocks::monotonic_clock::subscribe_duration(0);
    /// wasync::wait_for(&p).await; // error: does not exist in mode N
    /// # }
    /// ```
    pub fn wait_for<P: NotInModeN + ?Sized>(_pollable: &P) -> WaitFor<'_> {
        WaitFor(PhantomData)
    }

    /// The future [`wait_for`] would return. It never completes.
    ///
    /// # Examples
    ///
    /// ```compile_fail
    /// # async fn demo(p: &wasync::Pollable) {
    /// let never: wasync::WaitFor<'_> = wasync::wait_for(p);
    /// # }
    /// ```
    #[derive(Debug)]
    pub struct WaitFor<'a>(PhantomData<&'a ()>);

    impl Future for WaitFor<'_> {
        type Output = ();

        fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
            Poll::Pending
        }
    }
}
