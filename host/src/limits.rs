//! Guest limits: what one instance may use, and how a breach becomes a
//! typed [`crate::Error::Limit`].
//!
//! Ground rules:
//! - Limits live in the store data ([`WasyncCtx`](crate::WasyncCtx)), so
//!   each instance has its own and wasmtime's `store.limiter` reaches them.
//! - Every entry into an instance (a whole call in mode S; `f-start`,
//!   `f-finish`, `wake`, `cancel` or a plain export in mode C) is armed with
//!   [`begin_entry`]: a fresh fuel budget and a deadline. Wasm that runs past the
//!   deadline is stopped by epoch interruption; a guest blocked in a host
//!   call past it is stopped by a timer. Either way the instance is dead.
//! - A breach inside wasm is a trap carrying a [`Breach`], so that the
//!   error can name the limit however deep in wasmtime it was raised.
//! - The memory and time limits need engine settings (`epoch_interruption`,
//!   `consume_fuel`); asking for a limit the engine cannot enforce is an
//!   [`Error::Config`], never a limit silently ignored.

use std::fmt;
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::future::Either;
use wasmtime::{Engine, EngineWeak, ResourceLimiter, Store, StoreLimits, StoreLimitsBuilder, Trap};

use crate::error::{Error, Result};
use crate::view::WasyncView;

/// What one instance may use. The default limits nothing.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wasync_host::Limits;
///
/// let limits = Limits {
///     max_memory: Some(64 << 20),
///     call_timeout: Some(Duration::from_secs(5)),
///     ..Limits::default()
/// };
/// assert_eq!(limits.max_calls, None);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// The most bytes any linear memory of the instance may grow to
    /// (wasmtime's `StoreLimits`). Growing past it traps and stops the
    /// instance.
    pub max_memory: Option<usize>,
    /// The longest one entry into the instance may run: a whole call in
    /// mode S, one `start`/`wake`/`finish`/`cancel` in mode C. Past it the
    /// instance is stopped. In mode C, a call from outside that is still in
    /// flight this long after it started is also cancelled in the guest
    /// (the instance lives on). Needs an engine with `epoch_interruption`.
    pub call_timeout: Option<Duration>,
    /// The most calls in flight in the instance at once. One more from
    /// outside the host is refused; one from another instance (a link)
    /// waits for a place.
    pub max_calls: Option<usize>,
    /// The fuel (about one unit per wasm instruction) one entry may burn;
    /// past it the instance is stopped. Needs an engine with
    /// `consume_fuel`.
    pub fuel: Option<u64>,
}

impl Limits {
    /// No limits at all: the default, as a constant.
    pub const NONE: Limits = Limits {
        max_memory: None,
        call_timeout: None,
        max_calls: None,
        fuel: None,
    };
}

/// Which limit an instance hit, with its value.
///
/// # Examples
///
/// ```
/// use wasync_host::Limit;
///
/// assert_eq!(Limit::Memory { max_bytes: 16 << 20 }.to_string(), "memory limit of 16 MiB");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Limit {
    /// [`Limits::max_memory`].
    Memory {
        /// The most linear memory the instance may have, in bytes.
        max_bytes: usize,
    },
    /// [`Limits::call_timeout`].
    CallTimeout {
        /// How long one call may run.
        timeout: Duration,
    },
    /// [`Limits::max_calls`].
    Calls {
        /// The most calls in flight at once.
        max: usize,
    },
    /// [`Limits::fuel`].
    Fuel {
        /// The fuel one entry into the instance may burn.
        fuel: u64,
    },
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Limit::Memory { max_bytes } => write!(f, "memory limit of {}", bytes(*max_bytes)),
            Limit::CallTimeout { timeout } => write!(f, "call timeout of {timeout:?}"),
            Limit::Calls { max } => write!(f, "limit of {max} calls in flight"),
            Limit::Fuel { fuel } => write!(f, "fuel limit of {fuel} per entry"),
        }
    }
}

fn bytes(n: usize) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

/// The error a breach raises inside wasmtime; it travels as the trap's
/// cause up to the entry, which turns it into [`Error::Limit`].
#[derive(Debug)]
pub(crate) struct Breach(pub Limit);

impl fmt::Display for Breach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the instance went over its {}", self.0)
    }
}

impl std::error::Error for Breach {}

/// The limits of one store, and the state enforcing them.
pub(crate) struct LimitState {
    pub(crate) limits: Limits,
    store_limits: StoreLimits,
    /// When the entry running now must end.
    deadline: Option<Instant>,
}

impl Default for LimitState {
    fn default() -> Self {
        LimitState::new(Limits::default())
    }
}

impl LimitState {
    pub(crate) fn new(limits: Limits) -> LimitState {
        let mut builder = StoreLimitsBuilder::new();
        if let Some(max) = limits.max_memory {
            builder = builder.memory_size(max);
        }
        LimitState {
            limits,
            store_limits: builder.build(),
            deadline: None,
        }
    }
}

impl ResourceLimiter for LimitState {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self
            .store_limits
            .memory_growing(current, desired, maximum)?;
        match self.limits.max_memory {
            // A failed `memory.grow` would let a Rust guest abort with
            // "memory allocation failed" as a bare `unreachable`: trapping
            // here names the limit instead.
            Some(max_bytes) if desired > max_bytes => {
                Err(wasmtime::Error::new(Breach(Limit::Memory { max_bytes })))
            }
            _ => Ok(allowed),
        }
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.store_limits.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.store_limits.instances()
    }

    fn tables(&self) -> usize {
        self.store_limits.tables()
    }

    fn memories(&self) -> usize {
        self.store_limits.memories()
    }
}

/// How often the epoch ticker advances an engine's epoch: how late past its
/// deadline running wasm is stopped, at most.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Engines that have a ticker already.
static TICKED: Mutex<Vec<EngineWeak>> = Mutex::new(Vec::new());

/// Starts the thread that advances `engine`'s epoch every [`EPOCH_TICK`],
/// unless one runs already; it ends with the engine. [`apply_limits`]
/// calls it for a store with a call timeout, so an embedder need not.
///
/// # Examples
///
/// ```
/// let mut config = wasmtime::Config::new();
/// config.epoch_interruption(true);
/// let engine = wasmtime::Engine::new(&config)?;
/// wasync_host::start_epoch_ticker(&engine)?;
/// wasync_host::start_epoch_ticker(&engine)?; // a second call does nothing
/// # Ok::<(), wasync_host::Error>(())
/// ```
pub fn start_epoch_ticker(engine: &Engine) -> Result<()> {
    let mut ticked = TICKED.lock().unwrap_or_else(|e| e.into_inner());
    ticked.retain(|w| w.upgrade().is_some());
    if ticked
        .iter()
        .any(|w| w.upgrade().is_some_and(|e| Engine::same(&e, engine)))
    {
        return Ok(());
    }
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("wasync-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .map_err(|e| Error::Config(format!("cannot start the epoch ticker: {e}")))?;
    ticked.push(engine.weak());
    Ok(())
}

/// Sets `store` up to enforce the limits its [`WasyncCtx`](crate::WasyncCtx)
/// holds: the memory limiter, the epoch callback and fuel. Call it once,
/// before instantiating; [`Concurrent::add`](crate::Concurrent::add) does.
/// A limit the engine cannot enforce is an [`Error::Config`].
///
/// # Examples
///
/// ```
/// use wasmtime::component::ResourceTable;
/// use wasync_host::{ErrorKind, Limits, WasyncCtx, WasyncCtxView, WasyncView};
///
/// struct MyState { wasync: WasyncCtx, table: ResourceTable }
/// impl WasyncView for MyState {
///     fn wasync(&mut self) -> WasyncCtxView<'_> {
///         WasyncCtxView { ctx: &mut self.wasync, table: &mut self.table }
///     }
/// }
///
/// let engine = wasmtime::Engine::default(); // no fuel
/// let limits = Limits { fuel: Some(1_000), ..Limits::default() };
/// let state = MyState { wasync: WasyncCtx::with_limits(limits), table: ResourceTable::new() };
/// let mut store = wasmtime::Store::new(&engine, state);
/// let err = wasync_host::apply_limits(&mut store).unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Config);
/// ```
pub fn apply_limits<T: WasyncView>(store: &mut Store<T>) -> Result<()> {
    let limits = store.data_mut().wasync().ctx.limits.limits;
    let engine = store.engine().clone();
    if limits.call_timeout.is_some() {
        if !engine.get_epoch_interruption() {
            return Err(Error::Config(
                "a call timeout needs an engine with `epoch_interruption` on".into(),
            ));
        }
        start_epoch_ticker(&engine)?;
    }
    if limits.fuel.is_some() && !engine.get_consume_fuel() {
        return Err(Error::Config(
            "a fuel limit needs an engine with `consume_fuel` on".into(),
        ));
    }
    store.limiter(|data| {
        let view = data.wasync();
        &mut view.ctx.limits
    });
    if engine.get_epoch_interruption() {
        store.epoch_deadline_callback(|mut store| {
            let state = &store.data_mut().wasync().ctx.limits;
            match (state.deadline, state.limits.call_timeout) {
                (Some(deadline), Some(timeout)) if Instant::now() >= deadline => {
                    Err(wasmtime::Error::new(Breach(Limit::CallTimeout { timeout })))
                }
                (Some(_), _) => Ok(wasmtime::UpdateDeadline::Continue(1)),
                (None, _) => Ok(wasmtime::UpdateDeadline::Continue(u64::MAX / 2)),
            }
        });
        store.set_epoch_deadline(u64::MAX / 2);
    }
    if engine.get_consume_fuel() {
        store
            .set_fuel(limits.fuel.unwrap_or(u64::MAX))
            .map_err(|e| Error::Config(format!("cannot set fuel: {e}")))?;
    }
    Ok(())
}

/// Arms `store`'s limits for one entry into it: a fresh fuel budget, and a
/// deadline for wasm that runs (epoch interruption). Returns the call
/// timeout, for [`run_entry`]; end the entry with [`end_entry`].
///
/// Every entry goes through these three steps, the mode C event loop's
/// and the harness's mode S calls alike.
///
/// # Examples
///
/// ```no_run
/// # async fn demo<T: wasync_host::WasyncView>(
/// #     store: &mut wasmtime::Store<T>, func: wasmtime::component::Func,
/// # ) -> wasync_host::Result<()> {
/// let timeout = wasync_host::begin_entry(store)?;
/// let out = wasync_host::run_entry(timeout, func.call_async(&mut *store, &[], &mut [])).await;
/// wasync_host::end_entry(store);
/// out.map_err(|e| wasync_host::entry_error(store, "app", "run", e))
/// # }
/// ```
pub fn begin_entry<T: WasyncView>(store: &mut Store<T>) -> Result<Option<Duration>> {
    let limits = store.data_mut().wasync().ctx.limits.limits;
    if let Some(fuel) = limits.fuel {
        store
            .set_fuel(fuel)
            .map_err(|e| Error::Config(format!("cannot set fuel: {e}")))?;
    }
    if let Some(timeout) = limits.call_timeout {
        store.data_mut().wasync().ctx.limits.deadline = Some(Instant::now() + timeout);
        // The callback decides at each tick, by the clock.
        store.set_epoch_deadline(1);
    }
    Ok(limits.call_timeout)
}

/// Runs `entry` (a call into wasm) within `timeout`, as [`begin_entry`]
/// gave it: a guest still inside the entry then, blocked in a host call,
/// is stopped with a breach of its call timeout.
pub fn run_entry<R>(
    timeout: Option<Duration>,
    entry: impl Future<Output = wasmtime::Result<R>>,
) -> impl Future<Output = wasmtime::Result<R>> {
    // Not an `async fn`: its future would hold `entry` twice, as the
    // argument and inside what it is moved into, and an entry the mode C
    // loop awaits in place is wasmtime's whole call future.
    let Some(timeout) = timeout else {
        return Either::Left(entry);
    };
    Either::Right(
        tokio::time::timeout(timeout, entry).map(move |out| match out {
            Ok(out) => out,
            // Dropping the call unwinds the guest's stack; the instance is
            // dead from here on.
            Err(_) => Err(wasmtime::Error::new(Breach(Limit::CallTimeout { timeout }))),
        }),
    )
}

/// Ends an entry [`begin_entry`] began.
pub fn end_entry<T: WasyncView>(store: &mut Store<T>) {
    let state = &mut store.data_mut().wasync().ctx.limits;
    if state.deadline.take().is_some() {
        store.set_epoch_deadline(u64::MAX / 2);
    }
}

/// The limit an error from an entry into `store` reports, if any: a
/// [`Breach`] anywhere in its chain, or running out of the fuel budget.
pub(crate) fn breached<T: WasyncView>(store: &mut Store<T>, e: &wasmtime::Error) -> Option<Limit> {
    if let Some(Breach(limit)) = e.downcast_ref::<Breach>() {
        return Some(*limit);
    }
    let fuel = store.data_mut().wasync().ctx.limits.limits.fuel;
    match (e.downcast_ref::<Trap>(), fuel) {
        (Some(Trap::OutOfFuel), Some(fuel)) => Some(Limit::Fuel { fuel }),
        _ => None,
    }
}

/// Turns an error from an entry into `store` (of instance `instance`,
/// calling `export`) into a typed [`Error`]: [`Error::Limit`] for a breach
/// of the store's limits, else what [`crate::call_error`] makes of it.
pub fn entry_error<T: WasyncView>(
    store: &mut Store<T>,
    instance: &str,
    export: impl fmt::Display,
    e: wasmtime::Error,
) -> Error {
    match breached(store, &e) {
        Some(limit) => Error::Limit {
            limit,
            instance: instance.to_owned(),
            stopped: true,
        },
        None => crate::call::call_error(export, e, store.data().panic_message()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_limit_names_itself_with_its_value() {
        assert_eq!(
            Limit::Memory { max_bytes: 1 << 20 }.to_string(),
            "memory limit of 1 MiB"
        );
        assert_eq!(
            Limit::Memory { max_bytes: 1000 }.to_string(),
            "memory limit of 1000 bytes"
        );
        assert_eq!(
            Limit::CallTimeout {
                timeout: Duration::from_millis(250)
            }
            .to_string(),
            "call timeout of 250ms"
        );
        assert_eq!(
            Limit::Calls { max: 3 }.to_string(),
            "limit of 3 calls in flight"
        );
        assert_eq!(
            Limit::Fuel { fuel: 10 }.to_string(),
            "fuel limit of 10 per entry"
        );
    }
}
