//! `wasync-harness`: a host for WebAssembly components on wasmtime.
//!
//! It loads components (with a typed error for every way a file can be
//! wrong), links WASI 0.2, calls exports by name with typed values or WAVE
//! text, and prints a component's WIT.
//!
//! ```no_run
//! # async fn demo() -> wasync_harness::Result<()> {
//! use wasync_harness::{Harness, WasiOptions};
//! use wasmtime::component::Val;
//!
//! let harness = Harness::new()?;
//! let hello = harness.load("hello.wasm")?;
//! let mut inst = harness.instantiate(&hello, &WasiOptions::default()).await?;
//! let out = inst.call("greet", &[Val::String("world".into())]).await?;
//! assert_eq!(out, [Val::String("hello, world".into())]);
//! # Ok(()) }
//! ```

pub mod autocomplete;
pub mod bench;
mod clock;
pub mod command;
pub mod compose;
pub mod concurrent;
pub mod demo;
pub mod guests;
mod harness;
mod host;
pub mod http_client;
mod http_policy;
mod instance;
pub mod limit_args;
mod loaded;
mod net_policy;
mod output;
mod poll_counters;
pub mod scaffold;
pub mod serve;
pub mod suggest_server;
pub mod wasmtime_cli;
pub mod wit;

/// Errors: the host library's, which cover everything the harness does.
mod error {
    pub use wasync_host::{Error, ErrorKind, Result};
}

pub use clock::WaitCounters;
pub use command::{CommandRun, Exit};
pub use error::{Error, ErrorKind, Result};
pub use harness::{Harness, HarnessConfig, PERFMAP_ENV};
pub use host::{DirMount, HostState, Stdin, WasiOptions, parse_env};
pub use http_policy::{HttpAccess, is_loopback};
pub use instance::{Instance, exported_functions};
pub use loaded::Loaded;
pub use net_policy::NetworkAccess;
pub use output::{Output, Stdio};
pub use poll_counters::PollCounters;
pub use wasync_host::{Limit, Limits, Signature, parse_call, results_to_wave, type_name};

/// wasmtime, as the harness links it, for callers that build `Val`s.
pub use wasmtime;
/// The host library the harness's mode C host comes from.
pub use wasync_host;
