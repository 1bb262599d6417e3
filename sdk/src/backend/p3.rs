//! The WASI 0.3 backend (mode N): the monotonic clock, one `wait-until`
//! future for the timer task, and the hook that puts the keeper into the
//! component-model task on the stack.

use std::future::Future;

use wasip3::clocks::monotonic_clock;

/// Nanoseconds on the monotonic clock.
pub(crate) fn now_ns() -> u64 {
    monotonic_clock::now()
}

/// A future that completes at `deadline_ns` on the monotonic clock: one
/// `wasi:clocks/monotonic-clock.wait-until` subtask. Dropping it before
/// then cancels the subtask.
pub(crate) fn wait_until(deadline_ns: u64) -> impl Future<Output = ()> + 'static {
    monotonic_clock::wait_until(deadline_ns)
}

/// Adds `future` to the component-model task whose callback is on the
/// stack, to run after that task's own future is done. Only call it from a
/// poll or a drop of one of that task's futures (see `runtime::native`).
pub(crate) fn spawn_keeper(future: impl Future<Output = ()> + 'static) {
    wasip3::wit_bindgen::spawn_local(future);
}
