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
//! - **What a task costs.** One allocation, holding the future and then its
//!   output; wakers hold a counted reference to it and allocate nothing.
//!   On wasm32, tasks up to 512 bytes come from a pool of 64 KiB chunks,
//!   one block size per chunk. A chunk goes back to the allocator when its
//!   last task goes (one chunk per size is kept), so the memory of a burst
//!   of tasks is freed with them, unless a few long-lived tasks hold their
//!   chunks. Natively a runtime whose thread exits leaks its unfinished
//!   tasks (an instance's runtime never goes).
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
pub mod channel;
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
/// Sockets and name lookup over `wasi:sockets` 0.2 (modes S and C).
#[cfg(any(not(target_family = "wasm"), not(feature = "native")))]
pub mod net;
/// Sockets and name lookup over `wasi:sockets` 0.3 (mode N), with the API
/// of modes S and C.
#[cfg(all(target_family = "wasm", feature = "native"))]
#[path = "net_p3/mod.rs"]
pub mod net;
pub mod poll;
pub mod rand;
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

/// Makes `async fn main` a command's entry point: the component exports
/// `wasi:cli/run` and runs under `wasmtime run` (or any WASI 0.2 host).
///
/// Put it on `async fn main()` in a binary crate built for
/// `wasm32-wasip2`. `main` may return a `Result`: an `Err` is printed to
/// stderr and the command exits with status 1, as std does for a plain
/// `main`. Inside, the whole runtime is at hand: spawn tasks, sleep, read
/// stdin asynchronously ([`io::stdin`]).
///
/// In modes S and C the body runs with [`block_on`] (a command is one
/// call; no host overlaps it). In mode N (the `native` feature) the
/// component exports the async `wasi:cli/run@0.3` instead and the body runs
/// as that export's call (`wasmtime run` runs it); [`io::stdin`],
/// [`io::stdout`] and [`io::stderr`] keep their API and use `wasi:cli`
/// 0.3's streams.
///
/// # Examples
///
/// Natively (as here) it runs on the simulated host, so the sleeps take no
/// time:
///
/// ```
/// use std::time::Duration;
/// use wasync::time::sleep;
///
/// #[wasync::main]
/// async fn main() -> Result<(), wasync::JoinError> {
///     let slow = wasync::spawn(async { sleep(Duration::from_secs(2)).await; "slow" });
///     let quick = wasync::spawn(async { sleep(Duration::from_secs(1)).await; "quick" });
///     let (a, b) = wasync::join!(slow, quick);
///     assert_eq!((a?, b?), ("slow", "quick"));
///     Ok(())
/// }
/// ```
pub use wasync_macros::main;

/// Runs an `async fn` test on the wasync runtime.
///
/// Natively (`cargo test`) the test runs on the simulated host: the clock
/// is virtual, so a test that sleeps an hour finishes at once, and every
/// ordering is deterministic. Built for wasm (`cargo test --target
/// wasm32-wasip2` with a runner such as `wasmtime`), the same test runs on
/// the real host. Test your component's logic this way: the functions
/// behind your exports, your HTTP handler, your timeouts.
///
/// The test may return a `Result`, and takes the usual test attributes
/// (`#[should_panic]`, `#[ignore]`) after this one.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wasync::time::{Instant, sleep, timeout};
///
/// #[wasync::test]
/// async fn a_slow_source_is_cut_off_at_the_timeout() {
///     let start = Instant::now();
///     let slow = timeout(Duration::from_millis(150), sleep(Duration::from_secs(3600))).await;
///     assert!(slow.is_err());
///     assert_eq!(start.elapsed(), Duration::from_millis(150)); // virtual time
/// }
/// # fn main() {}
/// ```
pub use wasync_macros::test;

/// Makes an `async fn(Request<Body>) -> Response<B>` the component's HTTP
/// service: it exports `wasi:http/incoming-handler` (a WASI 0.2 proxy that
/// `wasmtime serve` runs); in mode N, the async `wasi:http/handler@0.3`
/// (which `wasmtime serve` runs too).
///
/// The function stays as written, so tests can call it directly. What it
/// may return, and how bodies stream both ways, is in [`http::server`].
///
/// # Examples
///
/// ```
/// use wasync::http::server::{Request, Response};
/// use wasync::http::Body;
///
/// #[wasync::http_service]
/// async fn shout(req: Request<Body>) -> Result<Response<String>, wasync::http::Error> {
///     let text = req.into_body().text().await?;
///     Ok(Response::new(text.to_uppercase()))
/// }
///
/// fn main() {
///     // The handler is a plain async fn: call it (here, natively).
///     let resp = wasync::block_on(shout(Request::new(Body::from("hi"))));
///     assert_eq!(resp.unwrap().into_body(), "HI");
/// }
/// ```
pub use wasync_macros::http_service;

/// The `futures` crate wasync is built on, so that a guest needs one
/// dependency: `wasync::futures::{FutureExt, StreamExt, AsyncReadExt, ...}`.
pub use futures;
/// `futures`' macros, which work inside wasync tasks as anywhere:
/// `join!` and `try_join!` poll several futures at once, `select!` and
/// `select_biased!` take the first to finish (their futures must be
/// [`FusedFuture`](futures::future::FusedFuture)s: call
/// [`.fuse()`](futures::FutureExt::fuse)), and `pin_mut!` pins on the stack.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wasync::futures::FutureExt;
/// use wasync::time::sleep;
///
/// let first = wasync::block_on(async {
///     let (a, b) = wasync::join!(async { 1 }, async { 2 });
///     assert_eq!(a + b, 3);
///     let mut slow = sleep(Duration::from_secs(5)).fuse();
///     let mut quick = sleep(Duration::from_millis(5)).fuse();
///     wasync::select! {
///         () = slow => "slow",
///         () = quick => "quick",
///     }
/// });
/// assert_eq!(first, "quick");
/// ```
pub use futures::{join, pin_mut, select, select_biased, try_join};

#[doc(hidden)]
pub use export::__private;
pub use runtime::{block_on, spawn};
pub use task::{JoinError, JoinHandle, JoinSet, yield_now};
