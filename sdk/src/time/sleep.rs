//! [`Sleep`]: a future that completes at a deadline.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use super::Instant;
use crate::runtime::{self, poll_proceed};
use crate::time::wheel::Key;

/// Waits until `duration` has passed.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wasync::time::{Instant, sleep};
///
/// wasync::block_on(async {
///     let start = Instant::now();
///     sleep(Duration::from_millis(20)).await;
///     assert!(start.elapsed() >= Duration::from_millis(20));
/// });
/// ```
pub fn sleep(duration: Duration) -> Sleep {
    sleep_until(Instant::now() + duration)
}

/// Waits until `deadline`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wasync::time::{Instant, sleep_until};
///
/// wasync::block_on(async {
///     let deadline = Instant::now() + Duration::from_millis(10);
///     sleep_until(deadline).await;
///     assert!(Instant::now() >= deadline);
/// });
/// ```
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        deadline,
        key: None,
        done: false,
    }
}

/// The future of [`sleep`] and [`sleep_until`].
///
/// It enters the timer wheel on its first `Pending` poll and leaves it when
/// it completes or is dropped.
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct Sleep {
    deadline: Instant,
    key: Option<Key>,
    done: bool,
}

impl Sleep {
    /// The deadline.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wasync::time::{Instant, sleep_until};
    ///
    /// let at = Instant::now() + Duration::from_millis(5);
    /// assert_eq!(sleep_until(at).deadline(), at);
    /// ```
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Whether the deadline has been reached (as seen by the last poll).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let mut s = wasync::time::sleep(Duration::from_millis(1));
    /// assert!(!s.is_elapsed());
    /// wasync::block_on(&mut s);
    /// assert!(s.is_elapsed());
    /// ```
    pub fn is_elapsed(&self) -> bool {
        self.done
    }

    /// Moves the deadline, re-arming a completed sleep.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wasync::time::{Instant, sleep};
    ///
    /// wasync::block_on(async {
    ///     let mut s = sleep(Duration::from_millis(1));
    ///     (&mut s).await;
    ///     let later = Instant::now() + Duration::from_millis(5);
    ///     s.reset(later);
    ///     s.await;
    ///     assert!(Instant::now() >= later);
    /// });
    /// ```
    pub fn reset(&mut self, deadline: Instant) {
        self.deregister();
        self.deadline = deadline;
        self.done = false;
    }

    fn deregister(&mut self) {
        if let Some(key) = self.key.take() {
            let waker = runtime::try_with(|rt| {
                let waker = rt.timers.remove(key);
                #[cfg(any(not(target_family = "wasm"), feature = "native"))]
                rt.timers_changed();
                waker
            })
            .flatten();
            drop(waker);
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.done {
            return Poll::Ready(());
        }
        runtime::assert_in_runtime("wasync::time::Sleep");
        ready!(poll_proceed(cx));
        let deadline = self.deadline.as_nanos();
        let fired = match self.key {
            None => runtime::with(|rt| match rt.timers.register(deadline, cx.waker()) {
                None => true,
                Some(key) => {
                    self.key = Some(key);
                    #[cfg(any(not(target_family = "wasm"), feature = "native"))]
                    rt.timers_changed();
                    false
                }
            }),
            Some(key) => {
                let waker = runtime::with(|rt| {
                    if rt.timers.is_fired(key) {
                        Some(rt.timers.remove(key))
                    } else {
                        rt.timers.set_waker(key, cx.waker());
                        None
                    }
                });
                match waker {
                    Some(old) => {
                        drop(old);
                        self.key = None;
                        true
                    }
                    None => false,
                }
            }
        };
        if fired {
            self.done = true;
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.deregister();
    }
}

#[cfg(test)]
mod tests {
    use super::Sleep;

    #[test]
    fn a_sleep_takes_sixteen_bytes() {
        // Every task of a timer storm holds one: its size is the cells'
        // memory, which a fresh instance faults in page by page.
        assert_eq!(std::mem::size_of::<Sleep>(), 16);
    }
}
