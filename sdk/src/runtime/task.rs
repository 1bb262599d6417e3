//! Tasks: spawning, joining, aborting.
//!
//! A task is one allocation: its future and, once it finishes, its output,
//! in the same box. Dropping a [`JoinHandle`] *detaches* the task (as in
//! tokio): it keeps running and its output is dropped when it finishes. To
//! cancel on drop instead, wrap the handle with
//! [`JoinHandle::abort_on_drop`].

use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use super::{coop, with};
use crate::raw_task::{Abort, JoinRef, RawTask};

thread_local! {
    /// Tasks that are done but whose join handle has not yet taken (or
    /// dropped) the result: they count as live in the stats.
    static UNCLAIMED: Cell<usize> = const { Cell::new(0) };
}

/// Tasks done whose result a join handle still holds.
pub(crate) fn unclaimed() -> usize {
    UNCLAIMED.with(Cell::get)
}

/// Counts a task that is done now, if a join handle still
/// holds its result.
#[inline]
pub(crate) fn retire(raw: &RawTask) {
    if !raw.is_detached() {
        UNCLAIMED.with(|u| u.set(u.get() + 1));
    }
}

/// A join handle took or dropped the result of a task counted by `retire`.
#[inline]
fn claim() {
    UNCLAIMED.with(|u| u.set(u.get().saturating_sub(1)));
}

/// Why a task produced no output.
///
/// More reasons may be added later, so a `match` needs a `_` arm.
///
/// # Examples
///
/// ```
/// wasync::block_on(async {
///     let h = wasync::spawn(std::future::pending::<()>());
///     h.abort();
///     let err = h.await.unwrap_err();
///     assert_eq!(err, wasync::JoinError::Cancelled);
///     assert_eq!(err.to_string(), "the task was aborted");
///     let cancelled = match err {
///         wasync::JoinError::Cancelled => true,
///         _ => false,
///     };
///     assert!(cancelled);
/// });
/// ```
///
/// Without the `_` arm, the `match` does not compile:
///
/// ```compile_fail,E0004
/// fn cancelled(err: wasync::JoinError) -> bool {
///     match err {
///         wasync::JoinError::Cancelled => true,
///     }
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum JoinError {
    /// The task was aborted before it finished.
    Cancelled,
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::Cancelled => f.write_str("the task was aborted"),
        }
    }
}

impl std::error::Error for JoinError {}

/// Why a task could not be spawned.
///
/// More reasons may be added later, so a `match` needs a `_` arm.
///
/// # Examples
///
/// ```
/// // The limit is about four million live tasks; one is far from it.
/// match wasync::runtime::try_spawn(async {}) {
///     Ok(_) => {}
///     Err(wasync::task::SpawnError::TooManyTasks) => unreachable!("one task is far from it"),
///     Err(e) => panic!("{e}"),
/// }
/// ```
///
/// Without the `_` arm, the `match` does not compile:
///
/// ```compile_fail,E0004
/// fn too_many(err: wasync::task::SpawnError) -> bool {
///     match err {
///         wasync::task::SpawnError::TooManyTasks => true,
///     }
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SpawnError {
    /// The runtime already holds the most tasks it can address.
    TooManyTasks,
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpawnError::TooManyTasks => write!(
                f,
                "cannot spawn: {} tasks are already alive",
                super::MAX_TASKS
            ),
        }
    }
}

impl std::error::Error for SpawnError {}

/// Puts `future` in a task cell, owned by the runtime and queued. `setup`
/// marks the cell before the runtime sees it.
fn spawn_task<F>(future: F, setup: impl FnOnce(&RawTask)) -> Result<JoinRef<F::Output>, SpawnError>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let (raw, cell) = RawTask::new(future);
    setup(&raw);
    match with(|rt| rt.insert_task(raw)) {
        Ok(()) => Ok(cell),
        Err(refused) => {
            // Outside the borrow: the future's destructors may use the
            // runtime (dropping a JoinHandle detaches its task).
            refused.cancel();
            drop((refused, cell));
            Err(SpawnError::TooManyTasks)
        }
    }
}

/// Mode N: spawns one of wasync's own tasks, detached (the timer task).
/// Returns a reference to it, to wake it by.
#[cfg(any(not(target_family = "wasm"), feature = "native"))]
pub(crate) fn spawn_internal<F>(future: F) -> RawTask
where
    F: Future<Output = ()> + 'static,
{
    match spawn_task(future, RawTask::set_internal) {
        Ok(cell) => {
            cell.detach();
            cell.raw().clone()
        }
        Err(e) => panic!("wasync cannot start its timer task: {e}"),
    }
}

/// Mode C: spawns the task that computes export call `call`; its id is
/// reported when it finishes.
#[cfg(any(
    not(target_family = "wasm"),
    all(feature = "concurrent", not(feature = "native"))
))]
pub(crate) fn spawn_call<F>(call: u32, future: F) -> Result<JoinHandle<F::Output>, SpawnError>
where
    F: Future + 'static,
    F::Output: 'static,
{
    // The call reports itself finished, from its last poll: most tasks
    // compute no call, and their cells need not carry a call id.
    let call_task = async move {
        let out = future.await;
        with(|rt| rt.finished_calls.push(call));
        out
    };
    spawn_task(call_task, |_| {}).map(|cell| JoinHandle { cell })
}

/// Spawns a task on the runtime and returns a handle to await its output.
///
/// The task starts at the next batch and keeps running whenever the
/// runtime runs, even after the export call that spawned it has returned.
/// Futures need not be `Send`: the runtime is single-threaded.
///
/// # Panics
///
/// Panics if the runtime already holds its maximum of tasks (about four
/// million); [`try_spawn`] returns that as an error instead.
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
/// use std::cell::Cell;
///
/// let seen = Rc::new(Cell::new(0));
/// let out = wasync::block_on({
///     let seen = seen.clone();
///     async move {
///         let task = wasync::spawn(async move {
///             seen.set(1);
///             "done"
///         });
///         task.await.unwrap()
///     }
/// });
/// assert_eq!((out, seen.get()), ("done", 1));
/// ```
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    match try_spawn(future) {
        Ok(handle) => handle,
        Err(e) => panic!("{e}"),
    }
}

/// Like [`spawn`], but returns an error instead of panicking.
///
/// # Examples
///
/// ```
/// let handle = wasync::runtime::try_spawn(async { 1 }).unwrap();
/// assert_eq!(wasync::block_on(handle), Ok(1));
/// ```
pub fn try_spawn<F>(future: F) -> Result<JoinHandle<F::Output>, SpawnError>
where
    F: Future + 'static,
    F::Output: 'static,
{
    spawn_task(future, |_| {}).map(|cell| JoinHandle { cell })
}

/// Awaits a spawned task's output.
///
/// Resolves to `Ok(output)`, or to `Err(JoinError::Cancelled)` if the task
/// was aborted. Dropping the handle detaches the task.
///
/// # Examples
///
/// ```
/// wasync::block_on(async {
///     let h = wasync::spawn(async { 2 + 2 });
///     assert_eq!(h.await, Ok(4));
/// });
/// ```
#[must_use = "dropping a JoinHandle detaches the task; `.await` it to get the output"]
pub struct JoinHandle<T> {
    /// The task's cell, where the output waits. Not `Send`: tasks live on
    /// one thread, and their handles must stay there too.
    cell: JoinRef<T>,
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}

impl<T> JoinHandle<T> {
    /// Cancels the task: its future is dropped (at once, unless it is the
    /// task calling this) and awaiting the handle gives
    /// `Err(JoinError::Cancelled)`. Aborting a finished task does nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// wasync::block_on(async {
    ///     let h = wasync::spawn(wasync::time::sleep(Duration::from_secs(60)));
    ///     h.abort();
    ///     assert_eq!(h.await, Err(wasync::JoinError::Cancelled));
    /// });
    /// ```
    pub fn abort(&self) {
        abort(self.cell.raw());
    }

    /// Whether the task has finished (or was aborted).
    ///
    /// # Examples
    ///
    /// ```
    /// wasync::block_on(async {
    ///     let h = wasync::spawn(async {});
    ///     assert!(!h.is_finished());
    ///     wasync::task::yield_now().await;
    ///     assert!(h.is_finished());
    /// });
    /// ```
    pub fn is_finished(&self) -> bool {
        self.cell.stage().is_done()
    }

    /// A handle that can abort the task without owning its output.
    ///
    /// # Examples
    ///
    /// ```
    /// wasync::block_on(async {
    ///     let h = wasync::spawn(std::future::pending::<()>());
    ///     let abort = h.abort_handle();
    ///     abort.abort();
    ///     assert!(h.await.is_err());
    /// });
    /// ```
    pub fn abort_handle(&self) -> AbortHandle {
        AbortHandle {
            raw: self.cell.raw().clone(),
        }
    }

    /// Turns this handle into one that aborts the task when dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// wasync::block_on(async {
    ///     let h = wasync::spawn(std::future::pending::<()>()).abort_on_drop();
    ///     let abort = h.abort_handle();
    ///     drop(h);
    ///     assert!(abort.is_finished());
    /// });
    /// ```
    pub fn abort_on_drop(self) -> AbortOnDropHandle<T> {
        AbortOnDropHandle(Some(self))
    }
}

/// Aborts the task of `raw`: at once if it is idle or queued, when its
/// poll returns if it is running (it aborts itself).
fn abort(raw: &RawTask) {
    let taken = super::try_with(|rt| rt.abort_task(raw)).flatten();
    if let Some(owned) = taken {
        // Outside the borrow: the future's destructor and the joiner's
        // waker are user code.
        raw.cancel();
        if let Some(w) = raw.take_join_waker() {
            w.wake();
        }
        drop(owned);
    }
}

impl super::Runtime {
    /// Marks `raw` aborted. If that makes it done, disowns it and
    /// returns the runtime's reference, for the caller to drop the future
    /// outside the borrow.
    pub(crate) fn abort_task(&mut self, raw: &RawTask) -> Option<RawTask> {
        if !raw.owned_here() || raw.request_abort() != Abort::Now {
            return None;
        }
        self.retire_task(raw)
    }
}

impl<T: 'static> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        ready!(coop::poll_proceed(cx));
        match self.cell.take() {
            Some(result) => {
                claim();
                Poll::Ready(result.map_err(|()| JoinError::Cancelled))
            }
            None if self.cell.stage().is_done() => {
                panic!("JoinHandle polled again after it returned its output")
            }
            None => {
                self.cell.set_join_waker(cx.waker());
                Poll::Pending
            }
        }
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        // A done task's result is dropped here; an unfinished one is
        // detached: the runtime's reference keeps it running, and the
        // runtime drops its output when it finishes.
        if self.cell.stage().is_done() {
            if self.cell.take().is_some() {
                claim();
            }
        } else {
            self.cell.detach();
        }
    }
}

/// Aborts a task without owning its output. Cheap to clone.
///
/// # Examples
///
/// ```
/// wasync::block_on(async {
///     let h = wasync::spawn(std::future::pending::<()>());
///     let a = h.abort_handle();
///     assert!(!a.is_finished());
///     a.clone().abort();
///     assert!(a.is_finished());
/// });
/// ```
#[derive(Clone)]
pub struct AbortHandle {
    /// A reference to the task's cell, which outlives the task.
    raw: RawTask,
}

impl fmt::Debug for AbortHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AbortHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}

impl AbortHandle {
    /// Aborts the task; see [`JoinHandle::abort`].
    pub fn abort(&self) {
        abort(&self.raw);
    }

    /// Whether the task has finished or was aborted.
    pub fn is_finished(&self) -> bool {
        self.raw.stage().is_done()
    }
}

/// A [`JoinHandle`] that aborts its task when dropped.
///
/// # Examples
///
/// ```
/// wasync::block_on(async {
///     let h = wasync::spawn(async { 5 }).abort_on_drop();
///     assert_eq!(h.await, Ok(5));
/// });
/// ```
#[must_use = "dropping an AbortOnDropHandle aborts the task"]
#[derive(Debug)]
pub struct AbortOnDropHandle<T>(Option<JoinHandle<T>>);

impl<T> AbortOnDropHandle<T> {
    /// The handle; only `detach`, which consumes `self`, takes it out.
    fn handle(&self) -> &JoinHandle<T> {
        self.0.as_ref().expect("only `detach` takes the handle")
    }

    /// Aborts the task now.
    pub fn abort(&self) {
        self.handle().abort();
    }

    /// Whether the task has finished or was aborted.
    pub fn is_finished(&self) -> bool {
        self.handle().is_finished()
    }

    /// A handle that can abort the task without owning its output.
    pub fn abort_handle(&self) -> AbortHandle {
        self.handle().abort_handle()
    }

    /// Gives back the plain handle, which detaches on drop.
    pub fn detach(mut self) -> JoinHandle<T> {
        self.0.take().expect("only `detach` takes the handle")
    }
}

impl<T: 'static> Future for AbortOnDropHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let handle = self.0.as_mut().expect("only `detach` takes the handle");
        Pin::new(handle).poll(cx)
    }
}

impl<T> Drop for AbortOnDropHandle<T> {
    fn drop(&mut self) {
        // Aborting a finished task does nothing, so no check is needed.
        if let Some(handle) = &self.0 {
            handle.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::{block_on, stats};
    use crate::task::yield_now;

    /// Holds a handle whose `Drop` needs the runtime (it detaches the task).
    struct Holds(#[allow(dead_code)] JoinHandle<u32>);

    #[test]
    fn a_future_refused_by_a_full_runtime_still_detaches_what_it_held() {
        with(|rt| rt.set_task_limit(2));
        block_on(async {
            let inner = spawn(async { 7 });
            let _pending = spawn(std::future::pending::<()>()).abort_on_drop();
            let held = Holds(inner);
            let refused = try_spawn(async move { drop(held) });
            assert_eq!(refused.unwrap_err(), SpawnError::TooManyTasks);
            // `inner` was detached when the refused future was dropped, so
            // it is removed as soon as it finishes.
            yield_now().await;
            assert_eq!(stats().live_tasks, 1, "only the pending task is left");
        });
    }

    #[test]
    fn a_stale_abort_handle_does_not_act_on_a_later_task() {
        block_on(async {
            let mut first = spawn(async { 1 });
            let stale = first.abort_handle();
            assert_eq!((&mut first).await, Ok(1));
            let victim = spawn(async {
                yield_now().await;
                3
            });
            stale.abort();
            assert!(
                !victim.is_finished(),
                "the stale handle aborted the new task"
            );
            assert!(stale.is_finished(), "the stale handle's task is gone");
            // Dropping the old JoinHandle must not detach the victim either.
            drop(first);
            assert_eq!(victim.await, Ok(3));
        });
    }

    #[test]
    fn a_finished_join_handle_does_not_abort_a_later_task() {
        block_on(async {
            let first = spawn(async { 1 });
            yield_now().await;
            assert!(first.is_finished());
            let victim = spawn(async {
                yield_now().await;
                2
            });
            first.abort();
            first.abort_handle().abort();
            assert!(!victim.is_finished(), "the old handle aborted the new task");
            assert_eq!(first.await, Ok(1));
            assert_eq!(victim.await, Ok(2));
        });
    }

    #[test]
    fn a_finished_task_counts_as_live_until_its_handle_takes_or_drops_the_output() {
        block_on(async {
            let kept = spawn(async { String::from("kept") });
            let dropped = spawn(async { String::from("dropped") });
            yield_now().await;
            assert!(kept.is_finished() && dropped.is_finished());
            assert_eq!(stats().live_tasks, 2, "both outputs wait in their cells");
            drop(dropped);
            assert_eq!(stats().live_tasks, 1);
            assert_eq!(kept.await.as_deref(), Ok("kept"));
            assert_eq!(stats().live_tasks, 0);
        });
    }

    #[test]
    fn an_aborted_task_reports_cancelled_once_its_handle_polls() {
        block_on(async {
            let h = spawn(std::future::pending::<()>());
            let a = h.abort_handle();
            yield_now().await;
            a.abort();
            assert!(h.is_finished());
            assert_eq!(stats().live_tasks, 1, "the cancellation is not yet seen");
            assert_eq!(h.await, Err(JoinError::Cancelled));
            assert_eq!(stats().live_tasks, 0);
        });
    }

    #[test]
    fn a_future_refused_by_a_full_runtime_is_dropped_outside_the_runtime() {
        struct ReadsStats;
        impl Drop for ReadsStats {
            fn drop(&mut self) {
                // Any use of the runtime: this one borrows it.
                let _ = stats();
            }
        }
        with(|rt| rt.set_task_limit(1));
        block_on(async {
            let _pending = spawn(std::future::pending::<()>()).abort_on_drop();
            let guard = ReadsStats;
            let refused = try_spawn(async move { drop(guard) });
            assert_eq!(refused.unwrap_err(), SpawnError::TooManyTasks);
        });
    }
}
