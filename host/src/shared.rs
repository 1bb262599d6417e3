//! What the drivers and the event loop share: the requests callers send,
//! the instances the loop owns, and the counters both read.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;
use wasmtime::Store;
use wasmtime::component::{Func, Val};

use crate::call::Signature;
use crate::error::Result;
use crate::job::{LoopJob, Target};
use crate::trace::TraceEvent;

/// A map the host looks up on every call, with a fast hash. No caller
/// chooses its keys: export names come from the host's own components and
/// call keys from its counter. Call ids come from a guest, which can only
/// slow its own host's books (and foldhash seeds each map at random), so
/// SipHash's defence against chosen keys is not worth its cost per call.
pub(crate) type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Functions (or anything else) by the names calls use; a name's `Arc`
/// goes with a call without copying it.
pub(crate) type ByName<V> = FastMap<Arc<str>, V>;

/// The names of `map`, sorted: the list a [`MissingExport`] error gives,
/// in the same order whatever the map's hash seed.
///
/// [`MissingExport`]: crate::Error::MissingExport
pub(crate) fn names<V>(map: &ByName<V>) -> Vec<String> {
    let mut names: Vec<String> = map.keys().map(|k| k.to_string()).collect();
    names.sort();
    names
}

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
    pub targets: ByName<Target>,
    /// A mode C instance's `wasync:abi/guest` functions.
    pub guest: Option<GuestAbi>,
    /// Why it may not be entered any more.
    pub dead: Option<String>,
    /// Imported calls from other instances (caller, call id) waiting for
    /// a place among this instance's calls in flight.
    pub waiting: std::collections::VecDeque<(usize, u32)>,
}

/// What a caller can ask of the loop.
pub(crate) enum Request<T: 'static> {
    Call {
        key: u64,
        inst: usize,
        job: LoopJob<T>,
    },
    /// Resolve `func` of `inst` and check it against a typed call's types.
    Typed {
        inst: usize,
        func: String,
        check: TypedCheck<T>,
        reply: oneshot::Sender<Result<Box<dyn std::any::Any + Send>>>,
    },
    Cancel {
        key: u64,
    },
    Stats {
        reply: oneshot::Sender<HostStats>,
    },
}

/// Checks an export's type against a typed call's, in the store that
/// owns it, and gives back the typed target.
pub(crate) type TypedCheck<T> =
    Box<dyn FnOnce(&Store<T>, Target) -> wasmtime::Result<Box<dyn std::any::Any + Send>> + Send>;

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
    pub signatures: Vec<ByName<Export>>,
    /// Whether calls are recorded in `trace`; off unless asked for, so a
    /// long-running host does not grow a record of every call.
    pub tracing: AtomicBool,
    pub trace: Mutex<Vec<TraceEvent>>,
    pub started: std::time::Instant,
    pub next_key: AtomicU64,
    /// External calls whose [`Call`](crate::Call) is alive, and the most allowed.
    pub in_flight: AtomicUsize,
    pub max_calls: usize,
    /// Each instance's calls in flight, against its limit.
    pub gauges: Vec<Gauge>,
}

/// The calls in flight in one instance, against its limit: taken by a
/// driver when it sends a call (or by the loop when it starts an imported
/// one), given back by the loop when the call settles.
pub(crate) struct Gauge {
    pub in_flight: AtomicUsize,
    pub max: Option<usize>,
}

impl Gauge {
    /// Takes a place, unless the instance is at its limit. An instance
    /// with no limit keeps no count: an atomic add and subtract per call
    /// cost more than the rest of the books.
    pub(crate) fn take(&self) -> bool {
        let Some(max) = self.max else {
            return true;
        };
        self.in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .is_ok()
    }

    pub(crate) fn give_back(&self) {
        if self.max.is_some() {
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
        }
    }

    pub(crate) fn has_room(&self) -> bool {
        self.max
            .is_none_or(|max| self.in_flight.load(Ordering::Acquire) < max)
    }
}

/// What a driver knows of one callable name of an instance.
pub(crate) struct Export {
    pub sig: Signature,
    /// What the name calls, for an instance of the event loop, found when
    /// the instance was added: a driver then sends a ready job, and the
    /// loop does not look the name up again per call. `None` for a mode N
    /// instance, whose task looks names up itself, and for an async pair
    /// that a mode S instance (no guest ABI) cannot serve: the driver
    /// refuses its calls.
    pub target: Option<Target>,
}

/// A call by name with [`Val`]s to a mode N instance, whose task looks
/// the name up.
pub(crate) struct ValCall {
    pub func: Arc<str>,
    pub args: Vec<Val>,
    pub reply: oneshot::Sender<Result<Vec<Val>>>,
}
