//! The mode C host: many overlapping calls into each instance, and
//! host-mediated composition, over the wasync ABI (docs/abi.md).
//!
//! Build a [`Concurrent`] host, add instances (linking their imported
//! interfaces to earlier instances), then [`Concurrent::start`] it: one
//! event loop task owns every instance from then on, and a cheap, cloneable
//! [`Driver`] sends it calls.
//!
//! Each instance lives in a store of its own. wasmtime poisons a whole
//! store when a guest traps; with one store per instance a trap ends that
//! instance only, and the calls it served for others fail cleanly.
//!
//! ```no_run
//! # async fn demo(harness: wasync_harness::Harness) -> wasync_harness::Result<()> {
//! use wasync_harness::concurrent::Concurrent;
//! use wasync_harness::WasiOptions;
//!
//! let backend = harness.compile("compose-backend-c.wasm")?;
//! let frontend = harness.compile("compose-frontend-c.wasm")?;
//! let mut host = Concurrent::new(&harness, &WasiOptions::default())?;
//! let b = host.add("backend", &backend, &[]).await?;
//! let a = host.add("frontend", &frontend, &[("examples:wasync/backend", b)]).await?;
//! let driver = host.start();
//! // Both calls run at once in one instance of the frontend.
//! let slow = driver.call_wave(a, r#"examples:wasync/frontend#relay("hi", 200)"#)?;
//! let fast = driver.call_wave(a, r#"examples:wasync/frontend#ping()"#)?;
//! let (slow, fast) = futures::join!(slow, fast);
//! # Ok(()) }
//! ```

mod abi;
mod event_loop;
mod trace;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::sync::{mpsc, oneshot};
use wasmtime::Store;
use wasmtime::component::types::{ComponentFunc, ComponentItem};
use wasmtime::component::{Func, Linker, Val};

pub use abi::AbiState;
pub use trace::{TraceEvent, trace_json};

use crate::error::{Error, Result};
use crate::harness::{Harness, Loaded};
use crate::host::{HostState, WasiOptions};
use crate::instance::{Signature, check_args, exported_funcs, lookup_func, parse_call};

/// An instance of a [`Concurrent`] store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InstanceId(pub usize);

/// One instance, its store, and what the loop needs to know of it.
pub(crate) struct Member {
    pub name: String,
    pub store: Store<HostState>,
    /// Every exported function, by the name calls use, resolved once.
    pub funcs: HashMap<String, Func>,
    /// A mode C instance's async exports: `f-start` and `f-finish` by `f`.
    pub asyncs: HashMap<String, AsyncExport>,
    /// A mode C instance's `wasync:abi/guest` functions.
    pub guest: Option<GuestAbi>,
    /// Why it may not be entered any more.
    pub dead: Option<String>,
}

/// The two halves of an async export of a mode C instance.
#[derive(Clone, Copy)]
pub(crate) struct AsyncExport {
    pub start: Func,
    pub finish: Func,
}

/// A mode C instance's side of the ABI.
#[derive(Clone, Copy)]
pub(crate) struct GuestAbi {
    pub wake: Func,
    pub cancel: Func,
}

/// What a caller can ask of the loop.
pub(crate) enum Request {
    Call {
        key: u64,
        inst: usize,
        func: String,
        args: Vec<Val>,
        reply: oneshot::Sender<Result<Vec<Val>>>,
    },
    Cancel {
        key: u64,
    },
    Stats {
        reply: oneshot::Sender<HostStats>,
    },
}

/// Host-side gauges, for leak checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HostStats {
    /// Entries in the store's resource table.
    pub table_entries: usize,
    /// External calls started and not finished.
    pub pending_calls: usize,
    /// Imported calls between instances in flight.
    pub import_calls: usize,
    /// Pollables parked by all instances together.
    pub parked: usize,
    /// Entries into wasm so far (starts, finishes, wakes, cancels).
    pub entries: u64,
}

/// State shared between the loop and every driver.
pub(crate) struct Shared {
    pub names: Vec<String>,
    pub signatures: Vec<HashMap<String, Signature>>,
    /// Whether calls are recorded in `trace`; off unless asked for, so a
    /// long-running host does not grow a record of every call.
    pub tracing: AtomicBool,
    pub trace: Mutex<Vec<TraceEvent>>,
    pub started: std::time::Instant,
    pub next_key: AtomicU64,
}

/// A mode C host being set up: instances are added, then it starts.
pub struct Concurrent {
    harness: Harness,
    linker: Linker<HostState>,
    wasi: WasiOptions,
    members: Vec<Member>,
    signatures: Vec<HashMap<String, Signature>>,
    /// Each instance's exports, with whether each is an interface.
    exports: Vec<Vec<(String, bool)>>,
    linked_ifaces: Vec<String>,
}

/// The callable functions of a component, by the names calls use; an
/// `f-start`/`f-finish` pair also appears as `f`, with `f-start`'s
/// parameters and `f-finish`'s results.
fn signatures(funcs: &[(String, ComponentFunc)]) -> HashMap<String, Signature> {
    let mut out: HashMap<String, Signature> = funcs
        .iter()
        .map(|(name, f)| (name.clone(), Signature::of(f)))
        .collect();
    for (base, (_, start), (_, finish)) in async_pairs(funcs) {
        let params = Signature::of(start).params;
        let results = Signature::of(finish).results;
        out.insert(base.to_owned(), Signature { params, results });
    }
    out
}

/// Each `f-start` with its `f-finish`, as `(f, start, finish)`.
#[allow(clippy::type_complexity)]
fn async_pairs<T>(
    funcs: &[(String, T)],
) -> impl Iterator<Item = (&str, &(String, T), &(String, T))> {
    funcs.iter().filter_map(move |start| {
        let base = start.0.strip_suffix("-start")?;
        let finish = funcs
            .iter()
            .find(|(n, _)| n.strip_suffix("-finish") == Some(base))?;
        Some((base, start, finish))
    })
}

impl Concurrent {
    /// A new host whose instances get the given WASI capabilities.
    pub fn new(harness: &Harness, opts: &WasiOptions) -> Result<Concurrent> {
        let mut linker = harness.linker().clone();
        abi::add_host(&mut linker)
            .map_err(|e| Error::Config(format!("cannot link the wasync ABI: {e}")))?;
        Ok(Concurrent {
            harness: harness.clone(),
            linker,
            wasi: opts.clone(),
            members: Vec::new(),
            signatures: Vec::new(),
            exports: Vec::new(),
            linked_ifaces: Vec::new(),
        })
    }

    /// Instantiates `loaded` as `name`. Each `(import, target)` in `links`
    /// forwards the instance's imported async functions of that import to
    /// `target`, an instance added earlier (which makes every link graph
    /// acyclic): to its export of the same name, or else to its only
    /// exported interface.
    pub async fn add(
        &mut self,
        name: &str,
        loaded: &Loaded,
        links: &[(&str, InstanceId)],
    ) -> Result<InstanceId> {
        let plugs: Vec<(Option<&str>, InstanceId)> =
            links.iter().map(|(i, t)| (Some(*i), *t)).collect();
        self.add_plugged(name, loaded, &plugs).await
    }

    /// [`Concurrent::add`] with the plug rule of static composition:
    /// `(Some(import), target)` links that import as `add` does, and
    /// `(None, target)` links every import of `loaded` that `target`
    /// exports under the same name.
    pub async fn add_plugged(
        &mut self,
        name: &str,
        loaded: &Loaded,
        plugs: &[(Option<&str>, InstanceId)],
    ) -> Result<InstanceId> {
        let id = self.members.len();
        let engine = self.harness.engine().clone();
        let ty = loaded.component().component_type();
        let imports: Vec<String> = ty.imports(&engine).map(|(n, _)| n.to_owned()).collect();
        let mut link_map = HashMap::new();
        for (import, target) in plugs {
            let target_member = self.members.get(target.0).ok_or_else(|| {
                Error::Compose(format!("{name}: no instance {} to link to", target.0))
            })?;
            if target_member.guest.is_none() {
                return Err(Error::Compose(format!(
                    "{} is not a mode C component: host-mediated links need the wasync ABI on both ends; \
                     compose mode S components statically",
                    target_member.name
                )));
            }
            let exports: Vec<(String, bool)> = self.exports[target.0]
                .iter()
                .filter(|(n, _)| n != abi::GUEST_IFACE)
                .cloned()
                .collect();
            let pairs =
                crate::compose::match_plug(*import, name, &imports, &target_member.name, &exports)?;
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
                link_map.insert(import, (target.0, export));
            }
        }
        let mut store = self.harness.new_store(&self.wasi)?;
        store.data_mut().abi.links = link_map;
        let pre = self
            .linker
            .instantiate_pre(loaded.component())
            .map_err(|e| crate::harness::unsatisfied(&e))?;
        store.data_mut().abi.entered = true;
        let instance = pre.instantiate_async(&mut store).await;
        store.data_mut().abi.entered = false;
        let instance =
            instance.map_err(|e| crate::instance::call_error("<instantiation>", e, &store))?;

        let exported = exported_funcs(&engine, loaded);
        let mut funcs = HashMap::new();
        for (fname, _) in &exported {
            funcs.insert(
                fname.clone(),
                lookup_func(&mut store, &instance, loaded, fname)?,
            );
        }
        let wake = funcs.get(&format!("{}#wake", abi::GUEST_IFACE)).copied();
        let cancel = funcs.get(&format!("{}#cancel", abi::GUEST_IFACE)).copied();
        let guest = wake
            .zip(cancel)
            .map(|(wake, cancel)| GuestAbi { wake, cancel });
        let asyncs = match guest {
            Some(_) => async_pairs(&exported)
                .map(|(base, (start, _), (finish, _))| {
                    let export = AsyncExport {
                        start: funcs[start],
                        finish: funcs[finish],
                    };
                    (base.to_owned(), export)
                })
                .collect(),
            None => HashMap::new(),
        };
        self.exports.push(
            ty.exports(&engine)
                .map(|(n, item)| {
                    let interface = matches!(item.ty, ComponentItem::ComponentInstance(_));
                    (n.to_owned(), interface)
                })
                .collect(),
        );
        self.signatures.push(signatures(&exported));
        self.members.push(Member {
            name: name.to_owned(),
            store,
            funcs,
            asyncs,
            guest,
            dead: None,
        });
        Ok(InstanceId(id))
    }

    /// Starts the event loop on the current tokio runtime and returns a
    /// driver for it. The loop ends when every driver is dropped.
    pub fn start(self) -> Driver {
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            names: self.members.iter().map(|m| m.name.clone()).collect(),
            signatures: self.signatures,
            tracing: AtomicBool::new(false),
            trace: Mutex::new(Vec::new()),
            started: std::time::Instant::now(),
            next_key: AtomicU64::new(1),
        });
        let looped = event_loop::Loop::new(self.members, rx, shared.clone());
        tokio::spawn(looped.run());
        Driver { tx, shared }
    }
}

/// Whether `loaded` is a mode C component (it exports `wasync:abi/guest`).
pub fn speaks_wasync_abi(harness: &Harness, loaded: &Loaded) -> bool {
    loaded
        .component()
        .component_type()
        .get_export(harness.engine(), abi::GUEST_IFACE)
        .is_some()
}

/// Sends calls to a running [`Concurrent`] store. Cheap to clone.
#[derive(Clone)]
pub struct Driver {
    tx: mpsc::UnboundedSender<Request>,
    shared: Arc<Shared>,
}

impl Driver {
    /// Calls `func` (`f` or `iface#f`) of instance `inst`. For an async
    /// function of a mode C instance the call overlaps with every other;
    /// calls into a mode S instance run one after another. Dropping the
    /// returned future before it completes cancels the call.
    pub fn call(&self, inst: InstanceId, func: &str, args: Vec<Val>) -> Result<Call> {
        check_args(func, self.sig(inst, func)?, &args)?;
        let key = self.shared.next_key.fetch_add(1, Ordering::Relaxed);
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Request::Call {
                key,
                inst: inst.0,
                func: func.to_owned(),
                args,
                reply,
            })
            .map_err(|_| stopped())?;
        Ok(Call {
            key,
            rx,
            tx: self.tx.clone(),
            done: false,
        })
    }

    /// [`Driver::call`] with the call written in WAVE.
    pub fn call_wave(&self, inst: InstanceId, call: &str) -> Result<Call> {
        let (name, args) = parse_call(call, |name| self.signature(inst, name))?;
        self.call(inst, &name, args)
    }

    /// The signature of a callable function of `inst`.
    pub fn signature(&self, inst: InstanceId, func: &str) -> Result<Signature> {
        self.sig(inst, func).cloned()
    }

    fn sig(&self, inst: InstanceId, func: &str) -> Result<&Signature> {
        let sigs = self
            .shared
            .signatures
            .get(inst.0)
            .ok_or_else(|| Error::Config(format!("no instance {}", inst.0)))?;
        sigs.get(func).ok_or_else(|| {
            let mut available: Vec<String> = sigs.keys().cloned().collect();
            available.sort();
            Error::MissingExport {
                name: func.to_owned(),
                available,
            }
        })
    }

    /// The instance's name.
    pub fn name(&self, inst: InstanceId) -> &str {
        self.shared.names.get(inst.0).map_or("?", String::as_str)
    }

    /// Host-side gauges: resource table size, calls in flight.
    pub async fn stats(&self) -> Result<HostStats> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Request::Stats { reply })
            .map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())
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

fn stopped() -> Error {
    Error::Other(anyhow::anyhow!("the mode C event loop has stopped"))
}

/// A call in flight. Await it for the results; drop it, or call
/// [`Call::cancel`], to cancel it in the guest.
pub struct Call {
    key: u64,
    rx: oneshot::Receiver<Result<Vec<Val>>>,
    tx: mpsc::UnboundedSender<Request>,
    done: bool,
}

impl Call {
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

impl Future for Call {
    type Output = Result<Vec<Val>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match Pin::new(&mut self.rx).poll(cx) {
            Poll::Ready(out) => {
                self.done = true;
                Poll::Ready(out.unwrap_or_else(|_| Err(stopped())))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.tx.send(Request::Cancel { key: self.key });
        }
    }
}
