//! The mode C host: many overlapping calls into each instance, and
//! host-mediated composition, over the wasync ABI (docs/abi.md).
//!
//! Build a [`Concurrent`] host over your own wasmtime `Linker`, add
//! instances (linking their imported interfaces to earlier instances), then
//! [`Concurrent::start`] it: one event loop task owns every instance from
//! then on, and a cheap, cloneable [`Driver`] sends it calls with
//! [`Driver::call_concurrent`], named after wasmtime's own
//! `Func::call_concurrent`.
//!
//! Ground rules:
//! - Each instance lives in a store of its own, with store data the
//!   embedder makes. wasmtime poisons a whole store when a guest traps;
//!   with one store per instance a trap ends that instance only, and the
//!   calls it served for others fail cleanly.
//! - Calls in flight are bounded ([`HostConfig::max_calls`]): one more is
//!   refused with [`Error::Busy`] at once, so a host under load never
//!   queues without end.
//! - Dropping a [`Call`] cancels it in the guest.
//! - The event loop is the one owner of the instances, except while it is
//!   idle: then a [`Call`]'s first poll may run the loop's work in the
//!   caller's task, saving the hand-off to the loop task and back (the
//!   private module `seat` says how).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::sync::{mpsc, oneshot, watch};
use wasmtime::component::types::{ComponentFunc, ComponentItem};
use wasmtime::component::{Component, Linker, Type, TypedFunc, Val};
use wasmtime::{Engine, Store};

use crate::abi::{self, GUEST_IFACE};
use crate::call::{Signature, check_args, exported_funcs, lookup_funcs, parse_call};
use crate::error::{Error, Result};
use crate::event_loop::Loop;
use crate::job::{
    AsyncExport, Callee, LoopJob, Params, Results, Target, TypedJob, TypedTarget, ValJob, ValWaiter,
};
use crate::native::{NativeCall, NativeJob, NativeMember, NativeRequest, TypedNative};
use crate::seat::{CallSide, Link, Seat};
pub use crate::shared::HostStats;
use crate::shared::{
    ByName, Export, Gauge, GuestAbi, Member, Request, Shared, TypedCheck, ValCall, names,
};
use crate::trace::TraceEvent;
use crate::typecheck::type_name;
use crate::view::WasyncView;

/// An instance of a [`Concurrent`] host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InstanceId(pub usize);

/// Settings of a [`Concurrent`] host.
///
/// # Examples
///
/// ```
/// let config = wasync_host::HostConfig { max_calls: 1_000, ..Default::default() };
/// assert_eq!(config.max_calls, 1_000);
/// ```
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// The most calls from outside in flight at once, over all instances.
    /// One more is refused with [`Error::Busy`].
    pub max_calls: usize,
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig { max_calls: 100_000 }
    }
}

/// Where an instance lives: its index among the event loop's members
/// (modes S and C) or among the mode N instances.
#[derive(Debug, Clone, Copy)]
enum Slot {
    Loop(usize),
    Native(usize),
}

/// Where a driver sends an instance's requests.
enum Route<T: 'static> {
    /// The event loop, with the instance's index there.
    Loop(usize),
    /// The task that runs this mode N instance.
    Native(mpsc::UnboundedSender<NativeRequest<T>>),
}

/// Makes the store data of each new instance, given its name.
type MakeData<T> = Box<dyn FnMut(&str) -> Result<T> + Send>;

/// A mode C host being set up: instances are added, then it starts.
///
/// `T` is the embedder's store data; every instance gets its own, made by
/// the function given to [`Concurrent::new`].
pub struct Concurrent<T: WasyncView> {
    engine: Engine,
    linker: Linker<T>,
    /// The engine and linker of mode N components, if the host takes them.
    native: Option<(Engine, Linker<T>)>,
    make_data: MakeData<T>,
    config: HostConfig,
    /// Where each instance lives, by [`InstanceId`].
    slots: Vec<Slot>,
    /// The mode S and C instances, which the event loop owns.
    members: Vec<Member<T>>,
    /// The mode N instances, each run by a task of its own.
    natives: Vec<NativeMember<T>>,
    names: Vec<String>,
    signatures: Vec<ByName<Export>>,
    /// Each instance's exports, with whether each is an interface.
    exports: Vec<Vec<(String, bool)>>,
    linked_ifaces: Vec<String>,
}

/// The callable functions of a component, by the names calls use; an
/// `f-start`/`f-finish` pair also appears as `f`, with `f-start`'s
/// parameters and `f-finish`'s results.
/// Each name's target comes from `targets` (an event loop member's), if
/// given.
fn signatures(
    funcs: &[(String, ComponentFunc)],
    targets: Option<&ByName<Target>>,
) -> ByName<Export> {
    let export = |name: &str, sig: Signature| Export {
        sig,
        target: targets.and_then(|t| t.get(name).copied()),
    };
    let mut out: ByName<Export> = funcs
        .iter()
        .map(|(name, f)| (Arc::from(name.as_str()), export(name, Signature::of(f))))
        .collect();
    for (base, (_, start), (_, finish)) in async_pairs(funcs) {
        let params = Signature::of(start).params;
        let results = Signature::of(finish).results;
        out.insert(Arc::from(base), export(base, Signature { params, results }));
    }
    out
}

/// Each `f-start` with its `f-finish`, as `(f, start, finish)`.
#[allow(clippy::type_complexity)]
fn async_pairs<X>(
    funcs: &[(String, X)],
) -> impl Iterator<Item = (&str, &(String, X), &(String, X))> {
    funcs.iter().filter_map(move |start| {
        let base = start.0.strip_suffix("-start")?;
        let finish = funcs
            .iter()
            .find(|(n, _)| n.strip_suffix("-finish") == Some(base))?;
        Some((base, start, finish))
    })
}

/// Refuses a component that speaks the wasync ABI (it exports the
/// guest interface) but has an async export whose halves do not have the
/// ABI's shape: `f-start` returns one `result<_, u32>` (done, or the id of
/// the call that runs on), and `f-finish` takes that `u32`. Accepted, such
/// a pair would fail every call, and the first would end the instance.
fn check_async_pairs(name: &str, exported: &[(String, ComponentFunc)]) -> Result<()> {
    let speaks_abi = ["wake", "cancel"].iter().all(|f| {
        let entry = format!("{GUEST_IFACE}#{f}");
        exported.iter().any(|(n, _)| *n == entry)
    });
    if !speaks_abi {
        return Ok(());
    }
    for (_, (start, start_ty), (finish, finish_ty)) in async_pairs(exported) {
        let results: Vec<Type> = start_ty.results().collect();
        let start_ok = matches!(
            results.as_slice(),
            [Type::Result(r)] if matches!(r.err(), Some(Type::U32))
        );
        if !start_ok {
            let returns = match results.as_slice() {
                [] => "nothing".to_owned(),
                types => types.iter().map(type_name).collect::<Vec<_>>().join(", "),
            };
            return Err(Error::Protocol(format!(
                "`{name}`: `{start}` returns {returns}, where an async export's start \
                 returns one result<_, u32> (its result, or the id of the call that runs on)"
            )));
        }
        let params: Vec<Type> = finish_ty.params().map(|(_, t)| t).collect();
        if !matches!(params.as_slice(), [Type::U32]) {
            return Err(Error::Protocol(format!(
                "`{name}`: `{finish}` takes ({}), where an async export's finish takes one \
                 u32 (the id of the call)",
                params.iter().map(type_name).collect::<Vec<_>>().join(", ")
            )));
        }
    }
    Ok(())
}

impl<T: WasyncView> Concurrent<T> {
    /// A new host over `linker` (with whatever the embedder links: WASI,
    /// its own imports), to which it adds the wasync ABI. `make_data`
    /// makes the store data of each instance, given the instance's name.
    ///
    /// # Examples
    ///
    /// ```
    /// use wasmtime::component::{Linker, ResourceTable};
    /// use wasync_host::{Concurrent, WasyncCtx, WasyncCtxView, WasyncView};
    ///
    /// struct MyState { wasync: WasyncCtx, table: ResourceTable }
    /// impl WasyncView for MyState {
    ///     fn wasync(&mut self) -> WasyncCtxView<'_> {
    ///         WasyncCtxView { ctx: &mut self.wasync, table: &mut self.table }
    ///     }
    /// }
    ///
    /// let mut config = wasmtime::Config::new();
    /// config.async_support(true);
    /// let engine = wasmtime::Engine::new(&config)?;
    /// let linker = Linker::new(&engine);
    /// let host = Concurrent::new(&engine, &linker, |_name| {
    ///     Ok(MyState { wasync: WasyncCtx::default(), table: ResourceTable::new() })
    /// })?;
    /// # Ok::<(), wasync_host::Error>(())
    /// ```
    pub fn new(
        engine: &Engine,
        linker: &Linker<T>,
        make_data: impl FnMut(&str) -> Result<T> + Send + 'static,
    ) -> Result<Concurrent<T>> {
        let mut linker = linker.clone();
        abi::add_to_linker(&mut linker)
            .map_err(|e| Error::Config(format!("cannot link the wasync ABI: {e}")))?;
        Ok(Concurrent {
            engine: engine.clone(),
            linker,
            native: None,
            make_data: Box::new(make_data),
            config: HostConfig::default(),
            slots: Vec::new(),
            members: Vec::new(),
            natives: Vec::new(),
            names: Vec::new(),
            signatures: Vec::new(),
            exports: Vec::new(),
            linked_ifaces: Vec::new(),
        })
    }

    /// Lets the host take mode N (native WASI 0.3) components too:
    /// components compiled for `engine`, whose config must have
    /// `concurrency_support` on, are instantiated with `linker` (WASI 0.3
    /// and the embedder's imports; the wasync ABI is not needed) and run by
    /// wasmtime's own `run_concurrent`. A separate engine keeps the calls of
    /// modes S and C fast: `concurrency_support` slows every synchronous
    /// call.
    pub fn with_native(mut self, engine: &Engine, linker: &Linker<T>) -> Concurrent<T> {
        self.native = Some((engine.clone(), linker.clone()));
        self
    }

    /// Replaces the host's settings.
    pub fn with_config(mut self, config: HostConfig) -> Concurrent<T> {
        self.config = config;
        self
    }

    /// Instantiates `component` as `name` in a store of its own. Each
    /// `(import, target)` in `links` forwards the instance's imported async
    /// functions of that import to `target`, an instance added earlier
    /// (which makes every link graph acyclic): to its export of the same
    /// name, or else to its only exported interface.
    ///
    /// A component that exports the wasync ABI's guest interface but has an
    /// async export whose `f-start`/`f-finish` pair has another shape than
    /// the ABI's is refused here, with [`Error::Protocol`], before anything
    /// of it runs.
    pub async fn add(
        &mut self,
        name: &str,
        component: &Component,
        links: &[(&str, InstanceId)],
    ) -> Result<InstanceId> {
        let plugs: Vec<(Option<&str>, InstanceId)> =
            links.iter().map(|(i, t)| (Some(*i), *t)).collect();
        self.add_plugged(name, component, &plugs).await
    }

    /// [`Concurrent::add`] with the plug rule of static composition
    /// ([`crate::match_plug`]): `(Some(import), target)` links that import
    /// as `add` does, and `(None, target)` links every import of
    /// `component` that `target` exports under the same name.
    pub async fn add_plugged(
        &mut self,
        name: &str,
        component: &Component,
        plugs: &[(Option<&str>, InstanceId)],
    ) -> Result<InstanceId> {
        let id = self.slots.len();
        if let Some((native, _)) = &self.native
            && Engine::same(component.engine(), native)
        {
            if !plugs.is_empty() {
                return Err(Error::Compose(format!(
                    "{name} is a mode N component: mode N components compose statically \
                     (`wasync-harness compose`), and calls between them are native"
                )));
            }
            return self.add_native(name, component).await;
        }
        if !Engine::same(component.engine(), &self.engine) {
            return Err(Error::Config(format!(
                "{name} was compiled for another engine than this host's{}",
                if self.native.is_none() {
                    " (a mode N component needs `Concurrent::with_native`)"
                } else {
                    ""
                }
            )));
        }
        let engine = self.engine.clone();
        let ty = component.component_type();
        let imports: Vec<String> = ty.imports(&engine).map(|(n, _)| n.to_owned()).collect();
        let mut link_map = HashMap::new();
        for (import, target) in plugs {
            let no_target =
                || Error::Compose(format!("{name}: no instance {} to link to", target.0));
            let target_index = match self.slots.get(target.0) {
                Some(Slot::Loop(i)) => *i,
                Some(Slot::Native(_)) => {
                    return Err(Error::Compose(format!(
                        "{} is a mode N component: host-mediated links need the wasync ABI on both ends",
                        self.names[target.0]
                    )));
                }
                None => return Err(no_target()),
            };
            let target_member = self.members.get(target_index).ok_or_else(no_target)?;
            if target_member.guest.is_none() {
                return Err(Error::Compose(format!(
                    "{} is not a mode C component: host-mediated links need the wasync ABI on both ends; \
                     compose mode S components statically",
                    target_member.name
                )));
            }
            let exports: Vec<(String, bool)> = self.exports[target_index]
                .iter()
                .filter(|(n, _)| n != GUEST_IFACE)
                .cloned()
                .collect();
            let pairs =
                crate::plug::match_plug(*import, name, &imports, &target_member.name, &exports)?;
            for (export, import) in pairs {
                let Some(ComponentItem::ComponentInstance(inst_ty)) =
                    ty.get_import(&engine, &import).map(|i| i.ty)
                else {
                    return Err(Error::Compose(format!("`{import}` is not an interface")));
                };
                if !self.linked_ifaces.contains(&import) {
                    let funcs: Vec<String> = inst_ty
                        .exports(&engine)
                        .filter(|(_, item)| matches!(item.ty, ComponentItem::ComponentFunc(_)))
                        .map(|(n, _)| n.to_owned())
                        .collect();
                    abi::define_link(&mut self.linker, &import, &funcs)
                        .map_err(|e| Error::Config(format!("cannot link `{import}`: {e}")))?;
                    self.linked_ifaces.push(import.clone());
                }
                link_map.insert(import, (target_index, export));
            }
        }
        // Before anything runs: a broken pair would fail every call.
        let exported = exported_funcs(&engine, component);
        check_async_pairs(name, &exported)?;
        let data = (self.make_data)(name)?;
        let mut store = Store::new(&engine, data);
        store.data_mut().wasync().ctx.abi.links = link_map;
        crate::limits::apply_limits(&mut store)?;
        let pre = self
            .linker
            .instantiate_pre(component)
            .map_err(|e| crate::unsatisfied(&e))?;
        store.data_mut().wasync().ctx.abi.entered = true;
        let timeout = crate::limits::begin_entry(&mut store)?;
        let instance = crate::limits::run_entry(timeout, pre.instantiate_async(&mut store)).await;
        crate::limits::end_entry(&mut store);
        store.data_mut().wasync().ctx.abi.entered = false;
        let instance = instance
            .map_err(|e| crate::limits::entry_error(&mut store, name, "<instantiation>", e))?;

        let funcs = lookup_funcs(&mut store, &instance, component, &exported)?;
        let wake = funcs.get(format!("{GUEST_IFACE}#wake").as_str()).copied();
        let cancel = funcs.get(format!("{GUEST_IFACE}#cancel").as_str()).copied();
        let guest = wake
            .zip(cancel)
            .map(|(wake, cancel)| GuestAbi { wake, cancel });
        let mut targets: ByName<Target> = funcs
            .iter()
            .map(|(n, f)| (n.clone(), Target::Plain(Callee::new(&store, *f))))
            .collect();
        if guest.is_some() {
            for (base, (start, _), (finish, _)) in async_pairs(&exported) {
                let export = AsyncExport {
                    start: Callee::new(&store, funcs[start.as_str()]),
                    finish: Callee::new(&store, funcs[finish.as_str()]),
                };
                targets.insert(Arc::from(base), Target::Async(export));
            }
        }
        self.exports.push(
            ty.exports(&engine)
                .map(|(n, item)| {
                    let interface = matches!(item.ty, ComponentItem::ComponentInstance(_));
                    (n.to_owned(), interface)
                })
                .collect(),
        );
        self.signatures.push(signatures(&exported, Some(&targets)));
        self.names.push(name.to_owned());
        self.slots.push(Slot::Loop(self.members.len()));
        self.members.push(Member {
            name: name.to_owned(),
            store,
            targets,
            guest,
            dead: None,
            waiting: Default::default(),
        });
        Ok(InstanceId(id))
    }

    /// Instantiates a mode N component in a store of its own.
    async fn add_native(&mut self, name: &str, component: &Component) -> Result<InstanceId> {
        let Some((engine, linker)) = self.native.clone() else {
            return Err(Error::Config("this host takes no mode N components".into()));
        };
        let data = (self.make_data)(name)?;
        let mut store = Store::new(&engine, data);
        crate::limits::apply_limits(&mut store)?;
        let pre = linker
            .instantiate_pre(component)
            .map_err(|e| crate::unsatisfied(&e))?;
        // A breach of the store's limits while instantiating is typed, as
        // in mode C.
        let instance = pre
            .instantiate_async(&mut store)
            .await
            .map_err(|e| crate::limits::entry_error(&mut store, name, "<instantiation>", e))?;
        let exported = exported_funcs(&engine, component);
        let funcs = lookup_funcs(&mut store, &instance, component, &exported)?;
        let id = self.slots.len();
        self.signatures.push(signatures(&exported, None));
        self.names.push(name.to_owned());
        // Never a link target: an empty list keeps the indexes of `exports`
        // in step with the loop's members only.
        self.slots.push(Slot::Native(self.natives.len()));
        self.natives.push(NativeMember {
            name: name.to_owned(),
            store,
            funcs,
        });
        Ok(InstanceId(id))
    }

    /// Starts the event loop on the current tokio runtime and returns a
    /// driver for it. The loop ends when every driver is dropped.
    pub fn start(mut self) -> Driver<T> {
        let gauges = self
            .members
            .iter_mut()
            .map(|m| Gauge {
                in_flight: AtomicUsize::new(0),
                max: m.store.data_mut().wasync().ctx.limits().max_calls,
            })
            .collect();
        let shared = Arc::new(Shared {
            gauges,
            names: self.names,
            signatures: self.signatures,
            tracing: AtomicBool::new(false),
            trace: Mutex::new(Vec::new()),
            started: std::time::Instant::now(),
            next_key: AtomicU64::new(1),
            in_flight: AtomicUsize::new(0),
            max_calls: self.config.max_calls,
        });
        let looped = Box::new(Loop::new(self.members, shared.clone()));
        let runtime = tokio::runtime::Handle::current();
        let seat = Seat::new(runtime.id());
        // Every task of the host holds `alive` until it has dropped what it
        // owns, so that `Driver::shutdown` can wait for the end.
        let (ended, alive) = watch::channel(());
        runtime.spawn({
            let (seat, alive) = (seat.clone(), alive.clone());
            // Made out here and moved in, so that it stops the seat also
            // when the runtime drops the task, polled or not: callers
            // waiting on the loop then learn that it stopped.
            let stop = StopOnDrop(seat.clone());
            async move {
                looped.run(seat).await;
                drop(stop);
                drop(alive);
            }
        });
        let tx = Arc::new(Link::new(seat, shared.clone()));
        let mut natives: Vec<Option<mpsc::UnboundedSender<NativeRequest<T>>>> = Vec::new();
        for member in self.natives {
            let (ntx, nrx) = mpsc::unbounded_channel();
            let (shared, alive) = (shared.clone(), alive.clone());
            tokio::spawn(async move {
                crate::native::run(member, nrx, shared).await;
                drop(alive);
            });
            natives.push(Some(ntx));
        }
        let routes: Vec<Route<T>> = self
            .slots
            .iter()
            .map(|slot| match *slot {
                Slot::Loop(i) => Route::Loop(i),
                Slot::Native(i) => match natives[i].take() {
                    Some(tx) => Route::Native(tx),
                    None => unreachable!("each mode N instance has one slot"),
                },
            })
            .collect();
        Driver {
            tx,
            routes: Arc::new(routes),
            shared,
            ended: Arc::new(ended),
        }
    }
}

/// Whether `component` is a mode C component (it exports
/// `wasync:abi/guest`).
pub fn speaks_wasync_abi(engine: &Engine, component: &Component) -> bool {
    component
        .component_type()
        .get_export(engine, GUEST_IFACE)
        .is_some()
}

/// Sends calls to a running [`Concurrent`] host. Cheap to clone.
pub struct Driver<T: WasyncView> {
    /// The event loop's seat: where requests queue, and its state while idle.
    tx: Arc<Link<T>>,
    routes: Arc<Vec<Route<T>>>,
    shared: Arc<Shared>,
    /// Closed once every task of the host (the event loop, each mode N
    /// instance's) has ended and dropped its stores: each holds a receiver.
    ended: Arc<watch::Sender<()>>,
}

impl<T: WasyncView> Clone for Driver<T> {
    fn clone(&self) -> Self {
        Driver {
            tx: self.tx.clone(),
            routes: self.routes.clone(),
            shared: self.shared.clone(),
            ended: self.ended.clone(),
        }
    }
}

impl<T: WasyncView> Driver<T> {
    /// Calls `func` (`f` or `iface#f`) of instance `inst`. For an async
    /// function of a mode C instance the call overlaps with every other;
    /// calls into a mode S instance run one after another. Dropping the
    /// returned future before it completes cancels the call.
    pub fn call_concurrent(
        &self,
        inst: InstanceId,
        func: &str,
        args: Vec<Val>,
    ) -> Result<Call<Vec<Val>>> {
        let (func, export) = self.sig(inst, func)?;
        check_args(func, &export.sig, &args)?;
        let loop_job = match (self.route(inst)?, export.target) {
            (Route::Loop(_), Some(target)) => Some(target),
            (Route::Loop(_), None) => {
                // An async pair of a mode S instance: without the guest
                // ABI nothing can finish a call of the pair, so only its
                // halves are callable.
                let sigs = &self.shared.signatures[inst.0];
                let mut available = names(sigs);
                available.retain(|n| sigs.get(n.as_str()).is_some_and(|e| e.target.is_some()));
                return Err(Error::MissingExport {
                    name: func.to_string(),
                    available,
                });
            }
            (Route::Native(_), _) => None,
        };
        let permit = self.permit(inst)?;
        let (reply, rx) = oneshot::channel();
        let out = match loop_job {
            // Boxed where it is made: every later move, through the
            // seat's queue into the loop's books, is a pointer's (see
            // `LoopJob`).
            Some(target) => Outgoing::Loop(LoopJob::Val(Box::new(ValJob {
                func: func.clone(),
                target,
                args,
                results: Vec::new(),
                waiter: ValWaiter::External(reply),
            }))),
            None => Outgoing::ByName(ValCall {
                func: func.clone(),
                args,
                reply,
            }),
        };
        self.send_call(inst, permit, out, rx)
    }

    /// [`Driver::call_concurrent`] with the call written in WAVE, the
    /// syntax of `wasmtime run --invoke`: `f(1, "two")` or
    /// `ns:pkg/iface#f(…)`.
    pub fn call_concurrent_wave(&self, inst: InstanceId, call: &str) -> Result<Call<Vec<Val>>> {
        let (name, args) = parse_call(call, |name| self.signature(inst, name))?;
        self.call_concurrent(inst, &name, args)
    }

    /// A typed handle to `func` of `inst`: its calls pass `P` and `R`
    /// straight to and from wasm, without [`Val`]s. `P` and `R` are tuples,
    /// as with wasmtime's `TypedFunc`: `(String, u32)` and `(String,)` for
    /// `f: func(a: string, b: u32) -> string`, or `()` for no result. For an
    /// async export of a mode C instance they are the types of the `async
    /// func`, before lowering.
    pub async fn typed<P: Params, R: Results>(
        &self,
        inst: InstanceId,
        func: &str,
    ) -> Result<TypedExport<T, P, R>> {
        self.sig(inst, func)?;
        let (reply, rx) = oneshot::channel();
        let sent = match self.route(inst)? {
            Route::Loop(i) => {
                let check: TypedCheck<T> = Box::new(|store, target| {
                    let typed = TypedTarget::<P, R>::check(store, target)?;
                    Ok(Box::new(TypedKind::Loop(typed)))
                });
                self.tx
                    .send(Request::Typed {
                        inst: *i,
                        func: func.to_owned(),
                        check,
                        reply,
                    })
                    .is_ok()
            }
            Route::Native(tx) => {
                let check: crate::native::TypedCheck<T> = Box::new(|access, f| {
                    let typed = f.typed::<P, R>(access)?;
                    Ok(Box::new(TypedKind::<P, R>::Native(typed)))
                });
                tx.send(NativeRequest::Typed {
                    func: func.to_owned(),
                    check,
                    reply,
                })
                .is_ok()
            }
        };
        if !sent {
            return Err(stopped());
        }
        let any = rx.await.map_err(|_| stopped())??;
        let target = *any
            .downcast::<TypedKind<P, R>>()
            .map_err(|_| Error::Other(anyhow::anyhow!("a typed check returned another type")))?;
        Ok(TypedExport {
            driver: self.clone(),
            inst,
            func: Arc::from(func),
            target,
        })
    }

    fn route(&self, inst: InstanceId) -> Result<&Route<T>> {
        self.routes
            .get(inst.0)
            .ok_or_else(|| Error::Config(format!("no instance {}", inst.0)))
    }

    /// A place for one more call into `inst`: among the host's calls in
    /// flight (held until the [`Call`] is gone) and, for a mode C instance,
    /// among the instance's (given back by the loop when the call settles).
    fn permit(&self, inst: InstanceId) -> Result<Permit<'_>> {
        let max = self.shared.max_calls;
        let mut now = self.shared.in_flight.load(Ordering::Relaxed);
        loop {
            if now >= max {
                return Err(Error::Busy { limit: max });
            }
            match self.shared.in_flight.compare_exchange_weak(
                now,
                now + 1,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(actual) => now = actual,
            }
        }
        let permit = Permit(&self.shared);
        // Mode N instances have no gauge: their calls run on wasmtime's
        // own scheduler, bounded by the host-wide limit only.
        let Route::Loop(i) = self.route(inst)? else {
            return Ok(permit);
        };
        let gauge = &self.shared.gauges[*i];
        if !gauge.take() {
            return Err(Error::Limit {
                limit: crate::Limit::Calls {
                    max: gauge.max.unwrap_or_default(),
                },
                instance: self.name(inst).to_owned(),
                stopped: false,
            });
        }
        Ok(permit)
    }

    fn send_call<R>(
        &self,
        inst: InstanceId,
        permit: Permit<'_>,
        out: Outgoing<T>,
        rx: oneshot::Receiver<Result<R>>,
    ) -> Result<Call<R>> {
        let key = self.shared.next_key.fetch_add(1, Ordering::Relaxed);
        let sent = match (self.route(inst)?, out) {
            (Route::Loop(i), Outgoing::Loop(job)) => {
                self.tx.send(Request::Call { key, inst: *i, job })
            }
            (Route::Native(tx), Outgoing::ByName(call)) => {
                let call = NativeCall::ByName(call);
                return self.native_call(tx, key, call, permit, rx);
            }
            (Route::Native(tx), Outgoing::Native(job)) => {
                return self.native_call(tx, key, NativeCall::Ready(job), permit, rx);
            }
            _ => {
                return Err(Error::Other(anyhow::anyhow!(
                    "a typed handle was used with another instance's route"
                )));
            }
        };
        if sent.is_err() {
            if let Route::Loop(i) = self.route(inst)? {
                self.shared.gauges[*i].give_back();
            }
            return Err(stopped());
        }
        permit.hand_over();
        Ok(Call {
            key,
            rx,
            side: Side::Loop(self.tx.clone()),
            fresh: true,
            done: false,
        })
    }

    /// Sends a call to a mode N instance. Its `Call` cancels nothing when
    /// dropped: wasmtime 48 cannot cancel a guest task from the host.
    fn native_call<R>(
        &self,
        tx: &mpsc::UnboundedSender<NativeRequest<T>>,
        key: u64,
        call: NativeCall<T>,
        permit: Permit<'_>,
        rx: oneshot::Receiver<Result<R>>,
    ) -> Result<Call<R>> {
        tx.send(NativeRequest::Call { key, call })
            .map_err(|_| stopped())?;
        permit.hand_over();
        Ok(Call {
            key,
            rx,
            side: Side::Native(self.shared.clone()),
            fresh: false,
            done: false,
        })
    }

    /// The signature of a callable function of `inst`.
    pub fn signature(&self, inst: InstanceId, func: &str) -> Result<Signature> {
        self.sig(inst, func).map(|(_, export)| export.sig.clone())
    }

    /// The name as the host keeps it, and what the driver knows of `func`
    /// (its signature, and what it calls in the event loop).
    fn sig(&self, inst: InstanceId, func: &str) -> Result<(&Arc<str>, &Export)> {
        let sigs = self
            .shared
            .signatures
            .get(inst.0)
            .ok_or_else(|| Error::Config(format!("no instance {}", inst.0)))?;
        sigs.get_key_value(func)
            .ok_or_else(|| Error::MissingExport {
                name: func.to_owned(),
                available: names(sigs),
            })
    }

    /// The instance's name.
    pub fn name(&self, inst: InstanceId) -> &str {
        self.shared.names.get(inst.0).map_or("?", String::as_str)
    }

    /// Drops this driver and waits until the host has ended and dropped
    /// its instances. That happens once every other clone of the driver
    /// and every [`Call`] are dropped too: the event loop ends after the
    /// mode C calls still in flight have settled, and each mode N
    /// instance's task ends at once, its calls in flight with it (wasmtime
    /// 48 cannot cancel them one by one). Dropping the last driver ends the
    /// host all the same; this also says when it is done (before a process
    /// measures or exits, for instance).
    pub async fn shutdown(self) {
        let ended = self.ended.clone();
        drop(self);
        ended.closed().await;
    }

    /// How many calls from outside are in flight now.
    pub fn calls_in_flight(&self) -> usize {
        self.shared.in_flight.load(Ordering::Relaxed)
    }

    /// Host-side gauges, over every instance: resource table size, calls
    /// in flight.
    pub async fn stats(&self) -> Result<HostStats> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Request::Stats { reply })
            .map_err(|_| stopped())?;
        let mut total = rx.await.map_err(|_| stopped())?;
        for route in self.routes.iter() {
            if let Route::Native(tx) = route {
                let (reply, rx) = oneshot::channel();
                tx.send(NativeRequest::Stats { reply })
                    .map_err(|_| stopped())?;
                let n = rx.await.map_err(|_| stopped())?;
                total.table_entries += n.table_entries;
                total.pending_calls += n.pending_calls;
                total.entries += n.entries;
            }
        }
        Ok(total)
    }

    /// Starts (or stops) recording calls for [`Driver::trace`]. Off by
    /// default: a host that runs for long would otherwise keep a record of
    /// every call it ever served.
    pub fn record_trace(&self, on: bool) {
        self.shared.tracing.store(on, Ordering::Relaxed);
    }

    /// Every call recorded so far (see [`Driver::record_trace`]): start,
    /// end, the instance it ran in and, for a call one instance made into
    /// another, the caller; in start order.
    pub fn trace(&self) -> Vec<TraceEvent> {
        self.shared
            .trace
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// What a driver sends for a call, before it knows the instance's route.
enum Outgoing<T: 'static> {
    /// By name, for a mode N instance's task to look up.
    ByName(ValCall),
    Loop(LoopJob<T>),
    Native(Box<dyn NativeJob<T>>),
}

/// A typed export, checked against its instance's kind.
enum TypedKind<P, R: Results> {
    Loop(TypedTarget<P, R>),
    Native(TypedFunc<P, R>),
}

/// A typed handle to one export of an instance; see [`Driver::typed`].
pub struct TypedExport<T: WasyncView, P, R: Results> {
    driver: Driver<T>,
    inst: InstanceId,
    func: Arc<str>,
    target: TypedKind<P, R>,
}

impl<T: WasyncView, P: Params, R: Results> TypedExport<T, P, R> {
    /// Calls the export with `params`; see [`Driver::call_concurrent`].
    pub fn call_concurrent(&self, params: P) -> Result<Call<R>> {
        let permit = self.driver.permit(self.inst)?;
        let (reply, rx) = oneshot::channel();
        let out = match &self.target {
            TypedKind::Loop(target) => Outgoing::Loop(LoopJob::Typed(Box::new(TypedJob {
                func: self.func.clone(),
                target: *target,
                params: Some(params),
                result: None,
                reply,
            }))),
            TypedKind::Native(target) => Outgoing::Native(Box::new(TypedNative {
                func: self.func.clone(),
                target: *target,
                params: Some(params),
                result: None,
                reply,
            })),
        };
        self.driver.send_call(self.inst, permit, out, rx)
    }
}

/// Stops the seat when the loop task ends, however it ends.
struct StopOnDrop<T: WasyncView>(Arc<Seat<T>>);

impl<T: WasyncView> Drop for StopOnDrop<T> {
    fn drop(&mut self) {
        self.0.stop();
    }
}

fn stopped() -> Error {
    Error::Other(anyhow::anyhow!("the mode C event loop has stopped"))
}

/// One place among the host's calls in flight, given back when dropped
/// unless handed over to a [`Call`], which gives it back when it is gone.
struct Permit<'a>(&'a Shared);

impl Permit<'_> {
    /// The [`Call`] made with this place gives it back.
    fn hand_over(self) {
        std::mem::forget(self);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What a [`Call`] holds of its host, to cancel it and to give its place
/// among the calls in flight back.
enum Side {
    /// A call into the event loop: to run the call in this task if the
    /// loop is idle at the first poll, to cancel it, and to give its place
    /// back (the one `Arc` a call clones).
    Loop(Arc<dyn CallSide>),
    /// A call into a mode N instance, which the host cannot cancel
    /// (wasmtime 48).
    Native(Arc<Shared>),
}

/// A call in flight. Await it for the results; drop it, or call
/// [`Call::cancel`], to cancel it in the guest.
pub struct Call<R> {
    key: u64,
    rx: oneshot::Receiver<Result<R>>,
    side: Side,
    /// Not polled yet.
    fresh: bool,
    done: bool,
}

impl<R> Call<R> {
    /// The key of this call in the trace.
    pub fn key(&self) -> u64 {
        self.key
    }

    /// Cancels the call: the guest drops its future (and with it what it
    /// was awaiting, calls into other instances included).
    pub fn cancel(self) {
        // Dropping does it.
    }
}

impl<R> Future for Call<R> {
    type Output = Result<R>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if std::mem::take(&mut this.fresh)
            && let Side::Loop(host) = &this.side
        {
            host.serve_in_place(cx);
        }
        match Pin::new(&mut this.rx).poll(cx) {
            Poll::Ready(out) => {
                this.done = true;
                Poll::Ready(out.unwrap_or_else(|_| Err(stopped())))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<R> Drop for Call<R> {
    fn drop(&mut self) {
        match &self.side {
            Side::Loop(host) => {
                if !self.done {
                    host.cancel(self.key);
                }
                host.give_back_place();
            }
            Side::Native(shared) => {
                shared.in_flight.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }
}
