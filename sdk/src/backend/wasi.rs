//! The wasi backend: one `wasi:io/poll.poll` call per blocking turn, and
//! `subscribe-instant` for the single timer pollable.

use wasip2::clocks::monotonic_clock;
use wasip2::io::poll::Pollable;

use crate::raw::PollableViews;

/// The handle that identifies a pollable in the registry and the poll list.
pub(crate) fn handle(p: &Pollable) -> u32 {
    p.handle()
}

/// Nanoseconds on the monotonic clock.
pub(crate) fn now_ns() -> u64 {
    monotonic_clock::now()
}

/// A pollable that becomes ready at `deadline_ns` on the monotonic clock.
pub(crate) fn timer_at(deadline_ns: u64) -> Pollable {
    monotonic_clock::subscribe_instant(deadline_ns)
}

/// A pollable that is ready now and stays ready: added to a poll list, it
/// makes `poll` return at once with whatever else is ready too.
pub(crate) fn immediate() -> Pollable {
    monotonic_clock::subscribe_duration(0)
}

/// Calls into the host with lists of handles, reusing its buffers.
#[derive(Default)]
pub(crate) struct Poller {
    views: PollableViews,
}

impl Poller {
    /// Blocks until at least one of `handles` is ready; writes the positions
    /// the host reported into `out`. The host may report only some of the
    /// ready ones.
    pub(crate) fn poll(&mut self, handles: &[u32], out: &mut Vec<u32>) {
        out.clear();
        let ready = self.views.with(handles, wasip2::io::poll::poll);
        out.extend_from_slice(&ready);
    }
}

#[cfg(feature = "concurrent")]
impl Poller {
    /// Mode C: `wasync:abi/host.park`.
    pub(crate) fn park(&mut self, handles: &[u32], finished: &[u32]) {
        self.views
            .with(handles, |list| crate::abi::host::park(list, finished));
    }
}

/// Mode C: a pollable that is ready once imported call `id` finished.
#[cfg(feature = "concurrent")]
pub(crate) fn subscribe_call(id: u32) -> Pollable {
    crate::abi::host::subscribe_call(id)
}

/// Mode C: abandons imported call `id`.
#[cfg(feature = "concurrent")]
pub(crate) fn cancel_call(id: u32) {
    crate::abi::host::cancel_call(id)
}
