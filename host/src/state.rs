//! The wasync state of one instance's store ([`WasyncCtx`]): the ABI's
//! books (what the guest parked, the calls it made into other instances)
//! and the events its host functions raise for the event loop. Host
//! functions only write here; the loop acts on it between entries.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use wasmtime::component::Val;

use crate::limits::{LimitState, Limits};

/// The wasync part of one instance's store data. Create it with
/// `WasyncCtx::default()` and keep it in your store data.
///
/// # Examples
///
/// ```
/// use wasync_host::{WasyncCtx, WasyncCtxView, WasyncView};
/// use wasmtime::component::ResourceTable;
///
/// struct MyState {
///     wasync: WasyncCtx,
///     table: ResourceTable,
/// }
///
/// impl WasyncView for MyState {
///     fn wasync(&mut self) -> WasyncCtxView<'_> {
///         WasyncCtxView { ctx: &mut self.wasync, table: &mut self.table }
///     }
/// }
/// ```
#[derive(Default)]
pub struct WasyncCtx {
    pub(crate) abi: AbiState,
    pub(crate) limits: LimitState,
}

impl WasyncCtx {
    /// A context whose instance is held to `limits` (see
    /// [`apply_limits`](crate::apply_limits) for what enforces them).
    ///
    /// # Examples
    ///
    /// ```
    /// use wasync_host::{Limits, WasyncCtx};
    ///
    /// let limits = Limits { max_calls: Some(8), ..Limits::default() };
    /// assert_eq!(WasyncCtx::with_limits(limits).limits(), &limits);
    /// ```
    pub fn with_limits(limits: Limits) -> WasyncCtx {
        WasyncCtx {
            abi: AbiState::default(),
            limits: LimitState::new(limits),
        }
    }

    /// The limits of this instance.
    pub fn limits(&self) -> &Limits {
        &self.limits.limits
    }

    /// Replaces the limits; they take effect at the next entry (the memory
    /// limit at the next growth). Call [`apply_limits`](crate::apply_limits)
    /// again if the store had none that needed the engine before.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = LimitState::new(limits);
    }
}

/// What an entry asked of the loop.
#[derive(Debug)]
pub(crate) enum Event {
    /// The instance reported these export calls finished.
    Finished { ids: Vec<u32> },
    /// The instance started imported call `aid`: start it in its target.
    StartImport { aid: u32 },
    /// An imported call was abandoned: cancel it in `target` if it started.
    CancelImport { target: usize, call: Option<u32> },
}

/// Where an imported call stands.
#[derive(Debug)]
pub(crate) enum ImportState {
    /// Not started in the target yet; holds the arguments.
    Queued(Vec<Val>),
    /// Started; the target's call id.
    Started(u32),
    /// Finished; the results `g-finish` returns.
    Done(Vec<Val>),
    /// The target failed (trapped or died).
    Failed(String),
}

/// A call an instance made on an imported async function.
#[derive(Debug)]
pub(crate) struct ImportCall {
    pub target: usize,
    /// `iface#g` in the target.
    pub func: String,
    pub state: ImportState,
    /// Set once the call finished or failed: its pollable is then ready.
    pub done: Arc<AtomicBool>,
}

/// The ABI's part of the data of one instance's store.
#[derive(Default)]
pub(crate) struct AbiState {
    /// Whether the loop is inside an entry into this instance.
    pub(crate) entered: bool,
    /// The pollable reps of the instance's last park.
    pub(crate) parked: Vec<u32>,
    /// For each linked import: the target instance and the name of the
    /// export there that serves it.
    pub(crate) links: HashMap<String, (usize, String)>,
    /// The imported calls this instance made, by call id.
    pub(crate) imports: HashMap<u32, ImportCall>,
    pub(crate) next_import: u32,
    pub(crate) events: VecDeque<Event>,
}

impl AbiState {
    pub(crate) fn check_entered(&self, what: &str) -> wasmtime::Result<()> {
        if !self.entered {
            wasmtime::bail!(
                "wasync ABI violation: `{what}` called outside an entry of a wasync host"
            );
        }
        Ok(())
    }
}
