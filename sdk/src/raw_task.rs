//! Task cells: one heap allocation per task holding its header, and its
//! future, which the output replaces in place once the future finishes
//! (the layout async-task uses, written for wasync's single-threaded
//! runtime). With `raw`, the only module of wasync that contains `unsafe`.
//!
//! Ground rules:
//! - A cell is reference counted, without atomics: [`RawTask`] and
//!   [`JoinRef`] are neither `Send` nor `Sync`. The runtime's slot holds one
//!   reference until the task finishes or is aborted; the task's
//!   `JoinHandle` holds another until it is joined or dropped. The last
//!   reference frees the cell, dropping whatever the cell still holds.
//! - The cell's stage says which of its contents is live: the future
//!   (`Future`, or `Polling` while a poll of it is on the stack), the
//!   output (`Output`), or nothing (`Cancelled`, `Taken`). Every unsafe
//!   access to the contents is guarded by the stage, so no safe sequence of
//!   calls (re-entrant ones from inside the future included) reads freed or
//!   uninitialised contents, or drops them twice.
//! - Contents are user values: their destructors run where the caller
//!   drops a reference, calls [`RawTask::cancel`] or takes the output, so
//!   the runtime does those outside its `RefCell` borrow.
//! - Wakers are not references: they carry a slot key (see `raw`), so they
//!   allocate nothing and may outlive the cell.

use std::cell::{Cell, UnsafeCell};
use std::future::Future;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll, Waker};

/// Which of a cell's contents is live.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Stage {
    /// The future, waiting for a poll.
    Future,
    /// The future, with a poll of it on the stack.
    Polling,
    /// The output, not yet taken.
    Output,
    /// Nothing: the future was dropped unfinished (aborted, or it panicked).
    Cancelled,
    /// Nothing: the output was taken, or the cancellation reported.
    Taken,
}

impl Stage {
    /// Whether the future has finished or was dropped.
    pub(crate) fn is_done(self) -> bool {
        !matches!(self, Stage::Future | Stage::Polling)
    }
}

/// What a poll of a cell did.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Polled {
    Pending,
    /// The future finished: the output is in the cell.
    Finished,
    /// There was no future to poll (already finished, cancelled, or being
    /// polled further up the stack).
    Nothing,
}

/// The part of a cell that does not depend on the future's type. First in
/// every cell (`repr(C)`), so a pointer to the cell is a pointer to it.
#[repr(C)]
struct Header {
    refs: Cell<usize>,
    stage: Cell<Stage>,
    /// Who awaits the output.
    join_waker: Cell<Option<Waker>>,
    /// The runtime's slot of the task, while it has one.
    slot: Cell<u32>,
    vtable: &'static VTable,
}

/// The operations of a cell that need its future's type.
struct VTable {
    /// Polls the future; the stage is `Polling` during the call.
    poll: unsafe fn(NonNull<Header>, &mut Context<'_>) -> Poll<()>,
    drop_future: unsafe fn(NonNull<Header>),
    drop_output: unsafe fn(NonNull<Header>),
    /// Moves the output into `*out`, an `Option<F::Output>`.
    read_output: unsafe fn(NonNull<Header>, out: *mut ()),
    dealloc: unsafe fn(NonNull<Header>),
}

/// The future or, once it finished, its output: which one the stage says.
union Contents<F: Future> {
    future: ManuallyDrop<F>,
    output: ManuallyDrop<F::Output>,
}

#[repr(C)]
struct TaskCell<F: Future> {
    header: Header,
    contents: UnsafeCell<Contents<F>>,
}

impl<F: Future> TaskCell<F> {
    const VTABLE: VTable = VTable {
        poll: Self::poll,
        drop_future: Self::drop_future,
        drop_output: Self::drop_output,
        read_output: Self::read_output,
        dealloc: Self::dealloc,
    };

    fn contents(ptr: NonNull<Header>) -> *mut Contents<F> {
        let cell = ptr.cast::<TaskCell<F>>().as_ptr();
        // SAFETY: `ptr` came from `Box::into_raw` of a `TaskCell<F>` (only
        // `RawTask::new` makes cells, and it stores this vtable with them),
        // and the cell is alive while a reference to it exists.
        // `&raw const` makes no reference, so nothing aliases the contents.
        let contents = unsafe { &raw const (*cell).contents };
        UnsafeCell::raw_get(contents)
    }

    /// # Safety
    /// `ptr` is a live cell of this type whose stage is `Polling` and that
    /// holds the future.
    unsafe fn poll(ptr: NonNull<Header>, cx: &mut Context<'_>) -> Poll<()> {
        let contents = Self::contents(ptr);
        // SAFETY: the stage is `Polling`, so the future is live and nothing
        // else touches it until this returns (every other access checks the
        // stage first). The cell is a heap allocation that is never moved,
        // and the future is dropped in place, so pinning holds.
        let future = unsafe { Pin::new_unchecked(&mut *(*contents).future) };
        let output = match future.poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(output) => output,
        };
        // SAFETY: `ptr` is live (the caller holds a reference).
        let header = unsafe { ptr.as_ref() };
        // Nothing is live while the finished future is dropped: if its
        // destructor panics, the output (still on this stack) is dropped by
        // the unwinding, and the cell never touches the contents again.
        header.stage.set(Stage::Taken);
        // SAFETY: the future is live (see above) and is dropped once: the
        // stage no longer says it is there.
        unsafe { ManuallyDrop::drop(&mut (*contents).future) };
        // SAFETY: the contents are dead; writing the other union field
        // makes the output live, as the stage then says.
        unsafe { (*contents).output = ManuallyDrop::new(output) };
        header.stage.set(Stage::Output);
        Poll::Ready(())
    }

    /// # Safety
    /// `ptr` is a live cell of this type that holds its future, and the
    /// stage already says it does not.
    unsafe fn drop_future(ptr: NonNull<Header>) {
        // SAFETY: by this function's contract the future is live and
        // nothing will read or drop it again.
        unsafe { ManuallyDrop::drop(&mut (*Self::contents(ptr)).future) }
    }

    /// # Safety
    /// `ptr` is a live cell of this type that holds its output, and the
    /// stage already says it does not.
    unsafe fn drop_output(ptr: NonNull<Header>) {
        // SAFETY: as for `drop_future`, for the output.
        unsafe { ManuallyDrop::drop(&mut (*Self::contents(ptr)).output) }
    }

    /// # Safety
    /// As for `drop_output`, and `out` points to an `Option<F::Output>`.
    unsafe fn read_output(ptr: NonNull<Header>, out: *mut ()) {
        // SAFETY: the output is live and, by the contract, never read or
        // dropped again: moving it out is its one use.
        let output = unsafe { ManuallyDrop::take(&mut (*Self::contents(ptr)).output) };
        // SAFETY: `out` points to a live `Option<F::Output>` (the contract).
        unsafe { *out.cast::<Option<F::Output>>() = Some(output) };
    }

    /// # Safety
    /// `ptr` is a cell of this type with no references left whose contents
    /// were dropped already (the stage says none is live).
    unsafe fn dealloc(ptr: NonNull<Header>) {
        // SAFETY: the cell came from `Box::into_raw` of this type, and no
        // reference is left to use it. `Contents` is a union of
        // `ManuallyDrop`s, so this drops the header (its join waker) only.
        drop(unsafe { Box::from_raw(ptr.cast::<TaskCell<F>>().as_ptr()) });
    }
}

/// One reference to a task cell, not knowing its output type. Cloning adds
/// a reference; dropping the last one frees the cell and what it holds.
pub(crate) struct RawTask {
    ptr: NonNull<Header>,
}

impl RawTask {
    /// Puts `future` in a new cell. Returns the runtime's reference and the
    /// join handle's.
    pub(crate) fn new<F>(future: F) -> (RawTask, JoinRef<F::Output>)
    where
        // Cells outlive any borrow: what they drop must borrow nothing.
        F: Future + 'static,
        F::Output: 'static,
    {
        let cell = Box::new(TaskCell {
            header: Header {
                refs: Cell::new(2),
                stage: Cell::new(Stage::Future),
                join_waker: Cell::new(None),
                slot: Cell::new(u32::MAX),
                vtable: &TaskCell::<F>::VTABLE,
            },
            contents: UnsafeCell::new(Contents {
                future: ManuallyDrop::new(future),
            }),
        });
        let ptr = NonNull::from(Box::leak(cell)).cast::<Header>();
        (
            RawTask { ptr },
            JoinRef {
                raw: RawTask { ptr },
                _output: PhantomData,
            },
        )
    }

    fn header(&self) -> &Header {
        // SAFETY: `self` is a counted reference, so the cell is alive; the
        // header is only ever accessed through shared references (its
        // fields are `Cell`s).
        unsafe { self.ptr.as_ref() }
    }

    pub(crate) fn stage(&self) -> Stage {
        self.header().stage.get()
    }

    /// Polls the future, unless there is none or it is being polled
    /// already. If the poll panics, the future is dropped and the task
    /// counts as cancelled.
    pub(crate) fn poll(&self, cx: &mut Context<'_>) -> Polled {
        let header = self.header();
        if header.stage.get() != Stage::Future {
            return Polled::Nothing;
        }
        header.stage.set(Stage::Polling);
        /// Drops the future if its poll unwinds.
        struct Unwind<'a>(&'a RawTask);
        impl Drop for Unwind<'_> {
            fn drop(&mut self) {
                let header = self.0.header();
                if header.stage.get() == Stage::Polling {
                    header.stage.set(Stage::Cancelled);
                    // SAFETY: the stage was `Polling`, so the future is
                    // live, and it now says it is not.
                    unsafe { (header.vtable.drop_future)(self.0.ptr) };
                }
            }
        }
        let guard = Unwind(self);
        // SAFETY: the stage is `Polling` and the future is live (it was
        // `Future`); `self` keeps the cell alive for the call.
        let result = unsafe { (header.vtable.poll)(self.ptr, cx) };
        std::mem::forget(guard);
        match result {
            Poll::Pending => {
                header.stage.set(Stage::Future);
                Polled::Pending
            }
            Poll::Ready(()) => Polled::Finished,
        }
    }

    /// Drops the future unfinished, unless it is being polled (then the
    /// caller must cancel again once the poll returns). Returns whether the
    /// task is cancelled now.
    pub(crate) fn cancel(&self) -> bool {
        let header = self.header();
        if header.stage.get() != Stage::Future {
            return header.stage.get() == Stage::Cancelled;
        }
        header.stage.set(Stage::Cancelled);
        // SAFETY: the stage was `Future`, so the future is live and not
        // being polled, and the stage now says it is gone.
        unsafe { (header.vtable.drop_future)(self.ptr) };
        true
    }

    /// Takes the waker of whoever awaits the output.
    pub(crate) fn take_join_waker(&self) -> Option<Waker> {
        self.header().join_waker.take()
    }

    /// Records the runtime's slot of the task, for its join handle.
    pub(crate) fn set_slot(&self, slot: u32) {
        self.header().slot.set(slot);
    }

    /// The slot recorded by `set_slot` (`u32::MAX` before).
    pub(crate) fn slot(&self) -> u32 {
        self.header().slot.get()
    }

    /// Whether both are references to one cell.
    pub(crate) fn same_cell(&self, other: &RawTask) -> bool {
        self.ptr == other.ptr
    }

    /// Whether another reference than this one exists (the join handle's,
    /// for the runtime's reference).
    pub(crate) fn is_shared(&self) -> bool {
        self.header().refs.get() > 1
    }
}

impl Clone for RawTask {
    fn clone(&self) -> RawTask {
        let refs = &self.header().refs;
        // As `Rc` does: leaking that many clones is a bug, not a use.
        let Some(n) = refs.get().checked_add(1) else {
            std::process::abort()
        };
        refs.set(n);
        RawTask { ptr: self.ptr }
    }
}

impl Drop for RawTask {
    fn drop(&mut self) {
        let header = self.header();
        let refs = header.refs.get() - 1;
        header.refs.set(refs);
        if refs > 0 {
            return;
        }
        let vtable = header.vtable;
        /// Frees the cell even if a content's destructor panics.
        struct Free(NonNull<Header>, &'static VTable);
        impl Drop for Free {
            fn drop(&mut self) {
                // SAFETY: no reference is left, and the stage was set to
                // `Taken` before any content was dropped.
                unsafe { (self.1.dealloc)(self.0) }
            }
        }
        let _free = Free(self.ptr, vtable);
        match header.stage.replace(Stage::Taken) {
            // SAFETY: the stage said the future is live; it now says not.
            Stage::Future => unsafe { (vtable.drop_future)(self.ptr) },
            // SAFETY: as above, for the output.
            Stage::Output => unsafe { (vtable.drop_output)(self.ptr) },
            // A poll on the stack holds a reference, so the count cannot
            // reach zero while `Polling`; the others hold nothing.
            Stage::Polling | Stage::Cancelled | Stage::Taken => {}
        }
    }
}

/// The join handle's reference to a task cell: it knows the output type.
pub(crate) struct JoinRef<T> {
    raw: RawTask,
    // `fn() -> T`: the handle is `Unpin` whatever `T` is; outputs are
    // `'static` (see `RawTask::new`), so no drop-check is needed for them.
    _output: PhantomData<fn() -> T>,
}

impl<T> JoinRef<T> {
    pub(crate) fn stage(&self) -> Stage {
        self.raw.stage()
    }

    /// The untyped reference, to find the task's slot.
    pub(crate) fn raw(&self) -> &RawTask {
        &self.raw
    }

    /// Takes the output if the task finished (`Some(Ok)`), reports the
    /// cancellation once if it was cancelled (`Some(Err(()))`), or `None`
    /// if neither happened yet or the result was taken already.
    pub(crate) fn take(&self) -> Option<Result<T, ()>> {
        let header = self.raw.header();
        match header.stage.get() {
            Stage::Output => {
                header.stage.set(Stage::Taken);
                let mut out: Option<T> = None;
                // SAFETY: the stage was `Output`, so the output is live,
                // and it now says it is gone. `JoinRef<T>` is only made by
                // `RawTask::new` for a future whose output type is `T`, so
                // `out` has the type `read_output` writes.
                unsafe { (header.vtable.read_output)(self.raw.ptr, (&raw mut out).cast()) };
                out.map(Ok)
            }
            Stage::Cancelled => {
                header.stage.set(Stage::Taken);
                Some(Err(()))
            }
            Stage::Future | Stage::Polling | Stage::Taken => None,
        }
    }

    /// Stores the waker to wake when the task is done, unless an
    /// equivalent one is stored already.
    pub(crate) fn set_join_waker(&self, waker: &Waker) {
        let slot = &self.raw.header().join_waker;
        let old = slot.take();
        slot.set(match old {
            Some(old) if old.will_wake(waker) => Some(old),
            _ => Some(waker.clone()),
        });
    }
}

#[cfg(test)]
mod tests {
    //! Run under miri too: `cargo +nightly miri test -p wasync raw_task`.

    use super::*;
    use std::rc::Rc;

    /// Counts its drops.
    struct Probe(Rc<Cell<u32>>);
    impl Drop for Probe {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }

    /// A probe and the count of its drops.
    fn probe() -> (Rc<Cell<u32>>, Probe) {
        let drops = Rc::new(Cell::new(0));
        (drops.clone(), Probe(drops))
    }

    fn noop_cx() -> Context<'static> {
        Context::from_waker(Waker::noop())
    }

    #[test]
    fn a_finished_cell_hands_its_output_to_the_join_ref_once() {
        let (raw, join) = RawTask::new(async { String::from("out") });
        assert_eq!(join.take(), None, "not polled yet");
        assert_eq!(raw.poll(&mut noop_cx()), Polled::Finished);
        assert_eq!(raw.poll(&mut noop_cx()), Polled::Nothing);
        drop(raw);
        assert_eq!(join.take(), Some(Ok(String::from("out"))));
        assert_eq!(join.take(), None);
    }

    #[test]
    fn the_future_is_dropped_when_it_finishes_and_the_output_with_the_last_reference() {
        let (future_drops, held) = probe();
        let (output_drops, out) = probe();
        let (raw, join) = RawTask::new(async move {
            let _held = held;
            out
        });
        assert_eq!(raw.poll(&mut noop_cx()), Polled::Finished);
        assert_eq!(future_drops.get(), 1);
        drop(join);
        assert_eq!(output_drops.get(), 0, "the runtime still holds the cell");
        drop(raw);
        assert_eq!(output_drops.get(), 1);
    }

    #[test]
    fn cancelling_drops_the_future_once_and_reports_it_once() {
        let (drops, held) = probe();
        let (raw, join) = RawTask::new(async move {
            let _held = held;
            std::future::pending::<()>().await;
        });
        assert_eq!(raw.poll(&mut noop_cx()), Polled::Pending);
        assert!(raw.cancel());
        assert_eq!(drops.get(), 1);
        assert!(raw.cancel(), "still cancelled");
        assert_eq!(raw.poll(&mut noop_cx()), Polled::Nothing);
        assert_eq!(join.take(), Some(Err(())));
        assert_eq!(join.take(), None);
        drop((raw, join));
        assert_eq!(drops.get(), 1);
    }

    #[test]
    fn a_never_polled_future_is_dropped_with_the_last_reference() {
        let (drops, held) = probe();
        let (raw, join) = RawTask::new(async move {
            let _held = held;
        });
        let extra = raw.clone();
        drop(raw);
        drop(join);
        assert_eq!(drops.get(), 0);
        drop(extra);
        assert_eq!(drops.get(), 1);
    }

    #[test]
    fn a_future_cannot_cancel_or_poll_itself_while_it_is_polled() {
        let slot: Rc<Cell<Option<RawTask>>> = Rc::new(Cell::new(None));
        let inner = slot.clone();
        let (raw, join) = RawTask::new(std::future::poll_fn(move |cx| {
            let me = inner.take().expect("the test put it there");
            assert_eq!(me.stage(), Stage::Polling);
            assert!(!me.cancel(), "a cell being polled is not cancelled");
            assert_eq!(me.poll(cx), Polled::Nothing);
            Poll::Ready(5)
        }));
        slot.set(Some(raw.clone()));
        assert_eq!(raw.poll(&mut noop_cx()), Polled::Finished);
        assert_eq!(join.take(), Some(Ok(5)));
    }

    #[test]
    fn a_panicking_poll_drops_the_future_and_cancels_the_task() {
        let (drops, held) = probe();
        let (raw, join) = RawTask::new(async move {
            let _held = held;
            panic!("the task fails");
        });
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            raw.poll(&mut noop_cx());
        }));
        assert!(caught.is_err());
        assert_eq!(drops.get(), 1);
        assert_eq!(join.take(), Some(Err(())));
    }

    #[test]
    fn wakers_stored_in_a_cell_are_dropped_with_it_and_clones_outlive_it() {
        let (raw, join) = RawTask::new(async { 1 });
        let waker = crate::raw::task_waker(3);
        join.set_join_waker(&waker);
        join.set_join_waker(&waker.clone());
        raw.poll(&mut noop_cx());
        let taken = raw.take_join_waker().expect("the waker was stored");
        join.set_join_waker(&taken);
        drop((raw, join));
        // The wakers carry keys, not references: they outlive the cell.
        let again = taken.clone();
        drop(taken);
        assert_eq!(crate::raw::packed_key(&again), Some(3));
        drop(again);
    }
}
