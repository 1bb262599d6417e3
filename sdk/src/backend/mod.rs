//! The runtime's only way to reach the host. Two implementations share one
//! set of names, chosen at compile time:
//!
//! - `wasi` (on wasm): `wasi:clocks/monotonic-clock` and `wasi:io/poll`;
//! - `sim` (everywhere else): a virtual clock and simulated pollables, so
//!   the executor, the timer wheel and the registry are tested
//!   deterministically with plain `cargo test`.
//!
//! Both provide: `Pollable`, `handle(&Pollable) -> u32`, `now_ns()`,
//! `timer_at(ns) -> Pollable`, `immediate() -> Pollable`, and a `Poller`
//! whose `poll(handles, out)` blocks until at least one handle is ready and
//! writes the ready positions into `out`.

#[cfg(target_family = "wasm")]
mod wasi;
#[cfg(target_family = "wasm")]
pub(crate) use wasi::*;

#[cfg(not(target_family = "wasm"))]
pub mod sim;
#[cfg(not(target_family = "wasm"))]
pub(crate) use sim::backend::*;

#[cfg(not(target_family = "wasm"))]
pub use sim::Pollable;
/// The pollable type `wait_for` accepts: wasi's on wasm, simulated natively.
#[cfg(target_family = "wasm")]
pub use wasip2::io::poll::Pollable;
