//! What the drivers and the event loop share: the requests callers send,
//! the instances the loop owns, and the counters both read.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};

use tokio::sync::oneshot;
use wasmtime::Store;
use wasmtime::component::{Func, Val};

use crate::call::Signature;
use crate::error::Result;
use crate::job::{Job, Target, ValJob, ValWaiter};
use crate::trace::TraceEvent;

/// A mode C instance's side of the ABI.
#[derive(Clone, Copy)]
pub(crate) struct GuestAbi {
    pub wake: Func,
    pub cancel: Func,
}

/// One instance, its store, and what the loop needs to know of it.
pub(crate) struct Member<T: 'static> {
    pub name: String,
    pub store: Store<T>,
    /// Every callable function, by the name calls use, resolved once: an
    /// `f-start`/`f-finish` pair of a mode C instance also as `f`.
    pub targets: HashMap<String, Target>,
    /// A mode C instance's `wasync:abi/guest` functions.
    pub guest: Option<GuestAbi>,
    /// Why it may not be entered any more.
    pub dead: Option<String>,
}

/// What a caller can ask of the loop.
pub(crate) enum Request<T: 'static> {
    Call {
        key: u64,
        inst: usize,
        job: CallJob<T>,
    },
    /// Resolve `func` of `inst` and check it against a typed call's types.
    Typed {
        inst: usize,
        func: String,
        #[allow(clippy::type_complexity)]
        check: Box<
            dyn FnOnce(&Store<T>, Target) -> wasmtime::Result<Box<dyn std::any::Any + Send>> + Send,
        >,
        reply: oneshot::Sender<Result<Box<dyn std::any::Any + Send>>>,
    },
    Cancel {
        key: u64,
    },
    Stats {
        reply: oneshot::Sender<HostStats>,
    },
}

/// A call as a driver sends it.
pub(crate) enum CallJob<T: 'static> {
    /// By name, with [`Val`]s: the loop, which owns the instances, finds
    /// what the name calls.
    ByName(ValCall),
    /// Typed, checked against the export already.
    Ready(Box<dyn Job<T>>),
}

/// Host-side gauges, for leak checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HostStats {
    /// Entries in the resource tables of all instances.
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
    /// External calls whose [`Call`] is alive, and the most allowed.
    pub in_flight: AtomicUsize,
    pub max_calls: usize,
}

/// A call by name with [`Val`]s, before the loop resolved the name.
pub(crate) struct ValCall {
    pub func: String,
    pub args: Vec<Val>,
    pub reply: oneshot::Sender<Result<Vec<Val>>>,
}

impl ValCall {
    /// The job for this call, once the loop found what `func` names.
    pub(crate) fn into_job(self, target: Target) -> ValJob {
        ValJob {
            func: self.func,
            target,
            args: self.args,
            results: Vec::new(),
            waiter: ValWaiter::External(self.reply),
        }
    }
}
