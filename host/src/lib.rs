//! `wasync-host`: embed the wasync mode C host in your own wasmtime host.
//!
//! A mode C component (built with wasync's `concurrent` feature) returns
//! from an async export as soon as it would wait, and its host does the
//! waiting, so one instance serves many overlapping calls (the wasync ABI,
//! `docs/abi.md` in the repository). This crate is that host, as a library
//! generic over your store data, in the manner of wasmtime-wasi:
//!
//! - [`WasyncView`] and [`WasyncCtx`]: what your store data holds;
//! - [`add_to_linker`]: the ABI's host functions, next to your own imports;
//! - [`Concurrent`]: instances (each in its own store) and host-mediated
//!   links between them, with the plug rule of static composition
//!   ([`match_plug`]);
//! - [`Driver`] and [`Call`]: overlapping calls with
//!   [`Driver::call_concurrent`] (by name, with `Val`s or WAVE text) or
//!   [`Driver::typed`] (with Rust types); dropping a `Call` cancels it in
//!   the guest;
//! - [`Limits`] per instance (memory, a call timeout, calls in flight,
//!   fuel), kept in its [`WasyncCtx`]: a guest that goes over one is
//!   stopped with [`Error::Limit`], and the other instances carry on;
//! - traces of calls, [`HostStats`], and a typed [`Error`] for every way a
//!   guest or a caller can get things wrong.
//!
//! It depends on wasmtime, wasmtime-wasi-io and what its event loop needs
//! (tokio, futures), and nothing else of wasync's.
//!
//! ```no_run
//! use wasmtime::component::{Component, Linker, ResourceTable};
//! use wasync_host::{Concurrent, WasyncCtx, WasyncCtxView, WasyncView};
//!
//! struct MyState { wasync: WasyncCtx, table: ResourceTable }
//! impl WasyncView for MyState {
//!     fn wasync(&mut self) -> WasyncCtxView<'_> {
//!         WasyncCtxView { ctx: &mut self.wasync, table: &mut self.table }
//!     }
//! }
//!
//! # async fn demo() -> wasync_host::Result<()> {
//! let mut config = wasmtime::Config::new();
//! config.async_support(true);
//! let engine = wasmtime::Engine::new(&config)?;
//! let linker = Linker::new(&engine); // add WASI and your own imports here
//! let component = Component::from_file(&engine, "my-component-c.wasm")?;
//! let mut host = Concurrent::new(&engine, &linker, |_| {
//!     Ok(MyState { wasync: WasyncCtx::default(), table: ResourceTable::new() })
//! })?;
//! let app = host.add("app", &component, &[]).await?;
//! let driver = host.start();
//! let slow = driver.call_concurrent_wave(app, "slow(200)")?;
//! let fast = driver.typed::<(String,), (String,)>(app, "echo").await?;
//! let fast = fast.call_concurrent(("hi".into(),))?;
//! let (slow, fast) = futures::join!(slow, fast); // both overlap in one instance
//! # Ok(()) }
//! ```

mod abi;
mod call;
mod component;
mod concurrent;
mod error;
mod event_loop;
mod job;
mod limits;
mod native;
mod plug;
mod seat;
mod shared;
mod state;
mod trace;
mod typecheck;
mod view;

pub use abi::{GUEST_IFACE, HOST_IFACE, add_to_linker};
pub use call::{
    Signature, call_error, check_args, exported_funcs, lookup_func, parse_call, results_to_wave,
    signature,
};
pub use component::{check_component, read_component, unsatisfied, uses_native_async};
pub use concurrent::{
    Call, Concurrent, Driver, HostConfig, HostStats, InstanceId, TypedExport, speaks_wasync_abi,
};
pub use error::{Error, ErrorKind, Result};
pub use job::{Params, Results};
pub use limits::{
    EPOCH_TICK, Limit, Limits, apply_limits, begin_entry, end_entry, entry_error, run_entry,
    start_epoch_ticker,
};
pub use plug::match_plug;
pub use state::WasyncCtx;
pub use trace::TraceEvent;
pub use typecheck::type_name;
pub use view::{WasyncCtxView, WasyncView};

/// wasmtime, as this crate links it.
pub use wasmtime;
