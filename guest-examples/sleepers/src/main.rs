//! `sleepers`: the smallest `#[wasync::main]` command, built in every
//! mode (S and C export `wasi:cli/run@0.2`, N the async
//! `wasi:cli/run@0.3`).
//!
//! Each argument is `NAME:MILLISECONDS`. Every one becomes a task that
//! sleeps that long and prints `NAME` as it wakes, so the lines come out
//! fastest first; the last line is `N woke`. A malformed argument ends the
//! command with an error (exit status 1) before any task starts.
//!
//! ```sh
//! wasmtime run sleepers.wasm slow:300 quick:100
//! wasmtime run -Sp3 -Wcomponent-model-async sleepers-n.wasm slow:300 quick:100
//! ```

use std::time::Duration;

/// `NAME:MILLISECONDS` as its two parts.
fn parse(arg: &str) -> Result<(String, u64), String> {
    let (name, ms) = arg
        .split_once(':')
        .ok_or_else(|| format!("`{arg}` is not NAME:MILLISECONDS"))?;
    let ms = ms
        .parse()
        .map_err(|_| format!("`{arg}`: `{ms}` is not a number of milliseconds"))?;
    Ok((name.to_owned(), ms))
}

#[wasync::main]
async fn main() -> Result<(), String> {
    let sleepers = std::env::args()
        .skip(1)
        .map(|arg| parse(&arg))
        .collect::<Result<Vec<_>, _>>()?;
    let mut set = wasync::JoinSet::new();
    for (name, ms) in sleepers {
        set.spawn(async move {
            wasync::time::sleep(Duration::from_millis(ms)).await;
            println!("{name}");
        });
    }
    let mut woke = 0;
    while let Some(done) = set.join_next().await {
        done.map_err(|e| format!("a sleeper failed: {e}"))?;
        woke += 1;
    }
    println!("{woke} woke");
    Ok(())
}
