//! `bench calls`: what an async export costs per call in modes S and C next
//! to a plain export (with wasmtime's `concurrency_support` off and on), and
//! how many overlapping sleeping calls one instance serves in each mode.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wasmtime::component::Val;
use wasync_build::GuestProfile;

use super::{Sink, build_guests, ms, with_peak_rss};
use crate::error::Result;
use crate::{Harness, HarnessConfig, WasiOptions};

/// What `bench calls` runs.
#[derive(Debug, Clone)]
pub struct Options {
    pub json: bool,
    /// Small sizes only, to check that everything runs.
    pub quick: bool,
    /// How the guests are built (release for figures worth keeping).
    pub guests: GuestProfile,
}

const SLOW: &str = "examples:wasync/slow";

/// Runs every call benchmark and returns the rows it printed.
pub async fn run(opts: &Options) -> Result<Vec<Value>> {
    let paths = build_guests(&["mode-tests", "mode-tests-c"], opts.guests, !opts.json)?;
    let mut sink = Sink::new(opts.json);
    overhead(&paths[0], &paths[1], opts, &mut sink).await?;
    throughput(&paths[0], &paths[1], opts, &mut sink).await?;
    Ok(sink.into_rows())
}

async fn overhead(
    s_path: &std::path::Path,
    c_path: &std::path::Path,
    opts: &Options,
    sink: &mut Sink,
) -> Result<()> {
    let n: u32 = if opts.quick { 200 } else { 20_000 };
    sink.heading(&format!(
        "call overhead: {n} calls of a trivial export, one after another\n  {:<14} {:>20} {:>12}",
        "mode", "concurrency_support", "ns_per_call"
    ));
    let arg = [Val::String("x".into())];
    for support in [false, true] {
        let harness = Harness::with_config(HarnessConfig {
            concurrency_support: support,
            ..HarnessConfig::default()
        })?;
        let s = harness.load(s_path)?;
        let mut inst = harness.instantiate(&s, &WasiOptions::default()).await?;
        let mut results = Vec::new();
        for (mode, func) in [("plain", "echo-plain"), ("S", "echo")] {
            let name = format!("{SLOW}#{func}");
            inst.call(&name, &arg).await?;
            let start = Instant::now();
            for _ in 0..n {
                inst.call(&name, &arg).await?;
            }
            let ns = start.elapsed().as_nanos() as f64 / f64::from(n);
            results.push((mode, ns));
        }
        let c = harness.compile(c_path)?;
        let mut host = harness.concurrent(&WasiOptions::default())?;
        let id = host.add("mode-tests-c", &c, &[]).await?;
        let driver = host.start();
        // `echo` finishes inside `echo-start`; `wait-ready` returns to the
        // host first, so it pays start, a poll of the host, wake and finish;
        // `sleep-for(0)` also rounds up to the runtime's 1 ms timer.
        for (mode, func, args) in [
            ("C", "echo", vec![Val::String("x".into())]),
            ("C, one wait", "wait-ready", vec![]),
            ("C, sleep(0)", "sleep-for", vec![Val::U32(0)]),
        ] {
            let call = format!("{SLOW}#{func}");
            driver.call_concurrent(id, &call, args.clone())?.await?;
            let start = Instant::now();
            for _ in 0..n {
                driver.call_concurrent(id, &call, args.clone())?.await?;
            }
            results.push((mode, start.elapsed().as_nanos() as f64 / f64::from(n)));
        }
        for (mode, ns) in &results {
            sink.row(
                json!({"bench": "call-overhead", "mode": mode, "concurrency_support": support, "ns_per_call": ns.round()}),
                |r| format!("  {:<14} {:>20} {:>12}", mode, support, r["ns_per_call"]),
            );
        }
        let plain = results[0].1;
        sink.note(&format!(
            "concurrency_support={support}: S / plain = {:.2}x, C / plain = {:.2}x, C with one wait / plain = {:.2}x",
            results[1].1 / plain,
            results[2].1 / plain,
            results[3].1 / plain
        ));
    }
    Ok(())
}

async fn throughput(
    s_path: &std::path::Path,
    c_path: &std::path::Path,
    opts: &Options,
    sink: &mut Sink,
) -> Result<()> {
    let sleep_ms = 50u32;
    sink.heading(&format!(
        "throughput: N overlapping calls into ONE instance, each sleeping {sleep_ms} ms\n  {:<5} {:>7} {:>10} {:>14} {:>12}",
        "mode", "calls", "wall_ms", "x_serial_time", "peak_rss_mb"
    ));
    let harness = Harness::new()?;
    let sizes_c: &[u32] = if opts.quick { &[100] } else { &[1_000, 10_000] };
    let calls_s: u32 = if opts.quick { 5 } else { 1_000 };
    let mut walls = Vec::new();
    for (mode, path, sizes) in [
        ("C", c_path, sizes_c),
        ("S", s_path, std::slice::from_ref(&calls_s)),
    ] {
        for &calls in sizes {
            let loaded = harness.compile(path)?;
            let mut host = harness.concurrent(&WasiOptions::default())?;
            let id = host.add("mode-tests", &loaded, &[]).await?;
            let driver = host.start();
            let name = format!("{SLOW}#sleep-for");
            let ((wall, result), peak) = with_peak_rss(async {
                let start = Instant::now();
                let all: Result<Vec<_>> = (0..calls)
                    .map(|_| driver.call_concurrent(id, &name, vec![Val::U32(sleep_ms)]))
                    .collect();
                let outs = match all {
                    Ok(all) => futures::future::join_all(all).await,
                    Err(e) => vec![Err(e)],
                };
                let ok = outs.into_iter().collect::<Result<Vec<_>>>();
                (start.elapsed(), ok)
            })
            .await;
            result?;
            let serial = Duration::from_millis(u64::from(sleep_ms) * u64::from(calls));
            walls.push((mode, calls, wall));
            sink.row(
                json!({
                    "bench": "calls", "mode": mode, "calls": calls, "sleep_ms": sleep_ms,
                    "wall_ms": ms(wall.as_nanos() as u64),
                    "fraction_of_serial": (wall.as_secs_f64() / serial.as_secs_f64() * 1e4).round() / 1e4,
                    "peak_rss_mb": peak,
                }),
                |r| {
                    format!(
                        "  {:<5} {:>7} {:>10} {:>14} {:>12}",
                        mode, calls, r["wall_ms"], r["fraction_of_serial"], r["peak_rss_mb"]
                    )
                },
            );
        }
    }
    let c = walls.iter().find(|w| w.0 == "C");
    let s = walls.iter().find(|w| w.0 == "S");
    if let (Some(c), Some(s)) = (c, s) {
        let per_call = |w: &(&str, u32, Duration)| w.2.as_secs_f64() / f64::from(w.1);
        sink.note(&format!(
            "mode S serialises: {} calls took {:.1} s; mode C served {} calls in {:.3} s ({:.0}x more calls per second)",
            s.1,
            s.2.as_secs_f64(),
            c.1,
            c.2.as_secs_f64(),
            per_call(s) / per_call(c)
        ));
    }
    Ok(())
}
