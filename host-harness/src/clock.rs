//! The monotonic clock the harness gives guests, and a counting
//! `wasi:clocks/monotonic-clock.wait-until` for WASI 0.3 guests: how many a
//! guest started, how many are outstanding, and the most outstanding at
//! once. wasync promises at most one per instance (every timer behind one
//! `wait-until`); the harness checks it from the outside.
//!
//! The harness's own `wait-until` replaces wasmtime-wasi's (it shadows it in
//! the linker) and behaves the same: it sleeps until the mark on the
//! instance's monotonic clock, and a guest that cancels the subtask drops
//! the sleep.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use wasmtime::component::{Accessor, Linker};
use wasmtime_wasi::HostMonotonicClock;

use crate::host::HostState;

/// The WASI 0.3 interface whose `wait-until` the harness counts.
const MONOTONIC_CLOCK_P3: &str = "wasi:clocks/monotonic-clock@0.3.0";

/// A monotonic clock that starts at zero when its instance's store is made.
/// The store's WASI context and the counting `wait-until` share it, so a
/// guest's marks and the host's sleeps agree.
#[derive(Debug, Clone)]
pub(crate) struct Clock {
    start: Instant,
}

impl Clock {
    pub(crate) fn new() -> Clock {
        Clock {
            start: Instant::now(),
        }
    }

    fn now_ns(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

impl HostMonotonicClock for Clock {
    fn resolution(&self) -> u64 {
        1
    }

    fn now(&self) -> u64 {
        self.now_ns()
    }
}

/// Counts of `wait-until` calls. Shared by the clones of one
/// [`WasiOptions`](crate::WasiOptions), so a test keeps a handle and reads
/// it after the instances it configured have run.
///
/// # Examples
///
/// ```
/// let opts = wasync_harness::WasiOptions::default();
/// let waits = opts.waits.clone();
/// assert_eq!((waits.calls(), waits.outstanding(), waits.max_outstanding()), (0, 0, 0));
/// ```
#[derive(Debug, Default)]
pub struct WaitCounters {
    calls: AtomicU64,
    outstanding: AtomicU64,
    max_outstanding: AtomicU64,
}

impl WaitCounters {
    /// `wait-until` calls started so far.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Those not finished or cancelled yet.
    pub fn outstanding(&self) -> u64 {
        self.outstanding.load(Ordering::Relaxed)
    }

    /// The most that were outstanding at once.
    pub fn max_outstanding(&self) -> u64 {
        self.max_outstanding.load(Ordering::Relaxed)
    }

    /// Zeroes the counts (the outstanding ones stay counted).
    pub fn reset(&self) {
        self.calls.store(0, Ordering::Relaxed);
        self.max_outstanding
            .store(self.outstanding(), Ordering::Relaxed);
    }

    fn start(self: &Arc<Self>) -> Outstanding {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let now = self.outstanding.fetch_add(1, Ordering::Relaxed) + 1;
        self.max_outstanding.fetch_max(now, Ordering::Relaxed);
        Outstanding(self.clone())
    }
}

/// One outstanding `wait-until`: finished, or cancelled by the guest (the
/// host future is dropped), when this is dropped.
struct Outstanding(Arc<WaitCounters>);

impl Drop for Outstanding {
    fn drop(&mut self) {
        self.0.outstanding.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Replaces `wait-until` of WASI 0.3's monotonic clock in `linker` with the
/// counting one.
pub(crate) fn count_wait_until(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    linker.instance(MONOTONIC_CLOCK_P3)?.func_wrap_concurrent(
        "wait-until",
        |accessor: &Accessor<HostState>, (when,): (u64,)| {
            let (clock, waits) = accessor.with(|mut access| {
                let state = access.data_mut();
                (state.clock.clone(), state.waits.clone())
            });
            Box::pin(async move {
                let _outstanding = waits.start();
                let now = clock.now_ns();
                if when > now {
                    tokio::time::sleep(Duration::from_nanos(when - now)).await;
                }
                Ok(())
            })
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}
