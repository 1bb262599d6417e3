//! One call as the event loop runs it, whatever its argument and result
//! types: with [`Val`]s (calls by name, WAVE, calls one instance forwards
//! to another) or typed with wasmtime's `TypedFunc` (no conversion to
//! `Val` and back).
//!
//! The loop only enters instances and keeps the books; a job knows how to
//! call its export, where its result goes, and holds the result until the
//! loop settles it.

use std::future::Future;
use std::pin::Pin;

use tokio::sync::oneshot;
use wasmtime::Store;
use wasmtime::component::{ComponentNamedList, ComponentType, Func, Lift, Lower, TypedFunc, Val};

use crate::error::{Error, Result};
use crate::view::WasyncView;

pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An exported function with how many results it has, looked up once:
/// asking wasmtime for a function's type costs a lookup on every call.
#[derive(Clone, Copy)]
pub(crate) struct Callee {
    pub func: Func,
    pub results: usize,
}

impl Callee {
    pub(crate) fn new<T>(store: &Store<T>, func: Func) -> Callee {
        let results = func.ty(store).results().len();
        Callee { func, results }
    }

    /// A place for each result, to be overwritten by the call.
    fn placeholders(&self) -> Vec<Val> {
        vec![Val::Bool(false); self.results]
    }
}

/// The two halves of an async export of a mode C instance.
#[derive(Clone, Copy)]
pub(crate) struct AsyncExport {
    pub start: Callee,
    pub finish: Callee,
}

/// What a call enters: a plain function, or an async export's pair.
#[derive(Clone, Copy)]
pub(crate) enum Target {
    Plain(Callee),
    Async(AsyncExport),
}

/// What entering the instance for a call's start gave.
pub(crate) enum Entered {
    /// The call finished; its result waits in the job.
    Done,
    /// The call runs on as call id `.0` of the instance.
    Pending(u32),
    /// The guest broke the protocol (an `f-start` result that is not a
    /// `result<_, u32>`).
    Invalid(String),
}

/// What settling a job left for the loop to do.
pub(crate) enum Settled {
    /// The caller outside the host has its result.
    Delivered,
    /// A call one instance forwarded to another: hand the result to the
    /// caller's imported call `aid`.
    Import {
        caller: usize,
        aid: u32,
        result: Result<Vec<Val>>,
    },
}

/// One call whose types the loop does not know (a typed call), as the
/// loop runs it, boxed (see [`LoopJob`]).
pub(crate) trait Job<T>: Send {
    /// `f` or `iface#f`, for messages and the trace.
    fn func(&self) -> &str;
    /// Enters the instance: runs a plain function to the end, or an async
    /// export's `f-start` until it would wait.
    fn start<'a>(&'a mut self, store: &'a mut Store<T>)
    -> BoxFuture<'a, wasmtime::Result<Entered>>;
    /// Enters the instance for `f-finish(id)` of a call it reported
    /// finished.
    fn finish<'a>(
        &'a mut self,
        store: &'a mut Store<T>,
        id: u32,
    ) -> BoxFuture<'a, wasmtime::Result<()>>;
    /// Hands the outcome to whoever waits: on `Ok`, the result the last
    /// entry produced.
    fn settle(self: Box<Self>, outcome: Result<()>) -> Settled;
}

/// Where a call with [`Val`]s delivers.
pub(crate) enum ValWaiter {
    /// A caller outside the host.
    External(oneshot::Sender<Result<Vec<Val>>>),
    /// Imported call `aid` of instance `caller` (a host-mediated link).
    Import { caller: usize, aid: u32 },
}

/// A call with [`Val`] arguments and results.
pub(crate) struct ValJob {
    pub func: std::sync::Arc<str>,
    pub target: Target,
    pub args: Vec<Val>,
    pub results: Vec<Val>,
    pub waiter: ValWaiter,
}

/// Reads an `f-start` result: `ok(r)` finished, `err(id)` runs on.
fn decode_start(func: &str, result: Option<&Val>) -> Entered {
    match result {
        Some(Val::Result(Ok(_))) => Entered::Done,
        Some(Val::Result(Err(Some(id)))) => match id.as_ref() {
            Val::U32(id) => Entered::Pending(*id),
            other => Entered::Invalid(format!(
                "`{func}-start` returned err({other:?}), not a call id"
            )),
        },
        other => Entered::Invalid(format!(
            "`{func}-start` returned {other:?}, not a result<_, u32>"
        )),
    }
}

impl ValJob {
    /// Enters the instance: runs a plain function to the end, or an async
    /// export's `f-start` until it would wait. Not boxed: the loop awaits
    /// it in place (see [`LoopJob`]).
    async fn start<T: Send>(&mut self, store: &mut Store<T>) -> wasmtime::Result<Entered> {
        match self.target {
            Target::Plain(callee) => {
                self.results = callee.placeholders();
                callee
                    .func
                    .call_async(&mut *store, &self.args, &mut self.results)
                    .await?;
                Ok(Entered::Done)
            }
            Target::Async(export) => {
                if export.start.results != 1 {
                    return Ok(decode_start(&self.func, None));
                }
                // One result: a place on the stack, not a vector per call.
                let mut out = [Val::Bool(false)];
                export
                    .start
                    .func
                    .call_async(&mut *store, &self.args, &mut out)
                    .await?;
                let [first] = out;
                let entered = decode_start(&self.func, Some(&first));
                if let (Entered::Done, Val::Result(Ok(v))) = (&entered, first) {
                    self.results = v.map(|v| vec![*v]).unwrap_or_default();
                }
                Ok(entered)
            }
        }
    }

    /// Enters the instance for `f-finish(id)` of a call it reported
    /// finished.
    async fn finish<T: Send>(&mut self, store: &mut Store<T>, id: u32) -> wasmtime::Result<()> {
        let Target::Async(export) = self.target else {
            wasmtime::bail!("`{}` is not an async export", self.func);
        };
        self.results = export.finish.placeholders();
        export
            .finish
            .func
            .call_async(&mut *store, &[Val::U32(id)], &mut self.results)
            .await
    }

    // Takes the box: only the fields it uses move out of it, where a
    // `ValJob` moved out whole is a `memcpy` call (see `LoopJob`).
    #[allow(clippy::boxed_local)]
    fn settle(self: Box<Self>, outcome: Result<()>) -> Settled {
        let ValJob {
            results, waiter, ..
        } = *self;
        let result = outcome.map(|()| results);
        match waiter {
            ValWaiter::External(reply) => {
                let _ = reply.send(result);
                Settled::Delivered
            }
            ValWaiter::Import { caller, aid } => Settled::Import {
                caller,
                aid,
                result,
            },
        }
    }
}

/// A call as the loop keeps it. A call with [`Val`]s (by name, WAVE, or
/// forwarded from another instance) is entered in place: boxed behind
/// [`Job`], its entry's future (wasmtime's call future, about 1.5 KB) would
/// be one more allocation per call, too big for the allocator's per-thread
/// cache. Its data is boxed, though: a [`ValJob`] (144 bytes) moves from
/// the driver through the seat's queue into the loop's books, and each
/// move of something that size is a `memcpy` call, which took more time
/// per call than the one small allocation that replaces them all. A typed
/// call, generic over its types, goes through the trait.
pub(crate) enum LoopJob<T: 'static> {
    Val(Box<ValJob>),
    Typed(Box<dyn Job<T>>),
}

impl<T: WasyncView> LoopJob<T> {
    /// `f` or `iface#f`, for messages and the trace.
    pub(crate) fn func(&self) -> &str {
        match self {
            LoopJob::Val(job) => &job.func,
            LoopJob::Typed(job) => job.func(),
        }
    }

    /// See [`Job::start`].
    pub(crate) async fn start(&mut self, store: &mut Store<T>) -> wasmtime::Result<Entered> {
        match self {
            LoopJob::Val(job) => job.start(store).await,
            LoopJob::Typed(job) => job.start(store).await,
        }
    }

    /// See [`Job::finish`].
    pub(crate) async fn finish(&mut self, store: &mut Store<T>, id: u32) -> wasmtime::Result<()> {
        match self {
            LoopJob::Val(job) => job.finish(store, id).await,
            LoopJob::Typed(job) => job.finish(store, id).await,
        }
    }

    /// See [`Job::settle`].
    pub(crate) fn settle(self, outcome: Result<()>) -> Settled {
        match self {
            LoopJob::Val(job) => job.settle(outcome),
            LoopJob::Typed(job) => job.settle(outcome),
        }
    }

    /// For a call one instance forwarded to another: the caller and its
    /// imported call id.
    pub(crate) fn import_of(&self) -> Option<(usize, u32)> {
        match self {
            LoopJob::Val(job) => match job.waiter {
                ValWaiter::Import { caller, aid } => Some((caller, aid)),
                ValWaiter::External(_) => None,
            },
            _ => None,
        }
    }
}

/// The results a typed call can have: `()` or a one-element tuple `(R,)`,
/// as wasmtime's `TypedFunc` has them. For an async export of a mode C
/// instance, this also gives the type of its `f-start`'s result.
pub trait Results: ComponentNamedList + Lift + Send + Sync + 'static {
    /// `(result<_, u32>,)` or `(result<R, u32>,)`.
    #[doc(hidden)]
    type Started: ComponentNamedList + Lift + Send + Sync + 'static;
    /// `ok` finished with these results; `err` is the call id.
    #[doc(hidden)]
    fn started(started: Self::Started) -> std::result::Result<Self, u32>;
}

impl Results for () {
    type Started = (std::result::Result<(), u32>,);

    fn started((started,): Self::Started) -> std::result::Result<(), u32> {
        started
    }
}

impl<A: ComponentType + Lift + Send + Sync + 'static> Results for (A,) {
    type Started = (std::result::Result<A, u32>,);

    fn started((started,): Self::Started) -> std::result::Result<(A,), u32> {
        started.map(|a| (a,))
    }
}

/// The parameters a typed call can have: any tuple wasmtime can lower.
pub trait Params: ComponentNamedList + Lower + Send + Sync + 'static {}

impl<P: ComponentNamedList + Lower + Send + Sync + 'static> Params for P {}

/// What a typed call enters, checked against the export's type once.
pub(crate) enum TypedTarget<P, R: Results> {
    Plain(TypedFunc<P, R>),
    Async {
        start: TypedFunc<P, R::Started>,
        finish: TypedFunc<(u32,), R>,
    },
}

impl<P, R: Results> Clone for TypedTarget<P, R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<P, R: Results> Copy for TypedTarget<P, R> {}

impl<P: Params, R: Results> TypedTarget<P, R> {
    /// Checks `target`'s types against `P` and `R`.
    pub(crate) fn check<T>(store: &Store<T>, target: Target) -> wasmtime::Result<Self> {
        Ok(match target {
            Target::Plain(f) => TypedTarget::Plain(f.func.typed(store)?),
            Target::Async(e) => TypedTarget::Async {
                start: e.start.func.typed(store)?,
                finish: e.finish.func.typed(store)?,
            },
        })
    }
}

/// A call with typed parameters and results.
pub(crate) struct TypedJob<P, R: Results> {
    pub func: std::sync::Arc<str>,
    pub target: TypedTarget<P, R>,
    pub params: Option<P>,
    pub result: Option<R>,
    pub reply: oneshot::Sender<Result<R>>,
}

impl<T: WasyncView, P: Params, R: Results> Job<T> for TypedJob<P, R> {
    fn func(&self) -> &str {
        &self.func
    }

    fn start<'a>(
        &'a mut self,
        store: &'a mut Store<T>,
    ) -> BoxFuture<'a, wasmtime::Result<Entered>> {
        Box::pin(async move {
            let Some(params) = self.params.take() else {
                wasmtime::bail!("a typed call was started twice");
            };
            match self.target {
                TypedTarget::Plain(f) => {
                    self.result = Some(f.call_async(&mut *store, params).await?);
                    Ok(Entered::Done)
                }
                TypedTarget::Async { start, .. } => {
                    match R::started(start.call_async(&mut *store, params).await?) {
                        Ok(r) => {
                            self.result = Some(r);
                            Ok(Entered::Done)
                        }
                        Err(id) => Ok(Entered::Pending(id)),
                    }
                }
            }
        })
    }

    fn finish<'a>(
        &'a mut self,
        store: &'a mut Store<T>,
        id: u32,
    ) -> BoxFuture<'a, wasmtime::Result<()>> {
        Box::pin(async move {
            let TypedTarget::Async { finish, .. } = self.target else {
                wasmtime::bail!("`{}` is not an async export", self.func);
            };
            self.result = Some(finish.call_async(&mut *store, (id,)).await?);
            Ok(())
        })
    }

    fn settle(self: Box<Self>, outcome: Result<()>) -> Settled {
        let this = *self;
        let result = outcome.and_then(|()| {
            this.result.ok_or_else(|| {
                Error::Other(anyhow::anyhow!("a typed call settled without a result"))
            })
        });
        let _ = this.reply.send(result);
        Settled::Delivered
    }
}
