//! [`timeout`]: a deadline for any future.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;

use super::{Instant, Sleep, sleep_until};

/// The error of a [`Timeout`] whose deadline passed first.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let out = wasync::block_on(wasync::time::timeout(Duration::ZERO, std::future::pending::<()>()));
/// assert_eq!(out.unwrap_err().to_string(), "deadline has elapsed");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed(());

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

/// Runs `future` for at most `duration`. If the deadline passes first the
/// future is dropped (cancelling whatever it was doing) and the result is
/// `Err(Elapsed)`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wasync::time::{sleep, timeout};
///
/// wasync::block_on(async {
///     let fast = timeout(Duration::from_millis(50), async { 7 }).await;
///     assert_eq!(fast, Ok(7));
///     let slow = timeout(Duration::from_millis(5), sleep(Duration::from_secs(9))).await;
///     assert!(slow.is_err());
///     // The loser left nothing behind.
///     assert_eq!(wasync::runtime::stats().live_timers, 0);
/// });
/// ```
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    timeout_at(Instant::now() + duration, future)
}

/// Like [`timeout`], with an absolute deadline.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wasync::time::{Instant, timeout_at};
///
/// let deadline = Instant::now() + Duration::from_millis(1);
/// let out = wasync::block_on(timeout_at(deadline, std::future::pending::<()>()));
/// assert!(out.is_err());
/// ```
pub fn timeout_at<F: Future>(deadline: Instant, future: F) -> Timeout<F> {
    Timeout {
        future,
        sleep: sleep_until(deadline),
    }
}

pin_project! {
    /// The future of [`timeout`].
    #[must_use = "futures do nothing unless polled"]
    #[derive(Debug)]
    pub struct Timeout<F> {
        #[pin]
        future: F,
        sleep: Sleep,
    }
}

impl<F> Timeout<F> {
    /// The wrapped future.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let t = wasync::time::timeout(Duration::from_secs(1), std::future::ready(3));
    /// let _inner: &std::future::Ready<i32> = t.get_ref();
    /// ```
    pub fn get_ref(&self) -> &F {
        &self.future
    }

    /// Gives back the wrapped future.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let t = wasync::time::timeout(Duration::from_secs(1), std::future::ready(3));
    /// assert_eq!(wasync::block_on(t.into_inner()), 3);
    /// ```
    pub fn into_inner(self) -> F {
        self.future
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(v) = this.future.poll(cx) {
            return Poll::Ready(Ok(v));
        }
        match Pin::new(this.sleep).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed(()))),
            Poll::Pending => Poll::Pending,
        }
    }
}
