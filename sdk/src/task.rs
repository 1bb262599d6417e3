//! Tasks: [`spawn`], [`JoinHandle`], [`JoinSet`] and [`yield_now`].

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::StreamExt;
use futures::stream::FuturesUnordered;

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

impl<T: 'static> Default for JoinSet<T> {
    fn default() -> JoinSet<T> {
        JoinSet::new()
    }
}
