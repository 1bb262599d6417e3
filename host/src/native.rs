//! Mode N: native WASI 0.3 instances, driven by wasmtime's own component
//! model concurrency. Each instance's store runs `run_concurrent` in a task
//! of its own for as long as the host lives; every call is a
//! `call_concurrent` inside it, so calls overlap in the instance, and its
//! background work (a task that outlives the call that spawned it) runs on
//! between calls.
//!
//! Ground rules:
//! - One store per instance, as in mode C: a trap ends that instance only.
//!   Its calls in flight, and every later one, fail with
//!   [`Error::InstanceDead`].
//! - Mode N components compose statically (wac); calls and cancellation
//!   between them are native subtasks, not the host's business.
//! - The host cannot cancel a call it made: wasmtime 48 has no way to cancel
//!   a guest task from the host (wasmtime#11833). Dropping a [`Call`] gives
//!   up its result; the task runs to its end.
//!
//! [`Call`]: crate::Call

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::{mpsc, oneshot};
use wasmtime::Store;
use wasmtime::component::{Access, Accessor, Func, TypedFunc, Val};

use crate::call::call_error;
use crate::error::{Error, ErrorKind, Result};
use crate::job::{BoxFuture, Params, Results};
use crate::shared::{ByName, HostStats, Shared, ValCall, names};
use crate::trace::TraceEvent;
use crate::view::WasyncView;

/// One call into a mode N instance, whatever its types.
pub(crate) trait NativeJob<T>: Send {
    /// `f` or `iface#f`, for messages and the trace.
    fn func(&self) -> &str;
    /// Runs the call to its result inside `run_concurrent`.
    fn run<'a>(&'a mut self, accessor: &'a Accessor<T>) -> BoxFuture<'a, wasmtime::Result<()>>;
    /// Hands the outcome to the caller: on `Ok`, the result `run` kept.
    fn settle(self: Box<Self>, outcome: Result<()>);
}

/// A call by name with [`Val`]s, resolved.
struct ValNative {
    call: ValCall,
    func: Func,
    results: Vec<Val>,
}

impl<T: WasyncView> NativeJob<T> for ValNative {
    fn func(&self) -> &str {
        &self.call.func
    }

    fn run<'a>(&'a mut self, accessor: &'a Accessor<T>) -> BoxFuture<'a, wasmtime::Result<()>> {
        Box::pin(async move {
            let n = accessor.with(|access| self.func.ty(&access).results().len());
            self.results = vec![Val::Bool(false); n];
            self.func
                .call_concurrent(accessor, &self.call.args, &mut self.results)
                .await
        })
    }

    fn settle(self: Box<Self>, outcome: Result<()>) {
        let this = *self;
        let _ = this.call.reply.send(outcome.map(|()| this.results));
    }
}

/// A typed call, checked against the export's type once.
pub(crate) struct TypedNative<P, R> {
    pub func: Arc<str>,
    pub target: TypedFunc<P, R>,
    pub params: Option<P>,
    pub result: Option<R>,
    pub reply: oneshot::Sender<Result<R>>,
}

impl<T: WasyncView, P: Params, R: Results> NativeJob<T> for TypedNative<P, R> {
    fn func(&self) -> &str {
        &self.func
    }

    fn run<'a>(&'a mut self, accessor: &'a Accessor<T>) -> BoxFuture<'a, wasmtime::Result<()>> {
        Box::pin(async move {
            let Some(params) = self.params.take() else {
                wasmtime::bail!("a typed call was started twice");
            };
            self.result = Some(self.target.call_concurrent(accessor, params).await?);
            Ok(())
        })
    }

    fn settle(self: Box<Self>, outcome: Result<()>) {
        let this = *self;
        let result = outcome.and_then(|()| {
            this.result.ok_or_else(|| {
                Error::Other(anyhow::anyhow!("a typed call settled without a result"))
            })
        });
        let _ = this.reply.send(result);
    }
}

/// Checks an export against a typed call's types and returns its
/// `TypedFunc`, boxed.
pub(crate) type TypedCheck<T> =
    Box<dyn FnOnce(&Access<'_, T>, Func) -> wasmtime::Result<Box<dyn std::any::Any + Send>> + Send>;

/// A call as a driver sends it to a mode N instance.
pub(crate) enum NativeCall<T: 'static> {
    ByName(ValCall),
    Ready(Box<dyn NativeJob<T>>),
}

/// What a caller can ask of a mode N instance.
pub(crate) enum NativeRequest<T: 'static> {
    Call {
        key: u64,
        call: NativeCall<T>,
    },
    /// Resolve `func` and check it against a typed call's types.
    Typed {
        func: String,
        check: TypedCheck<T>,
        reply: oneshot::Sender<Result<Box<dyn std::any::Any + Send>>>,
    },
    Stats {
        reply: oneshot::Sender<HostStats>,
    },
}

/// A mode N instance and what its task needs to run it.
pub(crate) struct NativeMember<T: 'static> {
    pub name: String,
    pub store: Store<T>,
    /// Every exported function, by the name calls use (looked up on every
    /// call by name, hence `ByName`'s hash).
    pub funcs: ByName<Func>,
}

/// Calls whose futures were dropped unsettled, which happens when a trap
/// ends the instance's `run_concurrent`: settled once its error is known.
type Orphans<T> = Mutex<Vec<(Box<dyn NativeJob<T>>, Option<usize>)>>;

/// A call in flight. Dropped unsettled, it joins the orphans.
struct Running<'a, T: 'static> {
    job: Option<Box<dyn NativeJob<T>>>,
    trace: Option<usize>,
    orphans: &'a Orphans<T>,
}

impl<T: 'static> Drop for Running<'_, T> {
    fn drop(&mut self) {
        if let Some(job) = self.job.take() {
            self.orphans
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((job, self.trace));
        }
    }
}

fn trace_start(shared: &Shared, key: u64, name: &str, func: &str) -> Option<usize> {
    if !shared.tracing.load(Ordering::Relaxed) {
        return None;
    }
    let mut trace = shared.trace.lock().unwrap_or_else(|e| e.into_inner());
    trace.push(TraceEvent {
        call: key,
        instance: name.to_owned(),
        caller: None,
        func: func.to_owned(),
        start_us: shared.started.elapsed().as_micros() as u64,
        end_us: None,
        outcome: String::new(),
    });
    Some(trace.len() - 1)
}

fn trace_end(shared: &Shared, at: Option<usize>, outcome: &Result<()>) {
    let Some(at) = at else { return };
    let label = match outcome {
        Ok(()) => "ok",
        Err(e) if e.kind() == ErrorKind::Cancelled => "cancelled",
        Err(_) => "error",
    };
    let mut trace = shared.trace.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(ev) = trace.get_mut(at) {
        ev.end_us = Some(shared.started.elapsed().as_micros() as u64);
        ev.outcome = label.to_owned();
    }
}

/// Answers every request with `why` once the instance is dead.
fn refuse<T: 'static>(req: NativeRequest<T>, why: &str) {
    let dead = || Error::InstanceDead {
        first: why.to_owned(),
    };
    match req {
        NativeRequest::Call { call, .. } => match call {
            NativeCall::ByName(call) => {
                let _ = call.reply.send(Err(dead()));
            }
            NativeCall::Ready(job) => job.settle(Err(dead())),
        },
        NativeRequest::Typed { reply, .. } => {
            let _ = reply.send(Err(dead()));
        }
        NativeRequest::Stats { reply } => {
            let _ = reply.send(HostStats::default());
        }
    }
}

/// Runs mode N instance `member` until every driver is gone.
pub(crate) async fn run<T: WasyncView>(
    member: NativeMember<T>,
    mut rx: mpsc::UnboundedReceiver<NativeRequest<T>>,
    shared: Arc<Shared>,
) {
    let NativeMember {
        name,
        mut store,
        funcs,
    } = member;
    let mut dead: Option<String> = None;
    let orphans: Orphans<T> = Mutex::new(Vec::new());
    let outcome = store
        .run_concurrent(async |accessor| {
            let mut running = FuturesUnordered::new();
            let mut entries = 0u64;
            loop {
                tokio::select! {
                    req = rx.recv() => {
                        let Some(req) = req else { break };
                        if let Some(why) = &dead {
                            refuse(req, why);
                            continue;
                        }
                        match req {
                            NativeRequest::Call { key, call } => {
                                let job: Box<dyn NativeJob<T>> = match call {
                                    NativeCall::Ready(job) => job,
                                    NativeCall::ByName(call) => match funcs.get(&*call.func).copied() {
                                        Some(func) => Box::new(ValNative { call, func, results: Vec::new() }),
                                        None => {
                                            let available = names(&funcs);
                                            let name = call.func.to_string();
                                            let _ = call.reply.send(Err(Error::MissingExport { name, available }));
                                            continue;
                                        }
                                    },
                                };
                                entries += 1;
                                let trace = trace_start(&shared, key, &name, job.func());
                                let mut slot = Running { job: Some(job), trace, orphans: &orphans };
                                running.push(async move {
                                    let out = match slot.job.as_mut() {
                                        Some(job) => job.run(accessor).await,
                                        None => Ok(()),
                                    };
                                    (slot, out)
                                });
                            }
                            NativeRequest::Typed { func, check, reply } => {
                                let result = match funcs.get(func.as_str()).copied() {
                                    Some(f) => accessor.with(|access| check(&access, f)).map_err(|e| {
                                        Error::BadArguments {
                                            func: func.clone(),
                                            message: format!("the typed call does not match the export's type: {e:#}"),
                                        }
                                    }),
                                    None => Err(Error::MissingExport {
                                        name: func,
                                        available: names(&funcs),
                                    }),
                                };
                                let _ = reply.send(result);
                            }
                            NativeRequest::Stats { reply } => {
                                let table_entries = accessor.with(|mut access| {
                                    access.data_mut().wasync().table.iter_mut().count()
                                });
                                let _ = reply.send(HostStats {
                                    table_entries,
                                    pending_calls: running.len(),
                                    entries,
                                    ..HostStats::default()
                                });
                            }
                        }
                    }
                    Some((mut slot, out)) = running.next(), if !running.is_empty() => {
                        let Some(job) = slot.job.take() else { continue };
                        let outcome = match out {
                            Ok(()) => Ok(()),
                            Err(e) => {
                                let panic = accessor.with(|mut access| access.data_mut().panic_message());
                                let err = call_error(job.func(), e, panic);
                                if err.kind() == ErrorKind::Trap {
                                    dead = Some(err.headline());
                                }
                                Err(err)
                            }
                        };
                        trace_end(&shared, slot.trace, &outcome);
                        job.settle(outcome);
                    }
                }
            }
        })
        .await;
    // The store's loop ended: every driver is gone, or a trap stopped it,
    // with calls in flight. Those fail as in mode C: with the trap, as a
    // dead instance.
    let why = match outcome {
        Ok(()) => return,
        Err(e) => call_error(&name, e, store.data().panic_message()).headline(),
    };
    for (job, trace) in orphans.into_inner().unwrap_or_else(|e| e.into_inner()) {
        let outcome = Err(Error::InstanceDead { first: why.clone() });
        trace_end(&shared, trace, &outcome);
        job.settle(outcome);
    }
    while let Some(req) = rx.recv().await {
        refuse(req, &why);
    }
}
