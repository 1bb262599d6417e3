//! With its sibling `raw_task` (task cells: one allocation per task), the
//! only module of wasync that contains `unsafe`. Two things need it here:
//!
//! 1. **Allocation-free task wakers.** A task's waker carries the task's key
//!    (slab index and generation) packed into the `RawWaker` data pointer,
//!    which is never dereferenced. Building a `Waker` from a `RawWaker` is
//!    `unsafe` only because the compiler cannot check the vtable contract;
//!    ours trivially meets it. Mode N's export calls get wakers of the same
//!    kind, with a vtable of their own.
//! 2. **Borrowed views of wasi pollables.** The waker registry stores the
//!    `u32` handles of pollables that `wait_for` futures borrow, and turns
//!    them back into `&Pollable` for one `poll` or `park` call. A view is
//!    wrapped in `ManuallyDrop`, so it never closes the handle it borrows.

use std::task::{RawWaker, RawWakerVTable, Waker};

/// Packs a task key into pointer-sized data: the slab index in the low
/// `INDEX_BITS`, the low bits of the generation (the task's unique id, or
/// mode N's call generation) in the rest. On wasm32 that leaves 10 bits: a
/// stale waker wakes the task now in its slot spuriously if that task's id
/// differs from its own by a multiple of 1024, which futures must
/// tolerate. Only wakers (and the run queue) use packed keys; task
/// handles carry the full id, because a stale handle that aborted
/// or detached the new task would be a real bug, not a spurious poll.
pub(crate) const INDEX_BITS: u32 = 22;
pub(crate) const INDEX_MASK: usize = (1 << INDEX_BITS) - 1;

/// The packed key of slot `index` at `generation`: the generation's high
/// bits are dropped.
pub(crate) fn pack(index: usize, generation: u64) -> usize {
    ((generation as usize) << INDEX_BITS) | index
}

fn clone(data: *const ()) -> RawWaker {
    RawWaker::new(data, &VTABLE)
}

fn wake(data: *const ()) {
    crate::runtime::wake_packed(data.addr());
}

fn wake_by_ref(data: *const ()) {
    crate::runtime::wake_packed(data.addr());
}

fn drop(_: *const ()) {}

static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop);

/// A waker that schedules the task whose packed key is `packed`.
pub(crate) fn task_waker(packed: usize) -> Waker {
    let raw = RawWaker::new(std::ptr::without_provenance(packed), &VTABLE);
    // SAFETY: `Waker::from_raw` requires the vtable functions to be sound
    // for the data pointer and to be callable from any thread. Ours treat
    // the pointer as an integer and never dereference it; `clone` returns
    // the same integer and `drop` does nothing, so there is no resource to
    // leak or double-free. `wake` touches only the calling thread's
    // runtime (a thread-local): on another thread it finds no task with
    // that key, or wakes an unrelated one spuriously, which is allowed.
    unsafe { Waker::from_raw(raw) }
}

/// The packed key of a waker made by [`task_waker`], or `None` for any other
/// waker. Lets the runtime schedule its own tasks without a wake call.
pub(crate) fn packed_key(waker: &Waker) -> Option<usize> {
    std::ptr::eq(waker.vtable(), &VTABLE).then(|| waker.data().addr())
}

#[cfg(any(not(target_family = "wasm"), feature = "native"))]
pub(crate) use call_wakers::{call_key, call_waker};

/// Mode N: wakers of export calls, keyed like tasks (slot index and
/// generation) but with their own vtable, so the runtime tells them apart.
#[cfg(any(not(target_family = "wasm"), feature = "native"))]
mod call_wakers {
    use std::task::{RawWaker, RawWakerVTable, Waker};

    fn clone(data: *const ()) -> RawWaker {
        RawWaker::new(data, &CALL_VTABLE)
    }

    fn wake(data: *const ()) {
        crate::runtime::native::wake_call_packed(data.addr());
    }

    fn drop(_: *const ()) {}

    static CALL_VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake, drop);

    /// A waker that marks the export call whose packed key is `packed` woken.
    pub(crate) fn call_waker(packed: usize) -> Waker {
        let raw = RawWaker::new(std::ptr::without_provenance(packed), &CALL_VTABLE);
        // SAFETY: as for `task_waker`: the data pointer is an integer that
        // is never dereferenced, `clone` copies it and `drop` does nothing,
        // and `wake` only looks the key up in this thread's runtime.
        unsafe { Waker::from_raw(raw) }
    }

    /// The packed key of a waker made by [`call_waker`].
    pub(crate) fn call_key(waker: &Waker) -> Option<usize> {
        std::ptr::eq(waker.vtable(), &CALL_VTABLE).then(|| waker.data().addr())
    }
}

#[cfg(all(target_family = "wasm", not(feature = "native")))]
pub(crate) use wasi_views::PollableViews;

#[cfg(all(target_family = "wasm", not(feature = "native")))]
mod wasi_views {
    use std::mem::ManuallyDrop;

    use wasip2::io::poll::Pollable;

    /// Reusable storage for borrowed views of pollable handles.
    #[derive(Default)]
    pub(crate) struct PollableViews {
        views: Vec<ManuallyDrop<Pollable>>,
        refs: Vec<&'static Pollable>,
    }

    impl PollableViews {
        /// Calls `f` with `&Pollable`s for `handles`, reusing allocations.
        ///
        /// Every handle must be a live pollable of this instance that
        /// nothing closes during the call: the registry only holds handles
        /// of pollables that a pending `wait_for` future borrows, plus the
        /// runtime's own timer pollable.
        pub(crate) fn with<R>(&mut self, handles: &[u32], f: impl FnOnce(&[&Pollable]) -> R) -> R {
            self.views.clear();
            self.views.extend(handles.iter().map(|&h| {
                // SAFETY: `from_handle` takes ownership of a handle; the
                // `ManuallyDrop` makes this a borrow instead: the view is
                // never dropped, so the handle is never closed twice. The
                // handle is live by this function's contract.
                ManuallyDrop::new(unsafe { Pollable::from_handle(h) })
            }));
            // Reuse the reference vector's allocation across calls: the
            // empty `Vec<&'static _>` becomes a `Vec<&'a _>` borrowing
            // `views` (a `Vec` is covariant), and is given back empty after
            // by an in-place re-collect (the other direction needs one).
            let mut refs: Vec<&Pollable> = std::mem::take(&mut self.refs);
            refs.clear();
            refs.extend(self.views.iter().map(|v| &**v));
            let out = f(&refs);
            refs.clear();
            self.refs = refs.into_iter().map(|_| unreachable!()).collect();
            self.views.clear();
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_waker_round_trips_its_key() {
        let w = task_waker(0x1234_5678 & usize::MAX);
        assert_eq!(packed_key(&w), Some(0x1234_5678));
        assert_eq!(packed_key(&w.clone()), Some(0x1234_5678));
        assert_eq!(packed_key(std::task::Waker::noop()), None);
    }

    #[test]
    fn call_and_task_wakers_are_told_apart() {
        let call = call_waker(7);
        assert_eq!(call_key(&call), Some(7));
        assert_eq!(packed_key(&call), None);
        assert_eq!(call_key(&task_waker(7)), None);
    }
}
