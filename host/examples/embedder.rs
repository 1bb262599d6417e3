//! A small tokio program that embeds the wasync mode C host: its own store
//! data (WASI plus wasync), one import of its own next to wasync's, and
//! overlapping calls into one instance.
//!
//! ```sh
//! cargo run -p wasync-host --example embedder [path/to/embedded-c.wasm]
//! ```
//!
//! Without a path it runs `guest-examples/embedded` as the repository's
//! guest pipeline built it.

use std::time::{Duration, Instant};

use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasync_host::{Concurrent, WasyncCtx, WasyncCtxView, WasyncView};

/// The embedder's store data: WASI, wasync, and one resource table that
/// both share.
struct State {
    wasi: WasiCtx,
    wasync: WasyncCtx,
    table: ResourceTable,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasyncView for State {
    fn wasync(&mut self) -> WasyncCtxView<'_> {
        WasyncCtxView {
            ctx: &mut self.wasync,
            table: &mut self.table,
        }
    }
}

/// The embedder's own import: `examples:wasync/directory.name-of`.
fn name_of(key: u32) -> String {
    ["zero", "one", "two", "three"]
        .get(key as usize)
        .map_or_else(|| format!("#{key}"), |s| (*s).to_owned())
}

/// Runs three overlapping calls into one instance of the component at
/// `path`, and returns their results in the order they finished, with the
/// wall time.
pub async fn run(path: &str) -> wasync_host::Result<(Vec<String>, Duration)> {
    // wasmtime 48 runs async calls on any engine (`async_support` is gone).
    let engine = Engine::new(&Config::new())?;
    let mut linker: Linker<State> = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    linker
        .instance("examples:wasync/directory")?
        .func_wrap("name-of", |_store, (key,): (u32,)| Ok((name_of(key),)))?;

    let component = Component::from_file(&engine, path)?;
    let mut host = Concurrent::new(&engine, &linker, |_name| {
        Ok(State {
            wasi: WasiCtxBuilder::new().build(),
            wasync: WasyncCtx::default(),
            table: ResourceTable::new(),
        })
    })?;
    let app = host.add("embedded", &component, &[]).await?;
    let driver = host.start();
    let describe = driver
        .typed::<(u32, u32), (String,)>(app, "describe")
        .await?;

    let start = Instant::now();
    let mut calls = futures::stream::FuturesUnordered::new();
    for (key, ms) in [(3, 300), (1, 100), (2, 200)] {
        calls.push(describe.call_concurrent((key, ms))?);
    }
    let mut done = Vec::new();
    while let Some(result) = futures::StreamExt::next(&mut calls).await {
        done.push(result?.0);
    }
    Ok((done, start.elapsed()))
}

/// Where the repository's guest pipeline puts the component.
fn default_path() -> &'static str {
    test_programs::EMBEDDED_C
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| default_path().to_owned());
    match run(&path).await {
        Ok((results, wall)) => {
            for r in &results {
                println!("{r}");
            }
            println!("3 calls sleeping 300 + 100 + 200 ms took {wall:.0?} in one instance");
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
