//! The executor: tasks, the run queue, and the turn that ties them to the
//! host.
//!
//! Ground rules:
//! - One runtime per instance (per thread natively), created on first use.
//!   It is single-threaded: tasks need not be `Send`.
//! - The runtime state lives in one `RefCell` that is never borrowed while
//!   user code runs. Tasks are taken off the queue to be polled, and
//!   user values (futures, outputs) are dropped after the borrow ends.
//!   Wakers that are not the runtime's own are collected and woken after
//!   the borrow ends too.
//! - Tasks are cells (see `raw_task`) that wakers and the run queue hold
//!   by reference; no table lists them. The runtime's own reference to an
//!   unfinished task is a count in its cell (`RawTask::own`), so a spawn
//!   costs one allocation and a queue push. The price: a runtime that goes
//!   away (natively, when its thread exits; a component's never does)
//!   cannot find its unfinished tasks to drop them, and leaks them.
//! - A turn runs one batch (the tasks queued when it starts; tasks woken
//!   during the batch wait for the next one), with one exception: every 64
//!   task polls inside a batch the clock is read, and the tasks of timers
//!   that fell due meanwhile run next, ahead of the rest of the batch. A
//!   long batch (a call that spawns 100,000 tasks queues them all at once)
//!   would otherwise hold every timer due during it until it ends; a task
//!   whose deadline passed has waited longer than any task behind it.
//!   Then, if anything is still
//!   runnable, it makes at most one non-blocking readiness check (the clock
//!   for timers, and one `poll` with an always-ready pollable if pollables
//!   are registered), and only once 64 task polls have run since the last
//!   check. If nothing is runnable it makes one blocking `poll` over every
//!   registered pollable plus the single timer pollable.
//! - In mode C the instance never blocks: `run_until_idle` runs turns
//!   until nothing is runnable and then the glue *parks*, handing the host
//!   the same poll list.
//! - In mode N there are no pollables and the instance never blocks either:
//!   the component-model tasks of export calls drive the runtime (see
//!   `native`), and the timers share one `wait-until` future.

mod coop;
#[cfg(any(not(target_family = "wasm"), feature = "native"))]
pub(crate) mod native;
#[cfg(any(not(target_family = "wasm"), not(feature = "native")))]
mod registry;
#[cfg(test)]
mod registry_model;
mod run_queue;
mod stats;
mod task;
mod timers;

use std::cell::{Cell, RefCell};
use std::future::Future;
#[cfg(any(not(target_family = "wasm"), not(feature = "native")))]
use std::pin::pin;
#[cfg(any(not(target_family = "wasm"), not(feature = "native")))]
use std::task::Poll;
use std::task::{Context, Waker};

use crate::backend;
use crate::raw;
use crate::raw_task::{self, RawTask};
#[cfg(any(not(target_family = "wasm"), not(feature = "native")))]
use registry::Registry;
use run_queue::RunQueue;
pub use stats::Stats;
pub use task::{AbortHandle, AbortOnDropHandle, JoinError, JoinHandle, SpawnError};
pub(crate) use timers::Timers;

pub(crate) use coop::{poll_proceed, unconstrained};

/// Most tasks alive at once: about four million, far more than a
/// component's memory holds, so that a runaway spawn loop fails with a
/// `SpawnError` rather than by running out of memory.
pub(crate) const MAX_TASKS: usize = raw::INDEX_MASK;

pub(crate) struct Runtime {
    /// Unfinished tasks, wasync's own included. Each holds a reference
    /// the runtime owns (`RawTask::own`), which keeps a detached task
    /// alive; no table lists them, so a spawn costs no slot.
    live: usize,
    /// Tasks to poll, each entry a reference (a task is queued once).
    queue: RunQueue,
    main_woken: bool,
    /// Tasks of the author's not yet finished (internal ones excluded).
    unfinished: usize,
    #[cfg(any(not(target_family = "wasm"), not(feature = "native")))]
    pub(crate) registry: Registry,
    pub(crate) timers: Timers,
    #[cfg(any(not(target_family = "wasm"), not(feature = "native")))]
    poller: backend::Poller,
    /// An always-ready pollable for non-blocking checks, made on first use.
    #[cfg(any(not(target_family = "wasm"), not(feature = "native")))]
    immediate: Option<backend::Pollable>,
    /// Reused buffers: the handles of one poll, and the ready positions.
    #[cfg(any(not(target_family = "wasm"), not(feature = "native")))]
    handles: Vec<u32>,
    #[cfg(any(not(target_family = "wasm"), not(feature = "native")))]
    ready: Vec<u32>,
    /// Mode N: calls, home, the timer task.
    #[cfg(any(not(target_family = "wasm"), feature = "native"))]
    pub(crate) native: native::Native,
    /// Foreign wakers collected under the borrow, woken after it.
    pending_wakes: Vec<Waker>,
    pub(crate) stats: Stats,
    /// Mode C: ids of calls that finished since the last park.
    #[cfg(any(
        not(target_family = "wasm"),
        all(feature = "concurrent", not(feature = "native"))
    ))]
    pub(crate) finished_calls: Vec<u32>,
    /// Task polls since the host was last checked.
    polls_since_check: u32,
    /// Mode C: the registry generation and armed timer pollable of the
    /// last park.
    #[cfg(any(
        not(target_family = "wasm"),
        all(feature = "concurrent", not(feature = "native"))
    ))]
    last_park: Option<(u64, Option<u64>)>,
    /// Most tasks alive at once: `MAX_TASKS`, lowered by unit tests.
    task_limit: usize,
}

thread_local! {
    static RUNTIME: RefCell<Runtime> = RefCell::new(Runtime::new());
    /// Wakes of tasks that arrived while the runtime was borrowed.
    static DEFERRED: RefCell<Vec<RawTask>> = const { RefCell::new(Vec::new()) };
    /// A wake of the main future arrived while the runtime was borrowed.
    static DEFERRED_MAIN: Cell<bool> = const { Cell::new(false) };
    static HAS_DEFERRED: Cell<bool> = const { Cell::new(false) };
    /// Set while the runtime is polling a task or the main future.
    static IN_RUNTIME: Cell<bool> = const { Cell::new(false) };
    /// Set while `block_on` (or a mode C entry) drives the runtime.
    static DRIVING: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with the runtime borrowed. `f` must not run user code.
pub(crate) fn with<R>(f: impl FnOnce(&mut Runtime) -> R) -> R {
    let out = RUNTIME.with(|rt| f(&mut rt.borrow_mut()));
    // Mode N: wake home if `f` made work for it (outside the borrow).
    #[cfg(any(not(target_family = "wasm"), feature = "native"))]
    native::kick();
    out
}

/// Like [`with`], but does nothing if the runtime is gone (thread exit).
pub(crate) fn try_with<R>(f: impl FnOnce(&mut Runtime) -> R) -> Option<R> {
    RUNTIME
        .try_with(|rt| rt.try_borrow_mut().ok().map(|mut rt| f(&mut rt)))
        .ok()
        .flatten()
}

/// The entry point of every task waker (see `raw_task`). A wake on
/// another thread than the task's does nothing: its runtime is there.
pub(crate) fn wake_task(raw: RawTask) {
    if !raw.owned_here() {
        return;
    }
    let deferred = RUNTIME
        .try_with(|rt| match rt.try_borrow_mut() {
            Ok(mut rt) => {
                rt.schedule_task(raw);
                None
            }
            Err(_) => Some(raw),
        })
        .ok()
        .flatten();
    if let Some(raw) = deferred {
        let _ = DEFERRED.try_with(|d| d.borrow_mut().push(raw));
        let _ = HAS_DEFERRED.try_with(|f| f.set(true));
    }
    // Mode N: a task woken from outside a drive needs home.
    #[cfg(any(not(target_family = "wasm"), feature = "native"))]
    native::kick();
}

/// The entry point of the main future's waker (see `raw`).
pub(crate) fn wake_main() {
    let done = RUNTIME
        .try_with(|rt| match rt.try_borrow_mut() {
            Ok(mut rt) => {
                rt.main_woken = true;
                true
            }
            Err(_) => false,
        })
        .unwrap_or(true);
    if !done {
        let _ = DEFERRED_MAIN.try_with(|d| d.set(true));
        let _ = HAS_DEFERRED.try_with(|f| f.set(true));
    }
    // Mode N: a task woken from outside a drive needs home.
    #[cfg(any(not(target_family = "wasm"), feature = "native"))]
    native::kick();
}

/// Panics with a message saying how to use wasync futures correctly, if
/// called from outside the runtime.
#[track_caller]
pub(crate) fn assert_in_runtime(what: &str) {
    if !IN_RUNTIME.with(Cell::get) {
        panic!(
            "{what} was polled outside the wasync runtime; run it inside \
             `wasync::block_on`, a task from `wasync::spawn`, or an \
             `#[async_export]` function, and not under another executor"
        );
    }
}

/// Whether the calling code runs inside the runtime (a task or `block_on`).
///
/// # Examples
///
/// ```
/// assert!(!wasync::runtime::in_runtime());
/// assert!(wasync::block_on(async { wasync::runtime::in_runtime() }));
/// ```
pub fn in_runtime() -> bool {
    IN_RUNTIME.with(Cell::get)
}

/// Runs `f` flagged as running inside the runtime, with a fresh budget.
fn enter_poll<R>(f: impl FnOnce() -> R) -> R {
    struct Leave(bool);
    impl Drop for Leave {
        fn drop(&mut self) {
            IN_RUNTIME.with(|c| c.set(self.0));
        }
    }
    let _leave = Leave(IN_RUNTIME.with(|c| c.replace(true)));
    coop::with_budget(f)
}

impl Runtime {
    // The sim backend's poller is a unit struct, the wasi one is not.
    #[allow(clippy::default_constructed_unit_structs)]
    fn new() -> Runtime {
        Runtime {
            live: 0,
            queue: RunQueue::default(),
            main_woken: false,
            unfinished: 0,
            #[cfg(any(not(target_family = "wasm"), not(feature = "native")))]
            registry: Registry::default(),
            timers: Timers::default(),
            #[cfg(any(not(target_family = "wasm"), not(feature = "native")))]
            poller: backend::Poller::default(),
            #[cfg(any(not(target_family = "wasm"), not(feature = "native")))]
            immediate: None,
            #[cfg(any(not(target_family = "wasm"), not(feature = "native")))]
            handles: Vec::new(),
            #[cfg(any(not(target_family = "wasm"), not(feature = "native")))]
            ready: Vec::new(),
            #[cfg(any(not(target_family = "wasm"), feature = "native"))]
            native: native::Native::default(),
            pending_wakes: Vec::new(),
            stats: Stats::default(),
            #[cfg(any(
                not(target_family = "wasm"),
                all(feature = "concurrent", not(feature = "native"))
            ))]
            finished_calls: Vec::new(),
            polls_since_check: 0,
            #[cfg(any(
                not(target_family = "wasm"),
                all(feature = "concurrent", not(feature = "native"))
            ))]
            last_park: None,
            task_limit: MAX_TASKS,
        }
    }

    /// Queues a woken task, unless it is queued, running (then it is
    /// queued again when its poll returns) or done. Takes the waker's
    /// reference, which becomes the queue's.
    pub(crate) fn schedule_task(&mut self, raw: RawTask) {
        schedule(&mut self.queue, raw);
    }

    /// Adds a task and queues it. A full runtime gives the task back, for
    /// the caller to drop outside the borrow: its future is user code.
    fn insert_task(&mut self, raw: RawTask) -> Result<(), RawTask> {
        if self.live >= self.task_limit {
            return Err(raw);
        }
        if !raw.is_internal() {
            self.stats.spawned += 1;
            self.unfinished += 1;
        }
        self.live += 1;
        raw.own();
        // New cells start queued: this reference becomes the queue's.
        self.queue.push_back(raw);
        #[cfg(any(not(target_family = "wasm"), feature = "native"))]
        native::note_work();
        Ok(())
    }

    /// Lowers the most tasks alive at once, so that tests reach it.
    #[cfg(test)]
    pub(crate) fn set_task_limit(&mut self, limit: usize) {
        self.task_limit = limit.min(MAX_TASKS);
    }

    /// Mode N: home must look at the timers if their next tick moved away
    /// from the armed one (a timer came or went outside a drive).
    #[cfg(any(not(target_family = "wasm"), feature = "native"))]
    pub(crate) fn timers_changed(&mut self) {
        if self.timers.next_tick() != self.native.armed {
            native::note_work();
        }
    }

    /// Takes the runtime's reference to a task that is done now, finished
    /// or aborted, and counts it: no longer unfinished (if it is the
    /// author's), and unclaimed while a join handle may take its result.
    fn retire_task(&mut self, raw: &RawTask) -> Option<RawTask> {
        if !raw.is_internal() {
            self.unfinished -= 1;
        }
        task::retire(raw);
        self.live -= 1;
        let owned = raw.disown();
        debug_assert!(owned.is_some(), "an unfinished task is owned");
        owned
    }

    #[cfg(any(not(target_family = "wasm"), not(feature = "native")))]
    fn has_runnable(&self) -> bool {
        !self.queue.is_empty() || self.main_woken
    }

    #[cfg(any(not(target_family = "wasm"), not(feature = "native")))]
    fn immediate_handle(&mut self) -> u32 {
        let p = self.immediate.get_or_insert_with(backend::immediate);
        backend::handle(p)
    }

    /// One poll of the host. Blocking polls wait for something in the
    /// registry or the timer pollable; non-blocking ones add the
    /// always-ready pollable and return at once.
    #[cfg(any(not(target_family = "wasm"), not(feature = "native")))]
    fn poll_host(&mut self, blocking: bool) {
        self.handles.clear();
        self.handles.extend_from_slice(self.registry.list());
        if blocking {
            if let Some(h) = self.timers.armed_handle() {
                self.handles.push(h);
            }
        } else {
            let h = self.immediate_handle();
            self.handles.push(h);
        }
        if self.handles.is_empty() {
            panic!(
                "wasync: the runtime would wait forever: no task is runnable, and no timer \
                 or pollable is registered that could wake one (a future awaits something \
                 that nothing will ever complete)"
            );
        }
        if blocking {
            self.stats.blocking_polls += 1;
        } else {
            self.stats.nonblocking_polls += 1;
        }
        self.stats.pollables_polled += self.handles.len() as u64;
        self.stats.max_poll_list = self.stats.max_poll_list.max(self.handles.len());
        self.poller.poll(&self.handles, &mut self.ready);
        let ready = std::mem::take(&mut self.ready);
        self.fire_registry(&ready);
        self.ready = ready;
    }

    /// The registry, the timers and the stats, beside the parts that
    /// scheduling touches, so that the wheel and the registry can wake tasks
    /// while they are borrowed.
    fn split(&mut self) -> Parts<'_> {
        let Runtime {
            #[cfg(any(not(target_family = "wasm"), not(feature = "native")))]
            registry,
            timers,
            stats,
            queue,
            main_woken,
            pending_wakes,
            #[cfg(any(not(target_family = "wasm"), feature = "native"))]
            native,
            ..
        } = self;
        Parts {
            #[cfg(any(not(target_family = "wasm"), not(feature = "native")))]
            registry,
            timers,
            stats,
            sched: Scheduler {
                queue,
                main_woken,
                pending_wakes,
                #[cfg(any(not(target_family = "wasm"), feature = "native"))]
                native,
            },
        }
    }

    /// Wakes the waiters of the registry entries the host reported ready
    /// (`ready` holds positions in the poll list; later ones are not the
    /// registry's).
    #[cfg(any(not(target_family = "wasm"), not(feature = "native")))]
    fn fire_registry(&mut self, ready: &[u32]) {
        let registered = self.registry.len() as u32;
        if ready.iter().any(|&p| p < registered) {
            let Parts {
                registry,
                mut sched,
                ..
            } = self.split();
            registry.fire(ready, |w| sched.wake(w));
        }
    }

    /// Fires every timer due by now.
    fn fire_timers(&mut self) {
        if self.timers.pending() == 0 {
            return;
        }
        let now = backend::now_ns();
        let Parts {
            timers,
            stats,
            mut sched,
            ..
        } = self.split();
        stats.timers_fired += timers.advance(now, |w| sched.wake(w));
    }
}

/// The runtime split into the parts that wake and the parts that schedule.
struct Parts<'a> {
    #[cfg(any(not(target_family = "wasm"), not(feature = "native")))]
    registry: &'a mut Registry,
    timers: &'a mut Timers,
    stats: &'a mut Stats,
    sched: Scheduler<'a>,
}

/// The parts of the runtime that scheduling touches, split off so that the
/// wheel and the registry can wake tasks while they are borrowed.
struct Scheduler<'a> {
    queue: &'a mut RunQueue,
    main_woken: &'a mut bool,
    pending_wakes: &'a mut Vec<Waker>,
    #[cfg(any(not(target_family = "wasm"), feature = "native"))]
    native: &'a mut native::Native,
}

impl Scheduler<'_> {
    fn wake(&mut self, waker: Waker) {
        #[cfg(any(not(target_family = "wasm"), feature = "native"))]
        if let Some(packed) = raw::call_key(&waker) {
            if let Some(cm) = self.native.wake_call(packed) {
                self.pending_wakes.push(cm);
            }
            return;
        }
        let waker = match RawTask::from_waker(waker) {
            Ok(raw) => return schedule(self.queue, raw),
            Err(waker) => waker,
        };
        if raw::is_main(&waker) {
            *self.main_woken = true;
            return;
        }
        self.pending_wakes.push(waker);
    }
}

/// Queues a woken task (see `Runtime::schedule_task`). A task of another
/// thread's runtime is not touched.
fn schedule(queue: &mut RunQueue, raw: RawTask) {
    if raw.owned_here() && raw.mark_queued() {
        queue.push_back(raw);
        #[cfg(any(not(target_family = "wasm"), feature = "native"))]
        native::note_work();
    }
}

/// Wakes what was collected under the borrow: foreign wakers, and our own
/// wakes that arrived while it was held.
fn flush_wakes() {
    let mut wakers = with(|rt| std::mem::take(&mut rt.pending_wakes));
    for w in wakers.drain(..) {
        w.wake();
    }
    // Give the allocation back for the next turn.
    with(|rt| {
        if rt.pending_wakes.is_empty() {
            rt.pending_wakes = wakers;
        }
    });
    if HAS_DEFERRED.with(|f| f.replace(false)) {
        let deferred = DEFERRED.with(|d| std::mem::take(&mut *d.borrow_mut()));
        let main = DEFERRED_MAIN.with(|d| d.replace(false));
        with(|rt| {
            rt.main_woken |= main;
            for raw in deferred {
                rt.schedule_task(raw);
            }
        });
    }
}

/// Whether `flush_wakes` has anything to do.
fn wakes_pending(rt: &Runtime) -> bool {
    !rt.pending_wakes.is_empty() || HAS_DEFERRED.with(Cell::get)
}

impl Runtime {
    /// Pops the next queued task that is still runnable: the queue's
    /// reference becomes the poll's.
    fn pop_runnable(&mut self) -> Option<RawTask> {
        loop {
            let raw = self.queue.pop_front()?;
            // Entries of aborted tasks are skipped here (not the last
            // reference of a cell with contents: see `abort`).
            if raw.start_poll() {
                self.stats.tasks_polled += 1;
                self.polls_since_check += 1;
                return Some(raw);
            }
        }
    }

    /// Records what a poll of task `raw` did: requeues it, or removes it
    /// once it is done and schedules its joiner. What runs user code is
    /// left to the caller, for after the borrow.
    fn finish_poll(&mut self, raw: RawTask, polled: raw_task::Polled) -> Aftermath {
        let outcome = raw.finish_poll(polled);
        if !outcome.done {
            if outcome.requeue {
                self.queue.push_back(raw);
            } else {
                // The runtime still owns the task: this is not the last
                // reference.
                drop(raw);
            }
            return Aftermath {
                done: None,
                foreign: None,
                flush: wakes_pending(self),
            };
        }
        // The poll's reference outlives the runtime's: dropping that frees
        // nothing.
        drop(self.retire_task(&raw));
        // The joiner is usually one of our tasks: schedule it directly.
        let foreign = match raw.take_join_waker().map(RawTask::from_waker) {
            Some(Ok(joiner)) => {
                self.schedule_task(joiner);
                None
            }
            Some(Err(w)) if raw::is_main(&w) => {
                self.main_woken = true;
                None
            }
            Some(Err(w)) => Some(w),
            None => None,
        };
        Aftermath {
            done: Some((raw, outcome.finished)),
            foreign,
            flush: wakes_pending(self),
        }
    }
}

/// What is left to do after a poll, outside the runtime borrow.
struct Aftermath {
    /// The cell of a task that is done, and whether it finished (rather
    /// than being aborted during its poll).
    done: Option<(raw_task::RawTask, bool)>,
    /// The joiner's waker, if it is not one of ours.
    foreign: Option<Waker>,
    /// Wakes were collected under the borrow.
    flush: bool,
}

impl Aftermath {
    /// Runs user code (destructors, foreign wakers), outside the borrow.
    fn run(self) {
        if let Some((raw, finished)) = self.done {
            if finished {
                raw.drop_unclaimed_output();
            } else {
                // Aborted during its own poll.
                raw.cancel();
            }
            // Frees the cell if nothing else holds it.
            drop(raw);
        }
        if let Some(w) = self.foreign {
            w.wake();
        }
        if self.flush || HAS_DEFERRED.with(Cell::get) {
            flush_wakes();
        }
    }
}

/// Pops and polls the next queued task. Returns false if the queue is empty.
fn run_next() -> bool {
    let Some(raw) = with(|rt| rt.pop_runnable()) else {
        return false;
    };
    let waker = raw.waker_ref();
    let mut cx = Context::from_waker(&waker);
    let polled = enter_poll(|| raw.poll(&mut cx));
    with(|rt| rt.finish_poll(raw, polled)).run();
    true
}

/// Runs one batch: the tasks queued when it starts.
fn run_batch() -> usize {
    let n = with(|rt| {
        rt.stats.turns += 1;
        rt.queue.len()
    });
    for polled in 1..=n {
        if !run_next() {
            break;
        }
        if polled % CHECK_EVERY as usize == 0 && polled < n {
            fire_timers_first();
        }
    }
    n
}

/// Inside a batch: fires the timers due by now and moves their tasks to
/// the front of the queue, so that they run next rather than after the
/// rest of the batch. Pollables are left to the check between batches
/// (asking the host about them costs a call over the whole poll list).
fn fire_timers_first() {
    let flush = with(|rt| {
        if rt.timers.pending() == 0 {
            return false;
        }
        // The wheel's wakes queue the woken tasks on an empty queue, and
        // the rest of the batch goes after them.
        let rest = std::mem::take(&mut rt.queue);
        rt.fire_timers();
        rt.queue.append(rest);
        wakes_pending(rt)
    });
    if flush {
        flush_wakes();
    }
}

/// What the host is asked between batches.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Check {
    /// Something is runnable: look without waiting.
    NonBlocking,
    /// Nothing is runnable: wait for a pollable or the timer.
    #[cfg(any(not(target_family = "wasm"), not(feature = "native")))]
    Blocking,
}

/// Task polls between non-blocking checks. Small enough that a busy
/// runtime notices due timers and ready I/O within a few microseconds of
/// work; large enough that a runtime full of short tasks does not pay a
/// host call every batch.
const CHECK_EVERY: u32 = 64;

fn check_host(check: Check) {
    let skip = with(|rt| {
        if check == Check::NonBlocking && rt.polls_since_check < CHECK_EVERY {
            return true;
        }
        rt.polls_since_check = 0;
        #[cfg(any(not(target_family = "wasm"), not(feature = "native")))]
        {
            if check == Check::Blocking {
                rt.timers.arm();
            }
            if check == Check::Blocking || rt.registry.len() > 0 {
                rt.poll_host(check == Check::Blocking);
            }
        }
        rt.fire_timers();
        false
    });
    if !skip {
        flush_wakes();
    }
}

/// Runs batches until no task is runnable, with one non-blocking check of
/// the host after each. Modes C and N run this way: the instance never
/// blocks.
#[cfg(any(
    not(target_family = "wasm"),
    feature = "concurrent",
    feature = "native"
))]
pub(crate) fn run_until_idle() {
    // Most mode C entries find nothing to do here: a call that finished at
    // its first poll woke nothing. One look then stands for the loop's
    // first round, which would flush no wakes, run an empty batch and skip
    // the check of the host; the batch is still counted.
    let idle = with(|rt| {
        let idle = rt.queue.is_empty() && !wakes_pending(rt) && rt.polls_since_check < CHECK_EVERY;
        if idle {
            rt.stats.turns += 1;
        }
        idle
    });
    if idle {
        return;
    }
    loop {
        flush_wakes();
        run_batch();
        // Timers and pollables that became ready meanwhile may queue more.
        check_host(Check::NonBlocking);
        if with(|rt| rt.queue.is_empty()) {
            return;
        }
    }
}

/// Mode C: hands the host what the instance now waits on (the registry's
/// poll list plus the armed timer pollable) and the calls finished since the
/// last park. Skipped when neither changed since the last park: the host
/// still holds that list, and every handle in it is still alive. Returns
/// whether it called the host.
#[cfg(any(
    not(target_family = "wasm"),
    all(feature = "concurrent", not(feature = "native"))
))]
pub(crate) fn park() -> bool {
    with(|rt| {
        rt.timers.arm();
        let key = (rt.registry.generation(), rt.timers.armed_serial());
        if rt.finished_calls.is_empty() && rt.last_park == Some(key) {
            return false;
        }
        rt.last_park = Some(key);
        rt.handles.clear();
        rt.handles.extend_from_slice(rt.registry.list());
        if let Some(h) = rt.timers.armed_handle() {
            rt.handles.push(h);
        }
        rt.poller.park(&rt.handles, &rt.finished_calls);
        rt.finished_calls.clear();
        rt.stats.blocking_polls += 1;
        rt.stats.pollables_polled += rt.handles.len() as u64;
        rt.stats.max_poll_list = rt.stats.max_poll_list.max(rt.handles.len());
        true
    })
}

/// Mode C: applies the host's report of which parked pollables are ready
/// (positions in the last parked list), then fires due timers.
#[cfg(any(
    not(target_family = "wasm"),
    all(feature = "concurrent", not(feature = "native"))
))]
pub(crate) fn apply_ready(ready: &[u32]) {
    with(|rt| {
        rt.fire_registry(ready);
        rt.fire_timers();
    });
    flush_wakes();
}

/// Mode C: whether call `id` finished; if so it is dropped from the list of
/// finished calls to report (its result goes straight back to the host).
#[cfg(any(
    not(target_family = "wasm"),
    all(feature = "concurrent", not(feature = "native"))
))]
pub(crate) fn take_finished(id: u32) -> bool {
    with(|rt| match rt.finished_calls.iter().position(|&c| c == id) {
        Some(i) => {
            rt.finished_calls.swap_remove(i);
            true
        }
        None => false,
    })
}

/// Mode C: polls a new call's future once, in its `start` entry, before it
/// is made a task, if no task is runnable. `None` if one is: the call then
/// waits its turn as a task, behind them. Most calls finish at their first
/// poll, and need no task at all (see `concurrent::start`).
///
/// The poll counts like a task's towards the next check of the host. Its
/// waker is the main future's: a call left pending is polled again at once
/// as a task, whose waker every future of wasync puts in place of this
/// one. A wake of it meanwhile marks `block_on`'s main future woken, which
/// no mode C entry runs (they refuse to nest), and a later `block_on`
/// starts woken anyway.
#[cfg(any(
    not(target_family = "wasm"),
    all(feature = "concurrent", not(feature = "native"))
))]
pub(crate) fn poll_first<F: Future + ?Sized>(
    future: std::pin::Pin<&mut F>,
) -> Option<Poll<F::Output>> {
    let idle = with(|rt| {
        let idle = rt.queue.is_empty();
        if idle {
            rt.stats.tasks_polled += 1;
            rt.polls_since_check += 1;
        }
        idle
    });
    if !idle {
        return None;
    }
    let waker = raw::main_waker();
    let mut cx = Context::from_waker(&waker);
    Some(enter_poll(|| future.poll(&mut cx)))
}

/// Marks the calling code as driving the runtime; nested drivers panic.
#[cfg(any(not(target_family = "wasm"), not(feature = "native")))]
pub(crate) struct DriveGuard(());

#[cfg(any(not(target_family = "wasm"), not(feature = "native")))]
impl DriveGuard {
    #[track_caller]
    pub(crate) fn enter(what: &str) -> DriveGuard {
        if DRIVING.with(|d| d.replace(true)) {
            panic!(
                "{what} was called while the wasync runtime is already running (for example \
                 a `block_on` inside a task or an async export); inside async code, `.await` \
                 the future instead, or `wasync::spawn` it"
            );
        }
        DriveGuard(())
    }

    /// Like [`DriveGuard::enter`], but `None` instead of a panic when the
    /// runtime is already being driven.
    #[cfg(any(not(target_family = "wasm"), feature = "concurrent"))]
    pub(crate) fn try_enter() -> Option<DriveGuard> {
        (!DRIVING.with(|d| d.replace(true))).then_some(DriveGuard(()))
    }
}

#[cfg(any(not(target_family = "wasm"), not(feature = "native")))]
impl Drop for DriveGuard {
    fn drop(&mut self) {
        DRIVING.with(|d| d.set(false));
    }
}

/// Mode N: always panics; see the other modes' `block_on` for why and what
/// to use instead.
#[cfg(all(target_family = "wasm", feature = "native"))]
#[track_caller]
pub fn block_on<F: Future>(future: F) -> F::Output {
    drop(future);
    panic!("{}", native::BLOCK_ON_IN_MODE_N)
}

/// Runs a future to completion on the runtime, running spawned tasks, timers
/// and I/O while it waits. The future need not be `'static`.
///
/// Tasks that are still unfinished when the future completes stay queued
/// and continue the next time the runtime runs.
///
/// # Panics
///
/// Panics if called while the runtime is already running (inside a task,
/// or inside an async export): `.await` the future there instead.
///
/// Always panics in mode N (a WASI 0.3 component): blocking would stall
/// every call in flight in the instance, and 0.3 offers nothing to block
/// on. Write an async export (`#[async_export]`) and `.await` there, or
/// `wasync::spawn` the work.
///
/// # Examples
///
/// ```
/// let answer = wasync::block_on(async {
///     let task = wasync::spawn(async { 6 * 7 });
///     task.await.unwrap()
/// });
/// assert_eq!(answer, 42);
/// ```
#[cfg(any(not(target_family = "wasm"), not(feature = "native")))]
#[track_caller]
pub fn block_on<F: Future>(future: F) -> F::Output {
    let _guard = DriveGuard::enter("wasync::block_on");
    let mut future = pin!(future);
    let waker = raw::main_waker();
    let mut cx = Context::from_waker(&waker);
    with(|rt| rt.main_woken = true);
    loop {
        let woken = with(|rt| {
            let woken = std::mem::take(&mut rt.main_woken);
            // The main future counts like a task towards the next check of
            // the host, or a main future that keeps yielding would starve
            // timers and I/O.
            rt.polls_since_check += u32::from(woken);
            woken
        });
        if woken {
            if let Poll::Ready(out) = enter_poll(|| future.as_mut().poll(&mut cx)) {
                return out;
            }
            flush_wakes();
        }
        run_batch();
        let check = if with(|rt| rt.has_runnable()) {
            Check::NonBlocking
        } else {
            Check::Blocking
        };
        check_host(check);
    }
}

/// A snapshot of the runtime's counters and gauges.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// wasync::block_on(wasync::time::sleep(Duration::from_millis(5)));
/// let stats = wasync::runtime::stats();
/// assert_eq!(stats.live_timers, 0);
/// assert!(stats.blocking_polls >= 1);
/// ```
pub fn stats() -> Stats {
    with(|rt| {
        let mut s = rt.stats;
        s.live_tasks = rt.unfinished + task::unclaimed();
        s.live_timers = rt.timers.len();
        s.timer_rearms = rt.timers.rearms;
        #[cfg(any(not(target_family = "wasm"), not(feature = "native")))]
        {
            s.registered_pollables = rt.registry.len();
            s.waiters = rt.registry.waiters();
            s.timer_armed = rt.timers.armed_handle().is_some();
        }
        #[cfg(any(not(target_family = "wasm"), feature = "native"))]
        {
            s.timer_armed |= rt.native.armed.is_some();
        }
        s
    })
}

/// Sets every counter of [`stats`](fn@stats) back to zero (gauges are unaffected).
///
/// # Examples
///
/// ```
/// wasync::block_on(wasync::task::yield_now());
/// wasync::runtime::reset_counters();
/// assert_eq!(wasync::runtime::stats().turns, 0);
/// ```
pub fn reset_counters() {
    with(|rt| {
        rt.stats = Stats::default();
        rt.timers.rearms = 0;
    });
}

#[cfg(any(
    not(target_family = "wasm"),
    all(feature = "concurrent", not(feature = "native"))
))]
pub(crate) use task::spawn_call;
pub use task::{spawn, try_spawn};
