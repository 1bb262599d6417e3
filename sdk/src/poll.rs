//! Awaiting any `wasi:io/poll.pollable`: streams, incoming HTTP responses,
//! clocks, or pollables of custom WIT resources.
//!
//! [`Pollable`] is wasi's own type on every target, so guest code that
//! waits on a pollable compiles unchanged under a native `cargo check`.
//! Natively, where no WASI host exists, tests wait on the simulated
//! host's pollables ([`crate::sim::Pollable`]) instead: [`wait_for`]
//! accepts either (see [`Waitable`]).
//!
//! Mode N (WASI 0.3) has no pollables: there, every wait is a 0.3 future,
//! stream or subtask, awaited directly (wasync's tasks and export calls
//! poll them like any other future), and [`wait_for`] is a compile error
//! that says so.

#[cfg(all(target_family = "wasm", feature = "native"))]
pub use mode_n::{NotInModeN, WaitFor, wait_for};

/// `wasi:io/poll.pollable`, the type WASI 0.2 bindings return from every
/// `subscribe`: the same type on every target.
pub use wasip2::io::poll::Pollable;

/// What [`wait_for`] accepts: wasi's [`Pollable`] on every target, and
/// natively the simulated host's [`crate::sim::Pollable`] (also behind a
/// reference, `Box`, `Rc` or `Arc`).
///
/// Sealed: a pollable is a handle that only the host can make ready.
///
/// # Examples
///
/// ```
/// fn wait_twice<P: wasync::poll::Waitable>(p: &P) -> impl Future<Output = ()> + '_ {
///     async move {
///         wasync::wait_for(p).await;
///         wasync::wait_for(p).await; // still ready
///     }
/// }
///
/// let p = wasync::sim::Pollable::new();
/// p.set_ready();
/// wasync::block_on(wait_twice(&p));
/// ```
pub trait Waitable: sealed::Sealed {
    /// The handle the host knows this pollable by.
    #[doc(hidden)]
    fn waitable_handle(&self) -> u32;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Pollable {}
    #[cfg(not(target_family = "wasm"))]
    impl Sealed for crate::sim::Pollable {}
    impl<P: Sealed + ?Sized> Sealed for &P {}
    impl<P: Sealed + ?Sized> Sealed for Box<P> {}
    impl<P: Sealed + ?Sized> Sealed for std::rc::Rc<P> {}
    impl<P: Sealed + ?Sized> Sealed for std::sync::Arc<P> {}
}

impl Waitable for Pollable {
    fn waitable_handle(&self) -> u32 {
        self.handle()
    }
}

#[cfg(not(target_family = "wasm"))]
impl Waitable for crate::sim::Pollable {
    fn waitable_handle(&self) -> u32 {
        self.handle()
    }
}

/// A pollable behind a pointer waits like the pollable itself.
macro_rules! waitable_through {
    ($($ty:ty),*) => {$(
        impl<P: Waitable + ?Sized> Waitable for $ty {
            fn waitable_handle(&self) -> u32 {
                (**self).waitable_handle()
            }
        }
    )*};
}

waitable_through!(&P, Box<P>, std::rc::Rc<P>, std::sync::Arc<P>);

#[cfg(any(not(target_family = "wasm"), not(feature = "native")))]
pub use mode_s_c::*;

#[cfg(any(not(target_family = "wasm"), not(feature = "native")))]
mod mode_s_c {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll, ready};

    use super::{Pollable, Waitable};
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
    /// In a guest, wait on what a wasi `subscribe` returned; this compiles
    /// on every target (natively, for `cargo check`):
    ///
    /// ```no_run
    /// # async fn demo(stream: wasip2::io::streams::InputStream) {
    /// let ready: wasync::Pollable = stream.subscribe();
    /// wasync::wait_for(&ready).await;
    /// let bytes = stream.read(1024);
    /// # }
    /// ```
    ///
    /// Natively (in tests) the host is simulated (see [`crate::sim`]):
    ///
    /// ```
    /// use std::time::Duration;
    /// use wasync::sim::Pollable;
    ///
    /// let ready_soon = Pollable::ready_after(Duration::from_millis(3));
    /// wasync::block_on(wasync::wait_for(&ready_soon));
    /// assert!(ready_soon.is_ready());
    /// ```
    pub fn wait_for<P: Waitable + ?Sized>(pollable: &P) -> WaitFor<'_, P> {
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
    /// let wait: wasync::WaitFor<'_, wasync::sim::Pollable> = wasync::wait_for(&p);
    /// wasync::block_on(wait);
    /// ```
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct WaitFor<'a, P: ?Sized = Pollable> {
        pollable: &'a P,
        wait: Registration,
    }

    impl<P: Waitable + ?Sized> Future for WaitFor<'_, P> {
        type Output = ();

        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            let handle = self.pollable.waitable_handle();
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
