//! Task cells: one heap allocation per task holding its header, and its
//! future, which the output replaces in place once the future finishes
//! (the layout async-task uses, written for wasync's single-threaded
//! runtime). With `raw`, the only module of wasync that contains `unsafe`.
//!
//! Ground rules:
//! - A cell is reference counted. The runtime holds one reference while
//!   the task is unfinished (`own`: a count and a flag, kept in no table),
//!   the run queue one per entry, the poll under way one, the task's
//!   `JoinHandle` and `AbortHandle`s one each, and every waker of the task
//!   one. The last reference frees the cell.
//! - Wakers are `Send`, so the count is atomic (on wasm32 without threads
//!   that costs nothing more than a plain add). Everything else in the
//!   header is touched only on the thread that spawned the task: a waker
//!   woken on another thread does nothing (see [`RawTask::owned_here`]).
//! - The cell's stage says which of its contents is live: the future
//!   (`Future`, or `Polling` while a poll of it is on the stack), the
//!   output (`Output`), or nothing (`Cancelled`, `Taken`). Every unsafe
//!   access to the contents is guarded by the stage, so no safe sequence of
//!   calls (re-entrant ones from inside the future included) reads freed or
//!   uninitialised contents, or drops them twice.
//! - Contents are user values and not `Send`: they are dropped on the
//!   owner thread, by the runtime (the future when the task is done, a
//!   detached task's output when it finishes) or by the join handle (the
//!   output), never by the last reference if that is a waker elsewhere.
//!   The runtime does those outside its `RefCell` borrow.
//! - The scheduling state (`Sched`) lives in the header too, so that a
//!   wake reaches the task without a lookup: a woken idle task is queued,
//!   a woken running one is queued again when its poll returns.

use std::alloc::Layout;
use std::cell::{Cell, UnsafeCell};
use std::future::Future;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::pin::Pin;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering, fence};
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

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

/// Where a task is in the runtime's scheduling.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Sched {
    /// Waiting for a wake.
    Idle,
    /// In the run queue (once: a queued task is not queued again).
    Queued,
    /// Being polled.
    Running,
    /// Being polled, and woken meanwhile: queue it when the poll returns.
    Notified,
    /// Finished or aborted: disowned, never queued again.
    Done,
}

/// What [`RawTask::finish_poll`] decided.
pub(crate) struct Outcome {
    /// Queue the task again (it was woken during its poll).
    pub(crate) requeue: bool,
    /// The task is done now (finished or aborted): the runtime disowns it.
    pub(crate) done: bool,
    /// It finished (rather than being aborted).
    pub(crate) finished: bool,
}

/// What [`RawTask::request_abort`] did.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Abort {
    /// The task was idle or queued and is done now: the caller disowns it
    /// and drops its future.
    Now,
    /// The task is being polled: it is done when that poll returns.
    AfterPoll,
    /// The task was done already.
    Done,
}

/// `Header::flags`: the task was aborted during its own poll.
const ABORTED: u8 = 1;
/// `Header::flags`: one of wasync's own tasks (mode N's timer task).
const INTERNAL: u8 = 2;
/// `Header::flags`: the join handle is gone, so nobody takes the output.
const DETACHED: u8 = 4;
/// `Header::flags`: the runtime holds a reference (see `RawTask::own`).
const OWNED: u8 = 8;

/// The part of a cell that does not depend on the future's type. First in
/// every cell (`repr(C)`), so a pointer to the cell is a pointer to it.
#[repr(C)]
struct Header {
    refs: AtomicUsize,
    stage: Cell<Stage>,
    sched: Cell<Sched>,
    flags: Cell<u8>,
    /// Who awaits the output.
    join_waker: Cell<Option<Waker>>,
    /// The thread that spawned the task, where its runtime is.
    #[cfg(any(not(target_family = "wasm"), target_feature = "atomics"))]
    owner: u64,
    vtable: &'static VTable,
    /// The run queue's link to the task queued after this one, holding the
    /// queue's reference to it (see `runtime::run_queue`). Set only while
    /// this task is queued, so a cell is never freed with a link in it.
    next: Cell<Option<RawTask>>,
}

/// Which thread a task belongs to. On a wasm32 target without threads
/// there is one, and the check compiles to nothing.
#[cfg(any(not(target_family = "wasm"), target_feature = "atomics"))]
mod owner {
    use std::sync::atomic::{AtomicU64, Ordering};

    /// Tokens are never reused, unlike the ids of exited threads.
    static NEXT: AtomicU64 = AtomicU64::new(1);

    thread_local! {
        static TOKEN: u64 = NEXT.fetch_add(1, Ordering::Relaxed);
    }

    /// The calling thread's token; 0 (nobody's) while its thread-locals
    /// are being destroyed.
    pub(super) fn here() -> u64 {
        TOKEN.try_with(|t| *t).unwrap_or(0)
    }
}

/// Where task cells live on wasm32: small cells in chunks of one size
/// each, larger or over-aligned ones in the global allocator.
///
/// A task is a spawn, a poll and a join; with the global allocator, its
/// allocation and free were a third of that work on wasm32 (the allocator
/// shims, then dlmalloc's bins). Here a cell is a pop or a bump, and a free
/// a push.
///
/// Ground rules:
/// - One pool per thread. Cells are only allocated and freed on the thread
///   that spawned them (contents never leave it, and the last reference of
///   a cell elsewhere leaks it: see `RawTask::drop`), so the pool needs no
///   locking. On targets with threads the cells use the global allocator
///   instead: a waker may be the last reference on another thread.
/// - A chunk is `CHUNK` bytes aligned to `CHUNK`, so a block's chunk is its
///   address rounded down. It holds blocks of one size, its free blocks
///   linked through their first word, and counts the blocks handed out.
/// - Each size keeps a list of its chunks that have room. A chunk whose
///   last block comes back is given back to the global allocator, unless
///   it is the only chunk with room for its size (the next spawn would
///   take a chunk again). Memory a burst of tasks took is thus freed with
///   them, save one chunk per size.
#[cfg(any(all(target_family = "wasm", not(target_feature = "atomics")), test))]
mod pool {
    use std::alloc::Layout;
    use std::cell::Cell;
    use std::ptr::NonNull;

    /// Bytes per chunk, and its alignment. The global allocator meets the
    /// alignment by leaving a gap before the chunk, whose edges it
    /// touches: with 16 KiB chunks that cost a million tasks a fifth more
    /// page faults (16,072 against 12,803 for `spawn-join(1000000)`).
    const CHUNK: usize = 64 * 1024;
    /// Block sizes are multiples of this: a free block holds one pointer.
    const GRAIN: usize = size_of::<usize>();
    /// The largest alignment a block gets; more aligned cells use the
    /// global allocator.
    const MAX_ALIGN: usize = 8;
    /// The largest block; larger cells use the global allocator.
    const MAX_BLOCK: usize = 512;
    /// Block sizes the pool keeps.
    pub(super) const SIZES: usize = MAX_BLOCK / GRAIN;

    /// A chunk's header, at its start; blocks follow it.
    #[repr(C)]
    struct Chunk {
        /// Block size in bytes.
        block: usize,
        /// Free blocks given back, linked through their first word.
        free: Cell<Option<NonNull<Free>>>,
        /// Offset of the first block never handed out.
        bump: Cell<usize>,
        /// Blocks handed out and not given back.
        live: Cell<usize>,
        /// Links in the size's list of chunks with room.
        prev: Cell<Option<NonNull<Chunk>>>,
        next: Cell<Option<NonNull<Chunk>>>,
        /// Whether the chunk is in that list.
        listed: Cell<bool>,
    }

    /// A free block: its first word links the next one.
    struct Free {
        next: Option<NonNull<Free>>,
    }

    /// Offset of the first block: the header, rounded up to `MAX_ALIGN`.
    /// A block's size is a multiple of its layout's alignment, so every
    /// block of a chunk is as aligned as the first.
    const FIRST: usize = size_of::<Chunk>().next_multiple_of(MAX_ALIGN);

    const _: () = assert!(align_of::<Chunk>() <= MAX_ALIGN && size_of::<Free>() <= GRAIN);

    fn chunk_layout() -> Layout {
        // A power of two, and `CHUNK` bytes fit any address space we run in.
        match Layout::from_size_align(CHUNK, CHUNK) {
            Ok(layout) => layout,
            Err(_) => unreachable!("CHUNK is a power of two"),
        }
    }

    /// The pool's block size for `layout`, or `None` for the global
    /// allocator.
    #[inline]
    fn block_size(layout: Layout) -> Option<usize> {
        let block = layout.size().next_multiple_of(layout.align().max(GRAIN));
        (block <= MAX_BLOCK && layout.align() <= MAX_ALIGN && layout.size() > 0).then_some(block)
    }

    /// The chunks with room, by block size.
    pub(super) struct Pool {
        room: [Cell<Option<NonNull<Chunk>>>; SIZES],
    }

    impl Pool {
        pub(super) const fn new() -> Pool {
            Pool {
                room: [const { Cell::new(None) }; SIZES],
            }
        }

        /// A block for `layout`; aborts (as `Box` does) if memory runs out.
        #[inline]
        pub(super) fn alloc(&self, layout: Layout) -> NonNull<u8> {
            let Some(block) = block_size(layout) else {
                return super::global_alloc(layout);
            };
            let head = &self.room[block / GRAIN - 1];
            let chunk = match head.get() {
                Some(chunk) => chunk,
                None => {
                    let chunk = new_chunk(block);
                    self.link(head, chunk);
                    chunk
                }
            };
            // SAFETY: chunks in a room list are live (only `dealloc`
            // frees one, after unlinking it) and only this thread's pool
            // touches them.
            let c = unsafe { chunk.as_ref() };
            let ptr = match c.free.get() {
                Some(free) => {
                    // SAFETY: a free block holds a `Free` written by
                    // `dealloc`, and nothing else uses it until handed out.
                    c.free.set(unsafe { free.as_ref() }.next);
                    free.cast::<u8>()
                }
                None => {
                    let offset = c.bump.get();
                    c.bump.set(offset + block);
                    // SAFETY: a listed chunk has room, so `offset + block`
                    // is within the chunk's `CHUNK` bytes.
                    unsafe { chunk.cast::<u8>().add(offset) }
                }
            };
            c.live.set(c.live.get() + 1);
            if c.free.get().is_none() && c.bump.get() + block > CHUNK {
                self.unlink(head, chunk);
            }
            ptr
        }

        /// Gives back a block `alloc` returned for `layout`.
        ///
        /// # Safety
        /// `ptr` came from `self.alloc(layout)` and is not used again.
        #[inline]
        pub(super) unsafe fn dealloc(&self, ptr: NonNull<u8>, layout: Layout) {
            let Some(block) = block_size(layout) else {
                // SAFETY: `alloc` took it from the global allocator with
                // this layout (the contract).
                return unsafe { std::alloc::dealloc(ptr.as_ptr(), layout) };
            };
            let head = &self.room[block / GRAIN - 1];
            let start = ptr.as_ptr().map_addr(|a| a & !(CHUNK - 1)).cast::<Chunk>();
            // SAFETY: a pool block lies in a live chunk (a chunk with a
            // block handed out is never freed), whose header is at the
            // chunk's start, `CHUNK`-aligned, so `start` is that header:
            // not null, since allocators never return address 0.
            let chunk = unsafe { NonNull::new_unchecked(start) };
            // SAFETY: as above, the header is live.
            let c = unsafe { chunk.as_ref() };
            debug_assert_eq!(c.block, block, "a block goes back to its own size");
            let free = ptr.cast::<Free>();
            // SAFETY: the block is ours again, at least `GRAIN` bytes and
            // aligned to `GRAIN` (a multiple of it, at a multiple of it):
            // room for a `Free`.
            unsafe { free.write(Free { next: c.free.get() }) };
            c.free.set(Some(free));
            c.live.set(c.live.get() - 1);
            if !c.listed.get() {
                self.link(head, chunk);
            }
            if c.live.get() == 0 && (head.get() != Some(chunk) || c.next.get().is_some()) {
                self.unlink(head, chunk);
                // SAFETY: no block of the chunk is handed out and it is in
                // no list: nothing refers to it.
                unsafe { std::alloc::dealloc(chunk.as_ptr().cast(), chunk_layout()) };
            }
        }

        fn link(&self, head: &Cell<Option<NonNull<Chunk>>>, chunk: NonNull<Chunk>) {
            // SAFETY: `chunk` and the listed chunks are live (see `alloc`).
            let c = unsafe { chunk.as_ref() };
            c.prev.set(None);
            c.next.set(head.get());
            if let Some(old) = head.get() {
                // SAFETY: as above.
                unsafe { old.as_ref() }.prev.set(Some(chunk));
            }
            head.set(Some(chunk));
            c.listed.set(true);
        }

        fn unlink(&self, head: &Cell<Option<NonNull<Chunk>>>, chunk: NonNull<Chunk>) {
            // SAFETY: `chunk` and its neighbours are live (see `alloc`).
            let c = unsafe { chunk.as_ref() };
            match c.prev.get() {
                // SAFETY: as above.
                Some(prev) => unsafe { prev.as_ref() }.next.set(c.next.get()),
                None => head.set(c.next.get()),
            }
            if let Some(next) = c.next.get() {
                // SAFETY: as above.
                unsafe { next.as_ref() }.prev.set(c.prev.get());
            }
            c.listed.set(false);
        }
    }

    #[cfg(test)]
    impl Pool {
        /// How many chunks have room, over all sizes.
        pub(super) fn chunks_with_room(&self) -> usize {
            let mut n = 0;
            for head in &self.room {
                let mut at = head.get();
                while let Some(chunk) = at {
                    n += 1;
                    // SAFETY: listed chunks are live (see `alloc`).
                    at = unsafe { chunk.as_ref() }.next.get();
                }
            }
            n
        }
    }

    /// A test's pool gives back its empty chunks when it goes (a thread's
    /// pool never goes: its cells may outlive any point of its thread).
    #[cfg(test)]
    impl Drop for Pool {
        fn drop(&mut self) {
            for head in &self.room {
                while let Some(chunk) = head.get() {
                    // SAFETY: listed chunks are live (see `alloc`).
                    let live = unsafe { chunk.as_ref() }.live.get();
                    assert_eq!(live, 0, "a test dropped its pool with blocks handed out");
                    self.unlink(head, chunk);
                    // SAFETY: empty and unlisted: nothing refers to it.
                    unsafe { std::alloc::dealloc(chunk.as_ptr().cast(), chunk_layout()) };
                }
            }
        }
    }

    /// A new chunk of `block`-sized blocks, all free.
    fn new_chunk(block: usize) -> NonNull<Chunk> {
        let chunk = super::global_alloc(chunk_layout()).cast::<Chunk>();
        // SAFETY: the allocation is `CHUNK` bytes, aligned to `CHUNK`, so
        // it holds a `Chunk` at its start.
        unsafe {
            chunk.write(Chunk {
                block,
                free: Cell::new(None),
                bump: Cell::new(FIRST),
                live: Cell::new(0),
                prev: Cell::new(None),
                next: Cell::new(None),
                listed: Cell::new(false),
            })
        };
        chunk
    }
}

/// Memory from the global allocator, for a cell or a pool chunk.
fn global_alloc(layout: Layout) -> NonNull<u8> {
    // SAFETY: every layout used here has a non-zero size (cells hold a
    // header; chunks are `CHUNK` bytes).
    let ptr = unsafe { std::alloc::alloc(layout) };
    NonNull::new(ptr).unwrap_or_else(|| std::alloc::handle_alloc_error(layout))
}

/// The pool of this thread's cells (see `pool`). Wasm32 components have
/// one thread; elsewhere cells use the global allocator (see `pool`'s
/// ground rules), and the pool is only tested.
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
mod cells {
    use std::alloc::Layout;
    use std::ptr::NonNull;

    thread_local! {
        static POOL: super::pool::Pool = const { super::pool::Pool::new() };
    }

    // Inline: the cell's layout is known where it is allocated, so the
    // pool's size class folds to a constant.
    #[inline]
    pub(super) fn alloc(layout: Layout) -> NonNull<u8> {
        POOL.with(|p| p.alloc(layout))
    }

    /// # Safety
    /// As for `Pool::dealloc`, with this thread's pool.
    #[inline]
    pub(super) unsafe fn dealloc(ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: the caller's contract; cells never leave their thread.
        POOL.with(|p| unsafe { p.dealloc(ptr, layout) })
    }
}

#[cfg(any(not(target_family = "wasm"), target_feature = "atomics"))]
mod cells {
    use std::alloc::Layout;
    use std::ptr::NonNull;

    pub(super) fn alloc(layout: Layout) -> NonNull<u8> {
        super::global_alloc(layout)
    }

    /// # Safety
    /// `ptr` came from `alloc(layout)` and is not used again.
    pub(super) unsafe fn dealloc(ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: the caller's contract.
        unsafe { std::alloc::dealloc(ptr.as_ptr(), layout) }
    }
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
        // SAFETY: `ptr` is a `TaskCell<F>` written by `RawTask::new` (only
        // it makes cells, and it stores this vtable with them),
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
        let cell = ptr.cast::<TaskCell<F>>();
        /// Gives the block back even if the header's destructor panics.
        struct Release(NonNull<u8>, Layout);
        impl Drop for Release {
            fn drop(&mut self) {
                // SAFETY: the block came from `cells::alloc` with this
                // layout (`RawTask::new`), and nothing uses it after this.
                unsafe { cells::dealloc(self.0, self.1) }
            }
        }
        let _release = Release(cell.cast(), Layout::new::<TaskCell<F>>());
        // SAFETY: the cell was written by `RawTask::new` and no reference
        // is left to use it. `Contents` is a union of `ManuallyDrop`s, so
        // this drops the header (its join waker) only.
        unsafe { std::ptr::drop_in_place(cell.as_ptr()) };
    }
}

/// One reference to a task cell, not knowing its output type. Cloning adds
/// a reference; dropping the last one frees the cell.
pub(crate) struct RawTask {
    ptr: NonNull<Header>,
}

impl RawTask {
    /// Puts `future` in a new cell, queued. Returns the runtime's reference
    /// and the join handle's.
    pub(crate) fn new<F>(future: F) -> (RawTask, JoinRef<F::Output>)
    where
        // Cells outlive any borrow: what they drop must borrow nothing.
        F: Future + 'static,
        F::Output: 'static,
    {
        let cell = TaskCell {
            header: Header {
                refs: AtomicUsize::new(2),
                stage: Cell::new(Stage::Future),
                sched: Cell::new(Sched::Queued),
                flags: Cell::new(0),
                join_waker: Cell::new(None),
                #[cfg(any(not(target_family = "wasm"), target_feature = "atomics"))]
                owner: owner::here(),
                vtable: &TaskCell::<F>::VTABLE,
                next: Cell::new(None),
            },
            contents: UnsafeCell::new(Contents {
                future: ManuallyDrop::new(future),
            }),
        };
        let block = cells::alloc(Layout::new::<TaskCell<F>>()).cast::<TaskCell<F>>();
        // SAFETY: a fresh block of this type's layout, which nothing else
        // uses until `dealloc` gives it back.
        unsafe { block.write(cell) };
        let ptr = block.cast::<Header>();
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
        // fields are `Cell`s and an atomic).
        unsafe { self.ptr.as_ref() }
    }

    /// Whether the calling thread is the one that spawned the task. Only
    /// there may anything but the reference count be touched; a waker may
    /// travel to other threads, where waking it does nothing.
    pub(crate) fn owned_here(&self) -> bool {
        #[cfg(any(not(target_family = "wasm"), target_feature = "atomics"))]
        {
            self.header().owner == owner::here()
        }
        #[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
        {
            true
        }
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

    /// Drops the output of a detached task (nobody will take it), so that
    /// it is dropped here, on the owner thread, and not by whichever
    /// reference is last.
    pub(crate) fn drop_unclaimed_output(&self) {
        let header = self.header();
        if header.flags.get() & DETACHED != 0 && header.stage.get() == Stage::Output {
            header.stage.set(Stage::Taken);
            // SAFETY: the stage was `Output`, so the output is live, and it
            // now says it is gone.
            unsafe { (header.vtable.drop_output)(self.ptr) };
        }
    }

    /// Takes the waker of whoever awaits the output.
    pub(crate) fn take_join_waker(&self) -> Option<Waker> {
        self.header().join_waker.take()
    }

    /// Adds the runtime's reference: it keeps an unfinished task alive,
    /// whoever else holds it or not.
    pub(crate) fn own(&self) {
        std::mem::forget(self.clone());
        self.set_flag(OWNED);
    }

    /// Takes back the reference `own` added, once the task is done.
    pub(crate) fn disown(&self) -> Option<RawTask> {
        if !self.flag(OWNED) {
            return None;
        }
        let flags = &self.header().flags;
        flags.set(flags.get() & !OWNED);
        // The count `own` added, never given back until now (the flag).
        Some(RawTask { ptr: self.ptr })
    }

    fn flag(&self, flag: u8) -> bool {
        self.header().flags.get() & flag != 0
    }

    fn set_flag(&self, flag: u8) {
        let flags = &self.header().flags;
        flags.set(flags.get() | flag);
    }

    /// Marks the task as one of wasync's own.
    #[cfg(any(not(target_family = "wasm"), feature = "native"))]
    pub(crate) fn set_internal(&self) {
        self.set_flag(INTERNAL);
    }

    /// Whether the task is one of wasync's own.
    pub(crate) fn is_internal(&self) -> bool {
        self.flag(INTERNAL)
    }

    /// Whether the join handle is gone.
    pub(crate) fn is_detached(&self) -> bool {
        self.flag(DETACHED)
    }

    /// Takes the run queue's link to the task queued after this one.
    pub(crate) fn take_next(&self) -> Option<RawTask> {
        self.header().next.take()
    }

    /// Links `next` after this task in the run queue; this task must be
    /// the queue's last.
    pub(crate) fn set_next(&self, next: RawTask) {
        let old = self.header().next.replace(Some(next));
        debug_assert!(old.is_none(), "linked after a task that was not last");
    }

    /// Idle → queued. Returns whether the caller must push it on the queue.
    pub(crate) fn mark_queued(&self) -> bool {
        let sched = &self.header().sched;
        match sched.get() {
            Sched::Idle => {
                sched.set(Sched::Queued);
                true
            }
            Sched::Running => {
                sched.set(Sched::Notified);
                false
            }
            Sched::Queued | Sched::Notified | Sched::Done => false,
        }
    }

    /// Queued → running: whether the task popped from the queue is to be
    /// polled (an aborted task's entry is not).
    pub(crate) fn start_poll(&self) -> bool {
        let sched = &self.header().sched;
        if sched.get() != Sched::Queued {
            return false;
        }
        sched.set(Sched::Running);
        true
    }

    /// Records what a poll did.
    pub(crate) fn finish_poll(&self, polled: Polled) -> Outcome {
        let sched = &self.header().sched;
        let pending = polled == Polled::Pending;
        if !pending || self.flag(ABORTED) {
            sched.set(Sched::Done);
            return Outcome {
                requeue: false,
                done: true,
                finished: !pending,
            };
        }
        let requeue = sched.get() == Sched::Notified;
        sched.set(if requeue { Sched::Queued } else { Sched::Idle });
        Outcome {
            requeue,
            done: false,
            finished: false,
        }
    }

    /// Marks the task aborted: done now if it is idle or queued, done when
    /// its poll returns if it is running.
    pub(crate) fn request_abort(&self) -> Abort {
        let sched = &self.header().sched;
        match sched.get() {
            Sched::Idle | Sched::Queued => {
                sched.set(Sched::Done);
                Abort::Now
            }
            Sched::Running | Sched::Notified => {
                self.set_flag(ABORTED);
                Abort::AfterPoll
            }
            Sched::Done => Abort::Done,
        }
    }

    /// A waker of the task that borrows this reference instead of counting
    /// one, for a poll: cloning it counts a reference as usual.
    pub(crate) fn waker_ref(&self) -> WakerRef<'_> {
        // SAFETY: the data pointer is a live cell (`self` is a counted
        // reference to it) and the vtable is `WAKER_VTABLE`, whose functions
        // are sound for it from any thread (see there). No reference was
        // counted for this waker: it is never dropped (`ManuallyDrop`) and
        // cannot outlive `self` (the lifetime), so it never gives back a
        // reference it does not hold; its clones count their own. Its
        // `wake` (by value) cannot be called on it, since that needs an
        // owned `Waker`, which only a clone is.
        let waker =
            unsafe { Waker::from_raw(RawWaker::new(self.ptr.as_ptr().cast(), &WAKER_VTABLE)) };
        WakerRef {
            waker: ManuallyDrop::new(waker),
            _task: PhantomData,
        }
    }

    /// The task reference a task waker holds, without counting; any other
    /// waker is given back.
    pub(crate) fn from_waker(waker: Waker) -> Result<RawTask, Waker> {
        if !std::ptr::eq(waker.vtable(), &WAKER_VTABLE) {
            return Err(waker);
        }
        let waker = ManuallyDrop::new(waker);
        let ptr = waker.data().cast::<Header>().cast_mut();
        // SAFETY: a waker with this vtable holds a counted reference to the
        // cell its data points to (see `waker_clone`); the `ManuallyDrop`
        // moves that reference into the `RawTask` without counting it
        // twice.
        Ok(RawTask {
            ptr: unsafe { NonNull::new_unchecked(ptr) },
        })
    }

    /// The cell's address: tells tasks apart in tests.
    #[cfg(test)]
    pub(crate) fn id(&self) -> *const () {
        self.ptr.as_ptr().cast_const().cast()
    }

    /// References counted now.
    #[cfg(test)]
    pub(crate) fn refs(&self) -> usize {
        self.header().refs.load(Ordering::Relaxed)
    }

    /// Whether `waker` is a waker of this task.
    #[cfg(test)]
    pub(crate) fn is_waker_of(&self, waker: &Waker) -> bool {
        std::ptr::eq(waker.vtable(), &WAKER_VTABLE)
            && std::ptr::eq(waker.data(), self.ptr.as_ptr().cast())
    }
}

/// A task waker borrowed from a reference (see [`RawTask::waker_ref`]).
pub(crate) struct WakerRef<'a> {
    waker: ManuallyDrop<Waker>,
    _task: PhantomData<&'a RawTask>,
}

impl Deref for WakerRef<'_> {
    type Target = Waker;

    fn deref(&self) -> &Waker {
        &self.waker
    }
}

/// The vtable of task wakers. The data pointer is a cell holding one
/// counted reference for the waker (`waker_ref`'s borrowed one excepted).
/// Each function is sound to call from any thread, as `Waker` requires:
/// the count is atomic, and `wake` leaves the rest of the header alone
/// unless it runs on the task's own thread (`owned_here`).
static WAKER_VTABLE: RawWakerVTable =
    RawWakerVTable::new(waker_clone, waker_wake, waker_wake_by_ref, waker_drop);

/// The waker's reference, borrowed for the call.
///
/// # Safety
/// `data` is the data pointer of a live task waker.
unsafe fn borrowed(data: *const ()) -> ManuallyDrop<RawTask> {
    // SAFETY: a live waker holds (or borrows, for `waker_ref`) a counted
    // reference to the cell `data` points to, so it is non-null and alive;
    // the `ManuallyDrop` leaves the count as it is.
    ManuallyDrop::new(RawTask {
        ptr: unsafe { NonNull::new_unchecked(data.cast::<Header>().cast_mut()) },
    })
}

unsafe fn waker_clone(data: *const ()) -> RawWaker {
    // SAFETY: `data` is a live task waker's (the vtable contract).
    let raw = unsafe { borrowed(data) };
    // The new waker owns the reference counted here.
    std::mem::forget(RawTask::clone(&raw));
    RawWaker::new(data, &WAKER_VTABLE)
}

unsafe fn waker_wake(data: *const ()) {
    // SAFETY: `data` is a live task waker's, consumed by this call: its
    // reference moves into the `RawTask`.
    let raw = ManuallyDrop::into_inner(unsafe { borrowed(data) });
    crate::runtime::wake_task(raw);
}

unsafe fn waker_wake_by_ref(data: *const ()) {
    // SAFETY: `data` is a live task waker's (the vtable contract).
    let raw = unsafe { borrowed(data) };
    crate::runtime::wake_task(RawTask::clone(&raw));
}

unsafe fn waker_drop(data: *const ()) {
    // SAFETY: `data` is a live task waker's, dropped by this call: its
    // reference moves into the `RawTask`, which gives it back.
    drop(ManuallyDrop::into_inner(unsafe { borrowed(data) }));
}

impl Clone for RawTask {
    fn clone(&self) -> RawTask {
        // As `Arc` does: a count past `isize::MAX` means references are
        // being leaked, which is a bug, not a use.
        if self.header().refs.fetch_add(1, Ordering::Relaxed) > isize::MAX as usize {
            std::process::abort()
        }
        RawTask { ptr: self.ptr }
    }
}

impl Drop for RawTask {
    fn drop(&mut self) {
        // As `Arc` does: the release orders this reference's uses before
        // the free, and the acquire fence the free after all of them.
        if self.header().refs.fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        fence(Ordering::Acquire);
        let header = self.header();
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
        let stage = header.stage.get();
        // Contents are dropped on the owner thread before the references
        // that may leave it go (see the ground rules). Were one still
        // here on another thread, leaking it is the sound choice.
        if stage != Stage::Taken && stage != Stage::Cancelled && !self.owned_here() {
            return;
        }
        let _free = Free(self.ptr, vtable);
        header.stage.set(Stage::Taken);
        match stage {
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

    /// The untyped reference.
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

    /// Marks the task detached: the runtime drops its output when it
    /// finishes, as nobody will take it.
    pub(crate) fn detach(&self) {
        self.raw.set_flag(DETACHED);
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

    mod pool_model {
        //! The cell pool against a model: blocks handed out never overlap,
        //! keep what is written in them, and chunks go back once empty.

        use super::super::pool::Pool;
        use proptest::prelude::*;
        use std::alloc::Layout;
        use std::ptr::NonNull;

        #[derive(Debug, Clone)]
        enum Op {
            /// Allocates a block of this size (bytes; some above the
            /// pool's largest block, and one over-aligned).
            Alloc(usize),
            /// Frees the live block at this index (modulo their number).
            Free(usize),
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                3 => prop_oneof![1usize..64, 64usize..600, Just(24), Just(40)].prop_map(Op::Alloc),
                2 => any::<usize>().prop_map(Op::Free),
            ]
        }

        /// Fills a block with a byte pattern of its own.
        fn fill(ptr: NonNull<u8>, len: usize, tag: u8) {
            // SAFETY: the block is `len` bytes and handed out to the test.
            unsafe { ptr.as_ptr().write_bytes(tag, len) };
        }

        fn holds(ptr: NonNull<u8>, len: usize, tag: u8) -> bool {
            // SAFETY: as for `fill`.
            let bytes = unsafe { std::slice::from_raw_parts(ptr.as_ptr(), len) };
            bytes.iter().all(|&b| b == tag)
        }

        proptest! {
            #[test]
            fn blocks_never_overlap_and_empty_chunks_go_back(
                ops in prop::collection::vec(op(), 1..600),
            ) {
                let pool = Pool::new();
                let mut live: Vec<(NonNull<u8>, Layout, u8)> = Vec::new();
                let mut tag = 0u8;
                for op in ops {
                    match op {
                        Op::Alloc(size) => {
                            // 40 bytes come over-aligned, for the global allocator.
                            let align = match size {
                                40 => 32,
                                _ => 8.min(size.next_power_of_two()),
                            };
                            let layout = Layout::from_size_align(size, align).unwrap();
                            let ptr = pool.alloc(layout);
                            prop_assert_eq!(ptr.as_ptr().addr() % align, 0);
                            tag = tag.wrapping_add(1);
                            fill(ptr, size, tag);
                            live.push((ptr, layout, tag));
                        }
                        Op::Free(i) if !live.is_empty() => {
                            let (ptr, layout, tag) = live.swap_remove(i % live.len());
                            prop_assert!(holds(ptr, layout.size(), tag), "a block was overwritten");
                            // SAFETY: handed out by this pool with this layout, and
                            // dropped from `live`.
                            unsafe { pool.dealloc(ptr, layout) };
                        }
                        Op::Free(_) => {}
                    }
                }
                for &(ptr, layout, tag) in &live {
                    prop_assert!(holds(ptr, layout.size(), tag), "a block was overwritten");
                }
                for (ptr, layout, _) in live.drain(..) {
                    // SAFETY: as above.
                    unsafe { pool.dealloc(ptr, layout) };
                }
                // One empty chunk per size used may stay; no more.
                prop_assert!(pool.chunks_with_room() <= super::super::pool::SIZES);
            }
        }

        #[test]
        fn a_burst_of_blocks_is_given_back_but_one_chunk() {
            let pool = Pool::new();
            let layout = Layout::new::<[u64; 4]>();
            let blocks: Vec<_> = (0..10_000).map(|_| pool.alloc(layout)).collect();
            assert!(pool.chunks_with_room() <= 1, "full chunks are not listed");
            for ptr in blocks {
                // SAFETY: handed out by this pool with this layout.
                unsafe { pool.dealloc(ptr, layout) };
            }
            assert_eq!(pool.chunks_with_room(), 1, "the burst's chunks went back");
        }
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
    fn a_waker_keeps_the_cell_alive_but_not_its_contents() {
        let (drops, held) = probe();
        let (raw, join) = RawTask::new(async move {
            let _held = held;
            std::future::pending::<()>().await;
        });
        let waker = raw.waker_ref().clone();
        assert!(raw.is_waker_of(&waker));
        assert_eq!(raw.poll(&mut noop_cx()), Polled::Pending);
        // What the runtime does when the task goes: the future is dropped
        // on this thread, while a waker still holds the cell.
        assert!(raw.cancel());
        drop((raw, join));
        assert_eq!(drops.get(), 1);
        let again = waker.clone();
        drop(waker);
        // Taking the reference back from a waker counts nothing twice.
        let back = RawTask::from_waker(again).expect("a task waker");
        assert_eq!(back.stage(), Stage::Cancelled);
        drop(back);
    }

    #[test]
    fn a_waker_dropped_on_another_thread_frees_an_emptied_cell() {
        let (raw, join) = RawTask::new(async { 1 });
        assert_eq!(raw.poll(&mut noop_cx()), Polled::Finished);
        let waker = raw.waker_ref().clone();
        assert_eq!(join.take(), Some(Ok(1)));
        drop((raw, join));
        // The waker is the last reference; `wake` there does nothing.
        std::thread::spawn(move || {
            waker.wake_by_ref();
            drop(waker);
        })
        .join()
        .expect("the thread does not panic");
    }

    #[test]
    fn a_join_waker_stored_in_a_cell_is_kept_once_per_waker() {
        let (raw, join) = RawTask::new(async { 1 });
        let (other, _other_join) = RawTask::new(async { 2 });
        let waker = other.waker_ref().clone();
        join.set_join_waker(&waker);
        join.set_join_waker(&waker.clone());
        raw.poll(&mut noop_cx());
        let taken = raw.take_join_waker().expect("the waker was stored");
        assert!(other.is_waker_of(&taken));
        assert!(raw.take_join_waker().is_none());
        drop((raw, join, taken, waker, other));
    }
}
