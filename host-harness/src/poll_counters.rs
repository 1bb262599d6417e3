//! Counts what guests ask of `wasi:io/poll`: calls to `poll`, the pollables
//! passed, time spent waiting in the host, and per-pollable `ready`/`block`
//! calls. The harness wraps wasmtime-wasi's own implementation, so guests
//! see no difference; benchmarks and tests read the counters to compare
//! runtimes on equal terms.

use std::time::{Duration, Instant};

use wasmtime::component::{Linker, Resource};
use wasmtime_wasi_io::bindings::wasi::io::poll::{Host as _, HostPollable as _};
use wasmtime_wasi_io::poll::DynPollable;

use wasmtime::component::ResourceTable;

/// The WASI version whose `poll` the harness wraps (wasmtime-wasi 48's).
const POLL_INTERFACE: &str = "wasi:io/poll@0.2.12";

/// Counters of one store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PollCounters {
    /// Calls to `poll`.
    pub polls: u64,
    /// Pollables passed to `poll`, summed.
    pub pollables: u64,
    /// The longest list passed to `poll`.
    pub max_list: u64,
    /// Time spent inside `poll`, waiting included.
    pub poll_time: Duration,
    /// Calls to `pollable.ready`.
    pub ready_calls: u64,
    /// Calls to `pollable.block`.
    pub block_calls: u64,
}

/// Replaces the poll functions in `linker` with counting wrappers around
/// wasmtime-wasi's implementation.
/// `parts` finds a store's resource table and counters in its data.
pub(crate) fn instrument<T: Send + 'static>(
    linker: &mut Linker<T>,
    parts: fn(&mut T) -> (&mut ResourceTable, &mut PollCounters),
) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let mut poll = linker.instance(POLL_INTERFACE)?;
    poll.func_wrap_async(
        "poll",
        move |mut store, (list,): (Vec<Resource<DynPollable>>,)| {
            Box::new(async move {
                let n = list.len() as u64;
                let start = Instant::now();
                let ready = parts(store.data_mut()).0.poll(list).await?;
                let c = parts(store.data_mut()).1;
                c.polls += 1;
                c.pollables += n;
                c.max_list = c.max_list.max(n);
                c.poll_time += start.elapsed();
                Ok((ready,))
            })
        },
    )?;
    poll.func_wrap_async(
        "[method]pollable.ready",
        move |mut store, (p,): (Resource<DynPollable>,)| {
            Box::new(async move {
                let (table, counters) = parts(store.data_mut());
                counters.ready_calls += 1;
                let ready = table.ready(p).await?;
                Ok((ready,))
            })
        },
    )?;
    poll.func_wrap_async(
        "[method]pollable.block",
        move |mut store, (p,): (Resource<DynPollable>,)| {
            Box::new(async move {
                let (table, counters) = parts(store.data_mut());
                counters.block_calls += 1;
                table.block(p).await?;
                Ok(())
            })
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}
