//! `bench timers`: the timer storm as an async export, on wasync's mode N
//! next to bare wit-bindgen 0.63 (and wasync's mode C for reference), in
//! one run. wasync keeps every timer of an instance in one wheel behind at
//! most one `wait-until`; the raw guest makes one `wait-until` per timer.
//! The harness counts the `wait-until`s each instance starts.

use std::time::Instant;

use serde_json::{Value, json};

use super::calls::{BENCH, Paths, one_instance};
use super::{Sink, ms, storm_figures};
use crate::error::Result;
use crate::{Harness, WasiOptions};

/// What `bench timers` runs: the same settings as `bench runtime`.
pub use super::runtime::Options;

const SEED: u64 = 12345;

/// Runs the timer storms and returns the rows it printed.
pub async fn run(opts: &Options) -> Result<Vec<Value>> {
    let paths = Paths::build(opts.guests, !opts.json)?;
    let harness = Harness::new()?;
    let runtimes = [
        ("wasync-N", harness.compile(&paths.n)?),
        ("wit-bindgen", harness.compile(&paths.raw)?),
        ("wasync-C", harness.compile(&paths.c)?),
    ];
    let (sizes, spread_ms): (&[u32], u32) = if opts.quick {
        (&[1_000], 100)
    } else {
        (&[1_000, 10_000, 100_000], 1_000)
    };
    let mut sink = Sink::new(opts.json);
    sink.heading(&format!(
        "timer storm: N spawned tasks each sleep until a seeded random deadline in [0, {spread_ms} ms], in one async call; stopped at {} s\n  {:<12} {:>7} {:>9} {:>9} {:>13} {:>12} {:>12} {:>6} {:>12} {:>16}",
        opts.storm_limit.as_secs(),
        "runtime", "n", "finished", "wall_ms", "mean_late_ms", "p99_late_ms", "max_late_ms", "early", "wait_untils", "max_outstanding"
    ));
    let mut walls = Vec::new();
    for &n in sizes {
        for (runtime, loaded) in &runtimes {
            let wasi = WasiOptions::default();
            let (driver, id) = one_instance(&harness, loaded, &wasi).await?;
            let started = Instant::now();
            let call = driver.call_concurrent_wave(
                id,
                &format!("{BENCH}#timer-storm({n}, {spread_ms}, {SEED})"),
            )?;
            let mut row = match tokio::time::timeout(opts.storm_limit, call).await {
                Ok(out) => {
                    let out = out?;
                    let mut row = json!({
                        "bench": "timers", "runtime": runtime, "n": n, "spread_ms": spread_ms,
                    });
                    if let Some(row) = row.as_object_mut() {
                        row.extend(storm_figures(&out[0], n));
                    }
                    row
                }
                // A mode N call cannot be cancelled from the host
                // (wasmtime#11833): dropping the driver ends the instance.
                Err(_) => json!({
                    "bench": "timers", "runtime": runtime, "n": n, "spread_ms": spread_ms,
                    "finished": false,
                    "wall_ms": ms(started.elapsed().as_nanos() as u64),
                    "mean_lateness_ms": null, "p99_lateness_ms": null, "max_lateness_ms": null, "early": null,
                }),
            };
            // Wait until the host has dropped the instance: tearing down
            // 100,000 timers' worth of a store on the other core would
            // otherwise slow the next row.
            driver.shutdown().await;
            if loaded.is_native() {
                row["wait_untils"] = json!(wasi.waits.calls());
                row["max_outstanding_wait_untils"] = json!(wasi.waits.max_outstanding());
            }
            walls.push((*runtime, n, row["wall_ms"].as_f64()));
            sink.row(row, |r| {
                let or_dash = |v: &Value| {
                    if v.is_null() {
                        "-".to_owned()
                    } else {
                        v.to_string()
                    }
                };
                format!(
                    "  {:<12} {:>7} {:>9} {:>9} {:>13} {:>12} {:>12} {:>6} {:>12} {:>16}",
                    runtime,
                    n,
                    if r["finished"] == true {
                        "yes"
                    } else {
                        "NO (stopped)"
                    },
                    r["wall_ms"],
                    or_dash(&r["mean_lateness_ms"]),
                    or_dash(&r["p99_lateness_ms"]),
                    or_dash(&r["max_lateness_ms"]),
                    or_dash(&r["early"]),
                    or_dash(&r["wait_untils"]),
                    or_dash(&r["max_outstanding_wait_untils"]),
                )
            });
        }
    }
    let top = sizes[sizes.len() - 1];
    let wall = |runtime: &str| {
        walls
            .iter()
            .find(|w| w.0 == runtime && w.1 == top)
            .and_then(|w| w.2)
    };
    if let (Some(n), Some(raw)) = (wall("wasync-N"), wall("wit-bindgen")) {
        sink.note(&format!(
            "{top} timers over {spread_ms} ms: wasync-N {:.3} s wall (goal <= 1.15 s at 100,000 over 1 s), wit-bindgen {:.3} s ({:.2}x)",
            n / 1e3,
            raw / 1e3,
            raw / n
        ));
    }
    Ok(sink.into_rows())
}
