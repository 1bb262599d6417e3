//! A point on the host's monotonic clock.

use std::fmt;
use std::ops::{Add, AddAssign, Sub, SubAssign};
use std::time::Duration;

use crate::backend;

/// A point on the monotonic clock (`wasi:clocks/monotonic-clock`), in
/// nanoseconds. Natively it reads the simulated clock of [`crate::sim`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wasync::time::Instant;
///
/// let start = Instant::now();
/// let later = start + Duration::from_millis(5);
/// assert_eq!(later - start, Duration::from_millis(5));
/// assert!(later > start);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(u64);

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Instant {
    /// The current time.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = wasync::time::Instant::now();
    /// let b = wasync::time::Instant::now();
    /// assert!(b >= a);
    /// ```
    pub fn now() -> Instant {
        Instant(backend::now_ns())
    }

    /// The instant with this raw monotonic-clock value.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = wasync::time::Instant::from_nanos(42);
    /// assert_eq!(t.as_nanos(), 42);
    /// ```
    pub fn from_nanos(ns: u64) -> Instant {
        Instant(ns)
    }

    /// The raw monotonic-clock value, as `wasi:clocks` reports it.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(wasync::time::Instant::from_nanos(9).as_nanos(), 9);
    /// ```
    pub fn as_nanos(self) -> u64 {
        self.0
    }

    /// Time from `earlier` to `self`, or zero if `earlier` is later.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wasync::time::Instant;
    ///
    /// let a = Instant::from_nanos(10);
    /// let b = Instant::from_nanos(25);
    /// assert_eq!(b.duration_since(a), Duration::from_nanos(15));
    /// assert_eq!(a.duration_since(b), Duration::ZERO);
    /// ```
    pub fn duration_since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    /// Time since `self`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let start = wasync::time::Instant::now();
    /// wasync::block_on(wasync::time::sleep(Duration::from_millis(2)));
    /// assert!(start.elapsed() >= Duration::from_millis(2));
    /// ```
    pub fn elapsed(self) -> Duration {
        Instant::now().duration_since(self)
    }

    /// `self + d`, or `None` on overflow.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wasync::time::Instant;
    ///
    /// assert!(Instant::from_nanos(u64::MAX).checked_add(Duration::from_nanos(1)).is_none());
    /// ```
    pub fn checked_add(self, d: Duration) -> Option<Instant> {
        self.0.checked_add(nanos(d)).map(Instant)
    }

    /// `self - d`, or `None` before the clock's origin.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wasync::time::Instant;
    ///
    /// assert_eq!(Instant::from_nanos(5).checked_sub(Duration::from_nanos(2)), Some(Instant::from_nanos(3)));
    /// assert!(Instant::from_nanos(1).checked_sub(Duration::from_nanos(2)).is_none());
    /// ```
    pub fn checked_sub(self, d: Duration) -> Option<Instant> {
        self.0.checked_sub(nanos(d)).map(Instant)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Instant({:?})", Duration::from_nanos(self.0))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        Instant(self.0.saturating_add(nanos(d)))
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, d: Duration) {
        *self = *self + d;
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;
    fn sub(self, d: Duration) -> Instant {
        Instant(self.0.saturating_sub(nanos(d)))
    }
}

impl SubAssign<Duration> for Instant {
    fn sub_assign(&mut self, d: Duration) {
        *self = *self - d;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, earlier: Instant) -> Duration {
        self.duration_since(earlier)
    }
}
