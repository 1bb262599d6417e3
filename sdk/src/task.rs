//! Tasks: [`spawn`], [`JoinHandle`], [`JoinSet`] and [`yield_now`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use futures::task::ArcWake;

pub use crate::runtime::{
    AbortHandle, AbortOnDropHandle, JoinError, JoinHandle, SpawnError, spawn, try_spawn,
};

/// Lets every other runnable task run before this one continues.
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
///
/// wasync::block_on(async {
///     let order = Rc::new(Cell::new(0));
///     let o = order.clone();
///     let other = wasync::spawn(async move { o.set(o.get() * 10 + 2) });
///     order.set(1);
///     wasync::task::yield_now().await;
///     order.set(order.get() * 10 + 3);
///     other.await.unwrap();
///     assert_eq!(order.get(), 123);
/// });
/// ```
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// The future of [`yield_now`].
///
/// # Examples
///
/// ```
/// let y: wasync::task::YieldNow = wasync::yield_now();
/// wasync::block_on(y);
/// ```
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// A set of tasks whose outputs are collected in completion order.
///
/// Dropping the set aborts every task still in it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wasync::task::JoinSet;
/// use wasync::time::sleep;
///
/// wasync::block_on(async {
///     let mut set = JoinSet::new();
///     for ms in [30u64, 10, 20] {
///         set.spawn(async move {
///             sleep(Duration::from_millis(ms)).await;
///             ms
///         });
///     }
///     let mut order = Vec::new();
///     while let Some(done) = set.join_next().await {
///         order.push(done.unwrap());
///     }
///     assert_eq!(order, [10, 20, 30]);
/// });
/// ```
#[derive(Debug)]
pub struct JoinSet<T> {
    tasks: FuturesUnordered<AbortOnDropHandle<T>>,
}

impl<T: 'static> JoinSet<T> {
    /// An empty set.
    ///
    /// # Examples
    ///
    /// ```
    /// let set: wasync::JoinSet<u8> = wasync::JoinSet::new();
    /// assert!(set.is_empty());
    /// ```
    pub fn new() -> JoinSet<T> {
        JoinSet {
            tasks: FuturesUnordered::new(),
        }
    }

    /// Spawns a task into the set.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut set = wasync::JoinSet::new();
    /// set.spawn(async { 1 });
    /// assert_eq!(set.len(), 1);
    /// assert_eq!(wasync::block_on(set.join_next()), Some(Ok(1)));
    /// ```
    pub fn spawn<F>(&mut self, future: F) -> AbortHandle
    where
        F: Future<Output = T> + 'static,
    {
        let handle = spawn(future).abort_on_drop();
        let abort = handle.abort_handle();
        self.tasks.push(handle);
        abort
    }

    /// Waits for the next task to finish and returns its output, or `None`
    /// if the set is empty.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut set = wasync::JoinSet::new();
    /// set.spawn(async { "done" });
    /// wasync::block_on(async {
    ///     assert_eq!(set.join_next().await, Some(Ok("done")));
    ///     assert_eq!(set.join_next().await, None);
    /// });
    /// ```
    pub async fn join_next(&mut self) -> Option<Result<T, JoinError>> {
        self.tasks.next().await
    }

    /// The output of a task that has already finished, without waiting;
    /// `None` if none has (or the set is empty).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// wasync::block_on(async {
    ///     let mut set = wasync::JoinSet::new();
    ///     set.spawn(async { "quick" });
    ///     set.spawn(async {
    ///         wasync::time::sleep(Duration::from_secs(60)).await;
    ///         "slow"
    ///     });
    ///     assert_eq!(set.try_join_next(), None); // nothing ran yet
    ///     wasync::yield_now().await;
    ///     assert_eq!(set.try_join_next(), Some(Ok("quick")));
    ///     assert_eq!(set.try_join_next(), None); // "slow" still sleeps
    ///     assert_eq!(set.len(), 1);
    /// });
    /// ```
    pub fn try_join_next(&mut self) -> Option<Result<T, JoinError>> {
        let woken = Arc::new(Woken(AtomicBool::new(false)));
        let waker = futures::task::waker(woken.clone());
        let mut cx = Context::from_waker(&waker);
        // Looking at each task once is bounded work that never waits: the
        // poll budget must not stop it part-way, or a finished task behind
        // many pending ones would be missed.
        crate::runtime::unconstrained(|| {
            // `FuturesUnordered` returns `Pending` and wakes the caller when
            // it stops early to stay fair: look again then, at most once
            // per task.
            for _ in 0..=self.tasks.len() {
                woken.0.store(false, Ordering::Relaxed);
                match self.tasks.poll_next_unpin(&mut cx) {
                    Poll::Ready(out) => return out,
                    Poll::Pending if woken.0.load(Ordering::Relaxed) => {}
                    Poll::Pending => return None,
                }
            }
            None
        })
    }

    /// Aborts every task in the set and waits until each is gone, so that
    /// what they held (timers, streams, sockets) is released when it
    /// returns. The set is empty afterwards.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// wasync::block_on(async {
    ///     let mut set = wasync::JoinSet::new();
    ///     for _ in 0..3 {
    ///         set.spawn(wasync::time::sleep(Duration::from_secs(60)));
    ///     }
    ///     set.shutdown().await;
    ///     assert!(set.is_empty());
    ///     assert_eq!(wasync::runtime::stats().live_timers, 0);
    /// });
    /// ```
    pub async fn shutdown(&mut self) {
        self.abort_all();
        while self.join_next().await.is_some() {}
    }

    /// Waits for every task and returns their outputs in the order they
    /// finished. A task that was aborted (through an [`AbortHandle`]) gives
    /// `Err(JoinError::Cancelled)` in its place.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let outputs = wasync::block_on(async {
    ///     let mut set = wasync::JoinSet::new();
    ///     for ms in [30u64, 10, 20] {
    ///         set.spawn(async move {
    ///             wasync::time::sleep(Duration::from_millis(ms)).await;
    ///             ms
    ///         });
    ///     }
    ///     set.join_all().await
    /// });
    /// assert_eq!(outputs, [Ok(10), Ok(20), Ok(30)]);
    /// ```
    pub async fn join_all(mut self) -> Vec<Result<T, JoinError>> {
        let mut out = Vec::with_capacity(self.len());
        while let Some(next) = self.join_next().await {
            out.push(next);
        }
        out
    }

    /// Tasks in the set, finished or not, whose output is not yet taken.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut set = wasync::JoinSet::new();
    /// set.spawn(async {});
    /// set.spawn(async {});
    /// assert_eq!(set.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Whether the set holds no tasks.
    ///
    /// # Examples
    ///
    /// ```
    /// let set: wasync::JoinSet<()> = wasync::JoinSet::default();
    /// assert!(set.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Aborts every task in the set; they stay in it until joined.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut set = wasync::JoinSet::new();
    /// set.spawn(std::future::pending::<()>());
    /// set.abort_all();
    /// let out = wasync::block_on(set.join_next());
    /// assert_eq!(out, Some(Err(wasync::JoinError::Cancelled)));
    /// ```
    pub fn abort_all(&mut self) {
        for t in self.tasks.iter() {
            t.abort();
        }
    }
}

/// Records that `FuturesUnordered` asked to be polled again.
struct Woken(AtomicBool);

impl ArcWake for Woken {
    fn wake_by_ref(this: &Arc<Self>) {
        this.0.store(true, Ordering::Relaxed);
    }
}

impl<T: 'static> Default for JoinSet<T> {
    fn default() -> JoinSet<T> {
        JoinSet::new()
    }
}
