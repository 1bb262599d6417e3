//! [`Interval`]: ticks at a fixed period.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use super::{Instant, Sleep, sleep_until};

/// What an [`Interval`] does when ticks were missed (the task was busy
/// past one or more tick times).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wasync::time::{MissedTickBehavior, interval};
///
/// let mut every = interval(Duration::from_millis(10));
/// every.set_missed_tick_behavior(MissedTickBehavior::Delay);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissedTickBehavior {
    /// Fire the missed ticks back to back, then continue on the original
    /// schedule.
    #[default]
    Burst,
    /// Fire once now, then continue one period after now.
    Delay,
    /// Fire once now, then continue at the next tick of the original
    /// schedule.
    Skip,
}

impl MissedTickBehavior {
    fn next(self, missed: Instant, now: Instant, period: Duration) -> Instant {
        match self {
            MissedTickBehavior::Burst => missed + period,
            MissedTickBehavior::Delay => now + period,
            MissedTickBehavior::Skip => {
                let period_ns = period.as_nanos().max(1);
                let behind = (now - missed).as_nanos() % period_ns;
                now + period - Duration::from_nanos(behind as u64)
            }
        }
    }
}

/// Ticks every `period`, the first tick at once.
///
/// # Panics
///
/// Panics if `period` is zero.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wasync::time::{Instant, interval};
///
/// wasync::block_on(async {
///     let start = Instant::now();
///     let mut every = interval(Duration::from_millis(10));
///     for _ in 0..3 {
///         every.tick().await;
///     }
///     assert!(start.elapsed() >= Duration::from_millis(20));
/// });
/// ```
#[track_caller]
pub fn interval(period: Duration) -> Interval {
    interval_at(Instant::now(), period)
}

/// Ticks every `period`, the first tick at `start`.
///
/// # Panics
///
/// Panics if `period` is zero.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wasync::time::{Instant, interval_at};
///
/// wasync::block_on(async {
///     let start = Instant::now() + Duration::from_millis(5);
///     let mut every = interval_at(start, Duration::from_millis(10));
///     assert_eq!(every.tick().await, start);
/// });
/// ```
#[track_caller]
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    assert!(
        !period.is_zero(),
        "an interval's period must be more than zero"
    );
    Interval {
        period,
        next: start,
        sleep: sleep_until(start),
        behavior: MissedTickBehavior::default(),
    }
}

/// A stream of ticks; see [`interval`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let mut every: wasync::time::Interval = wasync::time::interval(Duration::from_millis(2));
/// wasync::block_on(every.tick());
/// ```
#[derive(Debug)]
pub struct Interval {
    period: Duration,
    next: Instant,
    sleep: Sleep,
    behavior: MissedTickBehavior,
}

impl Interval {
    /// Waits for the next tick and returns its scheduled time.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let mut every = wasync::time::interval(Duration::from_millis(5));
    /// let (a, b) = wasync::block_on(async { (every.tick().await, every.tick().await) });
    /// assert_eq!(b - a, Duration::from_millis(5));
    /// ```
    pub async fn tick(&mut self) -> Instant {
        poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// The polling form of [`Interval::tick`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let mut every = wasync::time::interval(Duration::from_millis(5));
    /// let first = wasync::block_on(std::future::poll_fn(|cx| every.poll_tick(cx)));
    /// assert!(first <= wasync::time::Instant::now());
    /// ```
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        ready!(Pin::new(&mut self.sleep).poll(cx));
        let scheduled = self.next;
        let now = Instant::now();
        // A tick more than a millisecond (the clock's resolution) late
        // counts as missed.
        self.next = if now > scheduled + Duration::from_millis(1) {
            self.behavior.next(scheduled, now, self.period)
        } else {
            scheduled + self.period
        };
        self.sleep.reset(self.next);
        Poll::Ready(scheduled)
    }

    /// Restarts the schedule one period from now.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wasync::time::{Instant, interval};
    ///
    /// let mut every = interval(Duration::from_millis(5));
    /// every.reset();
    /// let tick = wasync::block_on(every.tick());
    /// assert!(tick >= Instant::now() - Duration::from_millis(5));
    /// ```
    pub fn reset(&mut self) {
        self.next = Instant::now() + self.period;
        self.sleep.reset(self.next);
    }

    /// The period.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// assert_eq!(wasync::time::interval(Duration::from_secs(1)).period(), Duration::from_secs(1));
    /// ```
    pub fn period(&self) -> Duration {
        self.period
    }

    /// The policy for missed ticks.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wasync::time::{MissedTickBehavior, interval};
    ///
    /// assert_eq!(interval(Duration::from_secs(1)).missed_tick_behavior(), MissedTickBehavior::Burst);
    /// ```
    pub fn missed_tick_behavior(&self) -> MissedTickBehavior {
        self.behavior
    }

    /// Sets the policy for missed ticks.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wasync::time::{MissedTickBehavior, interval};
    ///
    /// let mut every = interval(Duration::from_secs(1));
    /// every.set_missed_tick_behavior(MissedTickBehavior::Skip);
    /// assert_eq!(every.missed_tick_behavior(), MissedTickBehavior::Skip);
    /// ```
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.behavior = behavior;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> Instant {
        Instant::from_nanos(ms * 1_000_000)
    }

    #[test]
    fn missed_tick_policies_pick_the_next_deadline() {
        let period = Duration::from_millis(10);
        // The tick due at 100 is seen at 135.
        assert_eq!(
            MissedTickBehavior::Burst.next(at(100), at(135), period),
            at(110)
        );
        assert_eq!(
            MissedTickBehavior::Delay.next(at(100), at(135), period),
            at(145)
        );
        assert_eq!(
            MissedTickBehavior::Skip.next(at(100), at(135), period),
            at(140)
        );
        assert_eq!(
            MissedTickBehavior::Skip.next(at(100), at(140), period),
            at(150)
        );
    }
}
