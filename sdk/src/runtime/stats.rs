//! The runtime's counters (monotonic, reset by `reset_counters`) and gauges
//! (current sizes), for tests and benchmarks.

/// A snapshot of the runtime, from [`stats`](fn@crate::runtime::stats).
///
/// # Examples
///
/// ```
/// let before = wasync::runtime::stats();
/// wasync::block_on(async { wasync::spawn(async {}).await.unwrap() });
/// let after = wasync::runtime::stats();
/// assert_eq!(after.spawned, before.spawned + 1);
/// assert_eq!(after.live_tasks, 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Batches run (each is one turn of the executor).
    pub turns: u64,
    /// Blocking `wasi:io/poll.poll` calls (mode S), or parks (mode C).
    pub blocking_polls: u64,
    /// Non-blocking readiness checks that called the host's `poll`.
    pub nonblocking_polls: u64,
    /// Pollables passed to the host, summed over every poll.
    pub pollables_polled: u64,
    /// The longest poll list so far.
    pub max_poll_list: usize,
    /// Task polls.
    pub tasks_polled: u64,
    /// Tasks spawned.
    pub spawned: u64,
    /// Timers that fired.
    pub timers_fired: u64,
    /// Times the single timer pollable was replaced for a new deadline.
    pub timer_rearms: u64,
    /// Tasks alive now (not yet joined, or detached and unfinished).
    pub live_tasks: usize,
    /// Distinct pollables registered now.
    pub registered_pollables: usize,
    /// Futures waiting on those pollables now.
    pub waiters: usize,
    /// Timers in the wheel now (fired ones count until their future sees it).
    pub live_timers: usize,
    /// Whether the timer pollable exists now.
    pub timer_armed: bool,
}

impl Stats {
    /// Mean pollables per host poll.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// wasync::runtime::reset_counters();
    /// wasync::block_on(wasync::time::sleep(Duration::from_millis(3)));
    /// // Only the timer pollable was polled.
    /// assert_eq!(wasync::runtime::stats().mean_poll_list(), 1.0);
    /// ```
    pub fn mean_poll_list(&self) -> f64 {
        let polls = self.blocking_polls + self.nonblocking_polls;
        if polls == 0 {
            0.0
        } else {
            self.pollables_polled as f64 / polls as f64
        }
    }
}
