//! With its sibling `raw_task` (task cells: one allocation per task, and
//! their wakers, which hold a counted reference to the cell), the only
//! module of wasync that contains `unsafe`. Two things need it here:
//!
//! 1. **Allocation-free keyed wakers.** The main future's waker (of
//!    `block_on`, and of a mode C call's first poll) and mode N's export
//!    call wakers carry a key in the `RawWaker` data pointer, which is
//!    never dereferenced. Building a `Waker` from a `RawWaker` is `unsafe`
//!    only because the compiler cannot check the vtable contract; these
//!    trivially meet it.
//! 2. **Borrowed views of wasi pollables.** The waker registry stores the
//!    `u32` handles of pollables that `wait_for` futures borrow, and turns
//!    them back into `&Pollable` for one `poll` or `park` call. A view is
//!    wrapped in `ManuallyDrop`, so it never closes the handle it borrows.

use std::task::{RawWaker, RawWakerVTable, Waker};

/// Mode N packs a call's key into pointer-sized data: the slot index in
/// the low `INDEX_BITS`, the low bits of the call's generation in the
/// rest. On wasm32 that leaves 10 bits: a stale waker wakes the call now in
/// its slot spuriously if that call's generation differs from its own by a
/// multiple of 1024, which futures must tolerate.
pub(crate) const INDEX_BITS: u32 = 22;
pub(crate) const INDEX_MASK: usize = (1 << INDEX_BITS) - 1;

fn main_clone(data: *const ()) -> RawWaker {
    RawWaker::new(data, &MAIN_VTABLE)
}

fn main_wake(_: *const ()) {
    crate::runtime::wake_main();
}

fn main_drop(_: *const ()) {}

static MAIN_VTABLE: RawWakerVTable =
    RawWakerVTable::new(main_clone, main_wake, main_wake, main_drop);

/// The waker of the future the runtime drives itself (`block_on`'s).
#[cfg(any(not(target_family = "wasm"), not(feature = "native")))]
pub(crate) fn main_waker() -> Waker {
    let raw = RawWaker::new(std::ptr::null(), &MAIN_VTABLE);
    // SAFETY: `Waker::from_raw` requires the vtable functions to be sound
    // for the data pointer and to be callable from any thread. Ours never
    // look at the pointer; `clone` copies it and `drop` does nothing, so
    // there is no resource to leak or double-free. `wake` touches only the
    // calling thread's runtime (a thread-local): on another thread it
    // wakes that thread's main future spuriously, which is allowed.
    unsafe { Waker::from_raw(raw) }
}

/// Whether `waker` is the main future's. Lets the runtime mark it woken
/// without a wake call.
pub(crate) fn is_main(waker: &Waker) -> bool {
    std::ptr::eq(waker.vtable(), &MAIN_VTABLE)
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
    fn the_main_waker_is_told_apart_from_others() {
        assert!(is_main(&main_waker()));
        assert!(is_main(&main_waker().clone()));
        assert!(!is_main(std::task::Waker::noop()));
    }

    #[test]
    fn call_and_main_wakers_are_told_apart() {
        let call = call_waker(7);
        assert_eq!(call_key(&call), Some(7));
        assert!(!is_main(&call));
        assert_eq!(call_key(&main_waker()), None);
    }
}
