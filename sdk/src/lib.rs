//! # wasync
//!
//! Composable async for WebAssembly components: one `async fn` programming
//! model that runs on any WASI 0.2 host (mode S), serves overlapping calls
//! on one instance when the host speaks the wasync ABI (mode C, the
//! `concurrent` feature), and builds as a native WASI 0.3 component (mode
//! N, the `native` feature).
//!
//! ## Ground rules of the runtime
//!
//! - **Single-threaded.** One runtime per instance. Futures need not be
//!   `Send`; wakers must be woken on the instance's thread (wasm has one).
//! - **One host wait per turn.** Every waiting future shares one
//!   `wasi:io/poll.poll` call per turn: pollables awaited with
//!   [`wait_for`] (several waiters on one pollable share an entry) plus a
//!   single `subscribe-instant` pollable that stands for every timer in the
//!   instance.
//! - **When tasks run.** Only while the runtime runs: inside [`block_on`],
//!   which mode S exports use for each call, or whenever a mode C host
//!   enters the instance. Between export calls nothing runs: in mode S a
//!   spawned task that is still waiting continues when the instance is next
//!   entered; in mode C the host wakes the instance when what it waits for
//!   is ready. In mode N the component-model task of one export call (or,
//!   after it returned, a keeper in that task) drives the runtime for the
//!   whole instance until no work is left.
//! - **What dropping means.** Dropping a future cancels it: its timers and
//!   pollable registrations are removed at once. Dropping a [`JoinHandle`]
//!   detaches its task (it keeps running); use
//!   [`JoinHandle::abort_on_drop`] to cancel instead. Dropping a
//!   [`task::JoinSet`] aborts its tasks.
//! - **Fairness.** Tasks run in batches. A task gets a budget of leaf
//!   operations per poll, and between batches the runtime checks timers and
//!   I/O without blocking, so a busy task cannot starve timers or I/O.
//!
//! Natively (for tests and doc examples), the host is simulated: the clock
//! is virtual and pollables come from [`sim`].
//!
//! ```
//! use std::time::Duration;
//! use wasync::time::{sleep, timeout};
//!
//! let out = wasync::block_on(async {
//!     let a = wasync::spawn(async { sleep(Duration::from_millis(20)).await; 1 });
//!     let b = wasync::spawn(async { sleep(Duration::from_millis(10)).await; 2 });
//!     let (a, b) = futures::join!(a, b);
//!     let slow = timeout(Duration::from_millis(5), sleep(Duration::from_secs(1))).await;
//!     (a.unwrap() + b.unwrap(), slow.is_err())
//! });
//! assert_eq!(out, (3, true));
//! ```

#![deny(unsafe_code)]

// The bindings `generate!` emits name this crate as `::wasync`; so do the
// SDK's own (see `abi`).
extern crate self as wasync;

#[cfg(all(feature = "concurrent", feature = "native"))]
compile_error!(
    "wasync's `concurrent` (mode C) and `native` (mode N) features are mutually exclusive: \
     enable at most one of them"
);

#[doc(hidden)]
pub mod abi;
mod backend;
mod chunks;
#[cfg(any(
    not(target_family = "wasm"),
    all(feature = "concurrent", not(feature = "native"))
))]
#[doc(hidden)]
pub mod concurrent;
mod export;
pub mod http;
#[cfg(any(not(target_family = "wasm"), not(feature = "native")))]
pub mod io;
/// `stream<u8>` as `futures::io::AsyncRead` and `AsyncWrite` (mode N).
#[cfg(all(target_family = "wasm", feature = "native"))]
#[path = "io_p3.rs"]
pub mod io;
#[cfg(any(not(target_family = "wasm"), feature = "native"))]
#[doc(hidden)]
pub mod native;
pub mod poll;
#[allow(unsafe_code)]
mod raw;
#[allow(unsafe_code)]
mod raw_task;
pub mod runtime;
pub mod task;
pub mod time;

#[cfg(not(target_family = "wasm"))]
pub use backend::sim;

pub use poll::{Pollable, WaitFor, wait_for};
pub use wasync_macros::async_export;

#[doc(hidden)]
pub use export::__private;
pub use runtime::{block_on, spawn};
pub use task::{JoinError, JoinHandle, JoinSet, yield_now};
