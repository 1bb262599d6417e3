//! The runtime's only way to reach the host. Three implementations share
//! one set of names, chosen at compile time:
//!
//! - `wasi` (on wasm, modes S and C): `wasi:clocks/monotonic-clock` and
//!   `wasi:io/poll`;
//! - `p3` (on wasm, mode N): `wasi:clocks@0.3` and wit-bindgen's task
//!   hooks;
//! - `sim` (everywhere else): a virtual clock and simulated pollables, so
//!   the executor, the timer wheel and the registry are tested
//!   deterministically with plain `cargo test`. It simulates both sets.
//!
//! Modes S and C use: `Pollable`, `handle(&Pollable) -> u32`, `now_ns()`,
//! `timer_at(ns) -> Pollable`, `immediate() -> Pollable`, and a `Poller`
//! whose `poll(handles, out)` blocks until at least one handle is ready and
//! writes the ready positions into `out`. Mode N uses `now_ns()`,
//! `wait_until(ns)` (a future) and `spawn_keeper(future)`.

#[cfg(all(target_family = "wasm", not(feature = "native")))]
mod wasi;
#[cfg(all(target_family = "wasm", not(feature = "native")))]
pub(crate) use wasi::*;

#[cfg(all(target_family = "wasm", feature = "native"))]
mod p3;
#[cfg(all(target_family = "wasm", feature = "native"))]
pub(crate) use p3::*;

#[cfg(not(target_family = "wasm"))]
pub mod sim;
#[cfg(not(target_family = "wasm"))]
pub(crate) use sim::backend::*;

/// The runtime's own pollables (its timer, its always-ready check): wasi's
/// on wasm, simulated natively. What `wait_for` accepts is `poll::Waitable`.
#[cfg(not(target_family = "wasm"))]
pub(crate) use sim::Pollable;
#[cfg(all(target_family = "wasm", not(feature = "native")))]
pub(crate) use wasip2::io::poll::Pollable;
