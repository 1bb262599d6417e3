//! Time: an [`Instant`] on the monotonic clock, [`sleep`](fn@sleep), [`timeout`](fn@timeout) and
//! [`Interval`].
//!
//! Every timer in the instance lives in one hierarchical timing wheel, and
//! the whole wheel is represented to the host by a single
//! `subscribe-instant` pollable set for its earliest deadline. A timer costs
//! nothing on the host side, and waiting timers add nothing to the cost of a
//! turn. Timers register lazily (a `Sleep` that is never polled, or is
//! already due when first polled, never enters the wheel), have a resolution
//! of one millisecond like the host clock, and never fire early.

mod instant;
mod interval;
mod pages;
mod sleep;
mod timeout;
pub(crate) mod wheel;
#[cfg(test)]
mod wheel_model;

pub use instant::Instant;
pub use interval::{Interval, MissedTickBehavior, interval, interval_at};
pub use sleep::{Sleep, sleep, sleep_until};
pub use std::time::Duration;
pub use timeout::{Elapsed, Timeout, timeout, timeout_at};
