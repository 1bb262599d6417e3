//! `bench autocomplete`: 100 concurrent `complete` calls, into one mode C
//! instance, one mode N instance (the static composition of the mode N
//! builds), one mode S instance, and 100 mode S instances (one per request,
//! the workaround hosts use today).

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wasmtime::component::Val;
use wasync_build::GuestProfile;

use super::Sink;
use super::with_peak_rss;
use crate::Harness;
use crate::autocomplete::{
    COMPLETER, Components, Environment, Running, compose_static, start_concurrent, start_native,
    start_standard,
};
use crate::demo::percentile;
use crate::error::Result;
use crate::guests::Guests;
use crate::suggest_server::{ServerConfig, SuggestServer};
use wasync_lower::Mode;

/// What `bench autocomplete` runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Print one JSON object per line instead of a table.
    pub json: bool,
    /// Fewer calls, to check that everything runs.
    pub quick: bool,
    /// How the guests are built (release for figures worth keeping).
    pub guests: GuestProfile,
}

const TIMEOUT: Duration = Duration::from_millis(150);
const SLOW: Duration = Duration::from_millis(400);

/// Distinct two-letter prefixes, so that no call is served from the cache.
fn prefixes(n: usize) -> Vec<String> {
    let letters = "abcdefghijklmnoprstuw";
    letters
        .chars()
        .flat_map(|a| letters.chars().map(move |b| format!("{a}{b}")))
        .take(n)
        .collect()
}

struct Measured {
    wall: Duration,
    latencies: Vec<Duration>,
    peak_rss: f64,
}

async fn over_driver(run: &Running, calls: usize) -> Result<Measured> {
    let ((wall, latencies), peak_rss) = with_peak_rss(async {
        let start = Instant::now();
        let futures: Vec<_> = prefixes(calls)
            .iter()
            .map(|p| {
                let call = run.complete(p, 5, TIMEOUT);
                async move {
                    let out = Running::completion(call?).await;
                    out.map(|_| start.elapsed())
                }
            })
            .collect();
        let latencies = futures::future::join_all(futures)
            .await
            .into_iter()
            .collect::<Result<Vec<_>>>();
        (start.elapsed(), latencies)
    })
    .await;
    Ok(Measured {
        wall,
        latencies: latencies?,
        peak_rss,
    })
}

async fn per_request(
    harness: &Harness,
    c: &Components,
    env: &Environment,
    calls: usize,
) -> Result<Measured> {
    let bytes = compose_static(c)?;
    let loaded = harness.compile_bytes(&c.autocomplete, &bytes)?;
    let ((wall, latencies), peak_rss) = with_peak_rss(async {
        let start = Instant::now();
        let tasks: Vec<_> = prefixes(calls)
            .into_iter()
            .map(|p| {
                let (harness, loaded, wasi) = (harness.clone(), loaded.clone(), env.wasi());
                tokio::spawn(async move {
                    let mut inst = harness.instantiate(&loaded, &wasi).await?;
                    let args = [
                        Val::String(p),
                        Val::U32(5),
                        Val::U32(TIMEOUT.as_millis() as u32),
                    ];
                    inst.call(&format!("{COMPLETER}#complete"), &args).await?;
                    Ok::<_, crate::Error>(start.elapsed())
                })
            })
            .collect();
        let mut latencies = Vec::new();
        for t in tasks {
            match t.await {
                Ok(Ok(l)) => latencies.push(Ok(l)),
                Ok(Err(e)) => latencies.push(Err(e)),
                Err(e) => latencies.push(Err(crate::Error::Other(anyhow::anyhow!(
                    "a request task failed: {e}"
                )))),
            }
        }
        (
            start.elapsed(),
            latencies.into_iter().collect::<Result<Vec<_>>>(),
        )
    })
    .await;
    Ok(Measured {
        wall,
        latencies: latencies?,
        peak_rss,
    })
}

/// Runs the benchmark and returns the rows it printed.
pub async fn run(opts: &Options) -> Result<Vec<Value>> {
    let guests = Guests::build(opts.guests, !opts.json)?;
    let pipeline = guests.pipeline();
    let calls = if opts.quick { 10 } else { 100 };
    let harness = Harness::new()?;
    let server = SuggestServer::start(ServerConfig {
        latency: Duration::from_millis(20),
        jitter: Duration::ZERO,
        ..ServerConfig::default()
    })
    .await?;
    let env = Environment {
        words_dir: pipeline.word_list_dir(),
        suggest_url: server.url(),
        slow_delay: SLOW,
    };
    let mut sink = Sink::new(opts.json);
    sink.heading(&format!(
        "autocomplete: {calls} concurrent `complete` calls (timeout {} ms, slow source {} ms)\n  {:<14} {:>6} {:>10} {:>9} {:>9} {:>12}",
        TIMEOUT.as_millis(),
        SLOW.as_millis(),
        "mode", "calls", "wall_ms", "p50_ms", "p99_ms", "peak_rss_mb"
    ));
    let c_parts = Components::in_dir(&pipeline.wasm_dir(), true);
    let n_parts = Components::of_mode(&pipeline.wasm_dir(), Mode::Native);
    let s_parts = Components::in_dir(&pipeline.wasm_dir(), false);
    let mut results = Vec::new();
    for mode in ["C", "N", "S", "S-per-request"] {
        let m = match mode {
            "C" => {
                let run = start_concurrent(&harness, &c_parts, &env).await?;
                run.warm().await?;
                over_driver(&run, calls).await?
            }
            "N" => {
                let run = start_native(&harness, &n_parts, &env).await?;
                run.warm().await?;
                over_driver(&run, calls).await?
            }
            "S" => {
                let run = start_standard(&harness, &s_parts, &env).await?;
                run.warm().await?;
                over_driver(&run, calls).await?
            }
            _ => per_request(&harness, &s_parts, &env, calls).await?,
        };
        let ms = |d: Duration| (d.as_secs_f64() * 1e4).round() / 10.0;
        let row = json!({
            "bench": "autocomplete", "mode": mode, "calls": calls,
            "wall_ms": ms(m.wall),
            "p50_ms": ms(percentile(m.latencies.clone(), 50.0)),
            "p99_ms": ms(percentile(m.latencies.clone(), 99.0)),
            "peak_rss_mb": m.peak_rss,
        });
        sink.row(row, |r| {
            format!(
                "  {:<14} {:>6} {:>10} {:>9} {:>9} {:>12}",
                mode, calls, r["wall_ms"], r["p50_ms"], r["p99_ms"], r["peak_rss_mb"]
            )
        });
        results.push((mode, m));
    }
    let wall = |mode: &str| {
        results
            .iter()
            .find(|r| r.0 == mode)
            .map_or(1.0, |r| r.1.wall.as_secs_f64())
    };
    sink.note(&format!(
        "mode C / mode S speed-up: {:.1}x; one mode C instance vs {calls} mode S instances: {:.2}x the wall time",
        wall("S") / wall("C"),
        wall("C") / wall("S-per-request")
    ));
    sink.note(&format!(
        "mode N / mode C wall time: {:.2}x (goal <= 1.5x)",
        wall("N") / wall("C")
    ));
    Ok(sink.into_rows())
}
