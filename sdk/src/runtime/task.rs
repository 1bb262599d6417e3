//! Tasks: spawning, joining, aborting.
//!
//! A task is one allocation: its future and, once it finishes, its output,
//! in the same box. Dropping a [`JoinHandle`] *detaches* the task (as in
//! tokio): it keeps running and its output is dropped when it finishes. To
//! cancel on drop instead, wrap the handle with
//! [`JoinHandle::abort_on_drop`].

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker, ready};

use pin_project_lite::pin_project;

use super::{coop, with};

/// A task's future with its output type erased.
pub(crate) trait Erased {
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()>;
    /// Moves the output into `out`, an `&mut Option<Output>`.
    fn take_output(self: Pin<&mut Self>, out: &mut dyn Any);
}

pin_project! {
    #[project = StageProj]
    enum Stage<F>
    where
        F: Future,
    {
        Running { #[pin] future: F },
        Done { output: Option<F::Output> },
    }
}

impl<F> Erased for Stage<F>
where
    F: Future,
    F::Output: 'static,
{
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let output = match self.as_mut().project() {
            StageProj::Running { future } => ready!(future.poll(cx)),
            StageProj::Done { .. } => return Poll::Ready(()),
        };
        // Dropping the finished future here releases what it held at once.
        self.set(Stage::Done {
            output: Some(output),
        });
        Poll::Ready(())
    }

    fn take_output(self: Pin<&mut Self>, out: &mut dyn Any) {
        if let StageProj::Done { output } = self.project()
            && let Some(slot) = out.downcast_mut::<Option<F::Output>>()
        {
            *slot = output.take();
        }
    }
}

pub(crate) type BoxedTask = Pin<Box<dyn Erased>>;

/// What a task handle holds: the task's slot and that slot's generation at
/// spawn, in full (a waker's packed key keeps only its low bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TaskId {
    pub(crate) index: usize,
    pub(crate) generation: u64,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    Idle,
    Queued,
    Running,
    Done,
}

/// A task's slot in the runtime.
pub(crate) struct Task {
    state: State,
    /// Woken while running: queue it again when the poll returns.
    notified: bool,
    /// `None` while it is being polled, and after an abort.
    future: Option<BoxedTask>,
    join_waker: Option<Waker>,
    detached: bool,
    aborted: bool,
    /// Mode C: the export call this task computes.
    pub(crate) call: Option<u32>,
    /// wasync's own (mode N's timer task): left out of the stats and of
    /// the work that keeps mode N's home alive.
    pub(crate) internal: bool,
}

/// What happened when a poll returned.
pub(crate) struct Outcome {
    pub requeue: bool,
    pub finished: bool,
    /// The task is done now: it finished or was aborted.
    pub done: bool,
    pub remove: bool,
    pub join_waker: Option<Waker>,
    /// A future to drop outside the runtime borrow.
    pub drop_now: Option<BoxedTask>,
}

impl Task {
    pub(crate) fn new(future: BoxedTask, call: Option<u32>) -> Task {
        Task {
            state: State::Queued,
            notified: false,
            future: Some(future),
            join_waker: None,
            detached: false,
            aborted: false,
            call,
            internal: false,
        }
    }

    /// Idle → queued. Returns whether the caller must push it on the queue.
    pub(crate) fn mark_queued(&mut self) -> bool {
        match self.state {
            State::Idle => {
                self.state = State::Queued;
                true
            }
            State::Running => {
                self.notified = true;
                false
            }
            State::Queued | State::Done => false,
        }
    }

    pub(crate) fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Takes the future out to poll it, if the task is still queued.
    pub(crate) fn start_poll(&mut self) -> Option<BoxedTask> {
        if self.state != State::Queued {
            return None;
        }
        let future = self.future.take()?;
        self.state = State::Running;
        Some(future)
    }

    pub(crate) fn finish_poll(&mut self, future: BoxedTask, ready: bool) -> Outcome {
        let mut out = Outcome {
            requeue: false,
            finished: false,
            done: false,
            remove: false,
            join_waker: None,
            drop_now: None,
        };
        if ready || self.aborted {
            self.state = State::Done;
            out.done = true;
            out.finished = ready;
            out.join_waker = self.join_waker.take();
            out.remove = self.detached;
            if self.detached || self.aborted {
                out.drop_now = Some(future);
            } else {
                self.future = Some(future);
            }
        } else {
            self.future = Some(future);
            if std::mem::take(&mut self.notified) {
                self.state = State::Queued;
                out.requeue = true;
            } else {
                self.state = State::Idle;
            }
        }
        out
    }

    pub(crate) fn into_future(self) -> Option<BoxedTask> {
        self.future
    }

    fn set_join_waker(&mut self, waker: &Waker) {
        match &mut self.join_waker {
            Some(old) if old.will_wake(waker) => {}
            slot => *slot = Some(waker.clone()),
        }
    }
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

fn spawn_boxed(future: BoxedTask, call: Option<u32>) -> Result<TaskId, SpawnError> {
    match with(|rt| rt.insert_task(Task::new(future, call))) {
        Ok(id) => Ok(id),
        Err(refused) => {
            // Outside the borrow: the future's destructors may use the
            // runtime (dropping a JoinHandle detaches its task).
            drop(refused);
            Err(SpawnError::TooManyTasks)
        }
    }
}

/// Mode N: spawns one of wasync's own tasks, detached (the timer task).
/// Returns its packed key.
#[cfg(any(not(target_family = "wasm"), feature = "native"))]
pub(crate) fn spawn_internal<F>(future: F) -> usize
where
    F: Future<Output = ()> + 'static,
{
    let mut task = Task::new(Box::pin(Stage::Running { future }), None);
    task.internal = true;
    task.detached = true;
    match with(|rt| rt.insert_task(task)) {
        Ok(id) => super::raw::pack(id.index, id.generation),
        Err(_) => panic!(
            "wasync cannot start its timer task: {}",
            SpawnError::TooManyTasks
        ),
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
    let id = spawn_boxed(Box::pin(Stage::Running { future }), Some(call))?;
    Ok(JoinHandle {
        id,
        _marker: PhantomData,
    })
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
    let id = spawn_boxed(Box::pin(Stage::Running { future }), None)?;
    Ok(JoinHandle {
        id,
        _marker: PhantomData,
    })
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
    id: TaskId,
    // Tasks live on one thread: their handles must stay there too.
    _marker: PhantomData<Rc<T>>,
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("task", &self.id.index)
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
        abort(self.id);
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
        is_finished(self.id)
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
        AbortHandle { id: self.id }
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
        AbortOnDropHandle(self)
    }
}

fn abort(id: TaskId) {
    let taken = super::try_with(|rt| {
        let task = rt.task_by_id(id)?;
        match task.state {
            State::Done => None,
            State::Running => {
                // The task aborts itself: its poll is on the stack, so the
                // future is dropped when that poll returns.
                task.aborted = true;
                None
            }
            State::Idle | State::Queued => {
                task.state = State::Done;
                task.aborted = true;
                let future = task.future.take();
                let waker = task.join_waker.take();
                let (detached, internal) = (task.detached, task.internal);
                rt.task_done(internal);
                if detached {
                    rt.remove_task(id.index);
                }
                Some((future, waker))
            }
        }
    });
    if let Some((future, waker)) = taken.flatten() {
        drop(future);
        if let Some(w) = waker {
            w.wake();
        }
    }
}

fn is_finished(id: TaskId) -> bool {
    with(|rt| rt.task_by_id(id).is_none_or(|t| t.is_done()))
}

impl<T: 'static> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        ready!(coop::poll_proceed(cx));
        let id = self.id;
        let finished = with(|rt| {
            let Some(task) = rt.task_by_id(id) else {
                return Err(());
            };
            if task.is_done() {
                let future = task.future.take();
                rt.remove_task(id.index);
                Ok(Some(future))
            } else {
                task.set_join_waker(cx.waker());
                Ok(None)
            }
        });
        match finished {
            Err(()) => panic!("JoinHandle polled again after it returned its output"),
            Ok(None) => Poll::Pending,
            Ok(Some(future)) => {
                let mut out: Option<T> = None;
                if let Some(mut future) = future {
                    future.as_mut().take_output(&mut out);
                }
                Poll::Ready(out.ok_or(JoinError::Cancelled))
            }
        }
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        let id = self.id;
        let finished = super::try_with(|rt| {
            let task = rt.task_by_id(id)?;
            if task.is_done() {
                let future = task.future.take();
                rt.remove_task(id.index);
                future
            } else {
                task.detached = true;
                None
            }
        });
        // The unclaimed output is dropped here, outside the runtime borrow.
        drop(finished);
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
#[derive(Clone, Debug)]
pub struct AbortHandle {
    id: TaskId,
}

impl AbortHandle {
    /// Aborts the task; see [`JoinHandle::abort`].
    pub fn abort(&self) {
        abort(self.id);
    }

    /// Whether the task has finished or was aborted.
    pub fn is_finished(&self) -> bool {
        is_finished(self.id)
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
pub struct AbortOnDropHandle<T>(JoinHandle<T>);

impl<T> AbortOnDropHandle<T> {
    /// Aborts the task now.
    pub fn abort(&self) {
        self.0.abort();
    }

    /// Whether the task has finished or was aborted.
    pub fn is_finished(&self) -> bool {
        self.0.is_finished()
    }

    /// A handle that can abort the task without owning its output.
    pub fn abort_handle(&self) -> AbortHandle {
        self.0.abort_handle()
    }

    /// Gives back the plain handle, which detaches on drop.
    pub fn detach(self) -> JoinHandle<T> {
        let this = std::mem::ManuallyDrop::new(self);
        JoinHandle {
            id: this.0.id,
            _marker: PhantomData,
        }
    }
}

impl<T: 'static> Future for AbortOnDropHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx)
    }
}

impl<T> Drop for AbortOnDropHandle<T> {
    fn drop(&mut self) {
        // Aborting a finished task does nothing, so no check is needed.
        self.0.abort();
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

    /// Stands in for about four billion spawns and joins in every slot so
    /// far. The slab reuses the slot freed last, so an instance that spawns
    /// and joins one task at a time ages one slot that fast.
    fn age_every_slot() {
        with(|rt| rt.gens.iter_mut().for_each(|g| *g = u32::MAX.into()));
    }

    #[test]
    fn stale_handles_do_not_act_on_a_task_that_reuses_their_slot() {
        block_on(async {
            let mut first = spawn(async { 1 });
            assert_eq!((&mut first).await, Ok(1));
            let stale = first.abort_handle();
            age_every_slot();
            assert_eq!(spawn(async { 2 }).await, Ok(2));
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
