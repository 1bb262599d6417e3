//! `bench runtime`: the guest runtime on wasync against the same program on
//! wstd 0.6.8, in one run. See `docs/benchmarks.md` for what each measures.

use std::time::Duration;

use serde_json::{Value, json};
use wasmtime::component::Val;
use wasync_build::GuestProfile;

use super::{Sink, build_guests, median, storm_figures};
use crate::error::Result;
use crate::{Harness, HarnessConfig, Loaded, WasiOptions};

/// What `bench runtime` (and `bench timers`) runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Print one JSON object per line instead of a table.
    pub json: bool,
    /// Small sizes only: checks that everything runs, measures little.
    pub quick: bool,
    /// The longest a timer storm may run before it counts as not finished.
    pub storm_limit: Duration,
    /// How the guests are built (release for figures worth keeping).
    pub guests: GuestProfile,
}

const RUNTIMES: [(&str, &str); 2] = [("wasync", "bench-wasync"), ("wstd", "bench-wstd")];

struct Guests {
    harness: Harness,
    compiled: Vec<(&'static str, Loaded)>,
}

impl Guests {
    async fn call(
        &self,
        runtime: &str,
        call: &str,
        limit: Option<Duration>,
    ) -> Result<(Vec<Val>, crate::PollCounters)> {
        let loaded = &self
            .compiled
            .iter()
            .find(|(r, _)| *r == runtime)
            .expect("every runtime is compiled")
            .1;
        let limits = crate::Limits {
            call_timeout: limit,
            ..crate::Limits::default()
        };
        let mut inst = self
            .harness
            .instantiate_with_limits(loaded, &WasiOptions::default(), limits)
            .await?;
        let out = inst.call_wave(call).await?;
        Ok((out, inst.poll_counters()))
    }
}

fn scalar(out: &[Val]) -> u64 {
    match out.first() {
        Some(Val::U64(x)) => *x,
        _ => 0,
    }
}

/// Runs every runtime benchmark and returns the rows it printed.
pub async fn run(opts: &Options) -> Result<Vec<Value>> {
    let names: Vec<&str> = RUNTIMES.iter().map(|r| r.1).collect();
    let paths = build_guests(&names, opts.guests, !opts.json)?;
    let harness = Harness::with_config(HarnessConfig {
        time_limits: true,
        ..HarnessConfig::default()
    })?;
    let mut compiled = Vec::new();
    for ((runtime, _), path) in RUNTIMES.iter().zip(&paths) {
        compiled.push((*runtime, harness.load(path)?));
    }
    let guests = Guests { harness, compiled };
    let mut sink = Sink::new(opts.json);
    storm(&guests, opts, &mut sink).await?;
    idle(&guests, opts, &mut sink).await?;
    spawn(&guests, opts, &mut sink).await?;
    poll_turn(&guests, opts, &mut sink).await?;
    Ok(sink.into_rows())
}

/// Rounds of each storm size and of spawn-and-join: a runtime's rows are
/// its median round. The machine's bursts of load come and go within a
/// run; one call per row put a whole row on whichever moment it met, and
/// spawn-and-join's ratio to wstd swung from 0.51x to 1.15x between runs of
/// the same code. Rounds alternate which runtime goes first.
fn rounds(opts: &Options, full: usize) -> usize {
    if opts.quick { 1 } else { full }
}

/// One storm call's row; a call stopped at the limit gives a row with
/// `"finished": false` and no lateness.
async fn storm_round(g: &Guests, runtime: &'static str, n: u32, limit: Duration) -> Result<Value> {
    let started = std::time::Instant::now();
    let result = g
        .call(
            runtime,
            &format!("timer-storm({n}, 1000, 12345)"),
            Some(limit),
        )
        .await;
    Ok(match result {
        Ok((out, counters)) => {
            let mut row = json!({
                "bench": "timers", "runtime": runtime, "n": n,
                "polls": counters.polls,
                "ready_calls": counters.ready_calls,
            });
            if let Some(row) = row.as_object_mut() {
                row.extend(storm_figures(&out[0], n));
            }
            row
        }
        Err(crate::Error::Limit {
            limit: crate::Limit::CallTimeout { .. },
            ..
        }) => json!({
            "bench": "timers", "runtime": runtime, "n": n,
            "finished": false,
            "wall_ms": started.elapsed().as_millis() as u64,
            "mean_lateness_ms": null, "p99_lateness_ms": null, "max_lateness_ms": null,
        }),
        Err(e) => return Err(e),
    })
}

async fn storm(g: &Guests, opts: &Options, sink: &mut Sink) -> Result<()> {
    let rounds = rounds(opts, 3);
    sink.heading(&format!(
        "timer storm: N tasks each sleep a seeded random time in [0, 1 s]; the median of {rounds} alternating rounds by p99; wstd stops at {} s (and is not run again)\n  {:<7} {:>7} {:>9} {:>9} {:>14} {:>13} {:>13} {:>10} {:>12}",
        opts.storm_limit.as_secs(),
        "runtime", "n", "finished", "wall_ms", "mean_late_ms", "p99_late_ms", "max_late_ms", "polls", "ready_calls"
    ));
    let sizes: &[u32] = if opts.quick {
        &[1_000]
    } else {
        &[1_000, 10_000, 100_000]
    };
    for &n in sizes {
        let mut runs: [Vec<Value>; RUNTIMES.len()] = Default::default();
        for round in 0..rounds {
            for i in 0..RUNTIMES.len() {
                let which = (round + i) % RUNTIMES.len();
                // A storm stopped at the limit would be stopped again, a
                // limit's worth of time later.
                if runs[which].iter().any(|r| r["finished"] != true) {
                    continue;
                }
                let row = storm_round(g, RUNTIMES[which].0, n, opts.storm_limit).await?;
                runs[which].push(row);
            }
        }
        for ((runtime, _), mut rows) in RUNTIMES.into_iter().zip(runs) {
            // In the order the rounds ran.
            let p99s: Vec<Value> = rows.iter().map(|r| r["p99_lateness_ms"].clone()).collect();
            // The median round by p99 gives the whole row, so that its
            // figures come from one call. A stopped round sorts last.
            rows.sort_by(|a, b| {
                let p99 = |r: &Value| r["p99_lateness_ms"].as_f64().unwrap_or(f64::INFINITY);
                p99(a).total_cmp(&p99(b))
            });
            let mut row = rows.swap_remove(rows.len() / 2);
            row["p99_by_round_ms"] = json!(p99s);
            sink.row(row, |r| {
                format!(
                    "  {:<7} {:>7} {:>9} {:>9} {:>14} {:>13} {:>13} {:>10} {:>12}",
                    r["runtime"].as_str().unwrap_or(""),
                    r["n"],
                    if r["finished"] == true {
                        "yes"
                    } else {
                        "NO (stopped)"
                    },
                    r["wall_ms"],
                    r["mean_lateness_ms"],
                    r["p99_lateness_ms"],
                    r["max_lateness_ms"],
                    r["polls"],
                    r["ready_calls"],
                )
            });
            if p99s.len() > 1 {
                let p99s: Vec<String> = p99s.iter().map(Value::to_string).collect();
                sink.note(&format!(
                    "{runtime} n={n}: p99 by round {} ms",
                    p99s.join(", ")
                ));
            }
        }
    }
    Ok(())
}

/// Yields per worker: wstd polls every idle timer after every task run, so
/// at large M it gets fewer runs to keep the benchmark short; the figure is
/// per run either way.
fn yields_for(runtime: &str, idle: u32) -> u32 {
    match (runtime, idle) {
        ("wstd", m) if m >= 10_000 => 10,
        ("wstd", m) if m >= 1_000 => 100,
        _ => 1_000,
    }
}

async fn idle(g: &Guests, opts: &Options, sink: &mut Sink) -> Result<()> {
    sink.heading(&format!(
        "idle-timer overhead: 10 tasks yield repeatedly while M timers wait an hour\n  {:<7} {:>7} {:>12} {:>10}",
        "runtime", "m", "ns_per_run", "runs"
    ));
    let sizes: &[u32] = if opts.quick {
        &[0, 100]
    } else {
        &[0, 100, 1_000, 10_000]
    };
    let mut per_runtime: Vec<(&str, u32, f64)> = Vec::new();
    for &m in sizes {
        for (runtime, _) in RUNTIMES {
            let yields = yields_for(runtime, m);
            let (out, _) = g
                .call(runtime, &format!("idle-timers({m}, 10, {yields})"), None)
                .await?;
            let runs = 10 * u64::from(yields);
            let ns = scalar(&out) as f64 / runs as f64;
            per_runtime.push((runtime, m, ns));
            sink.row(
                json!({"bench": "idle", "runtime": runtime, "m": m, "ns_per_run": (ns * 10.0).round() / 10.0, "runs": runs}),
                |r| format!("  {:<7} {:>7} {:>12} {:>10}", runtime, m, r["ns_per_run"], runs),
            );
        }
    }
    for (runtime, _) in RUNTIMES {
        let base = per_runtime
            .iter()
            .find(|r| r.0 == runtime && r.1 == 0)
            .map(|r| r.2);
        let top = per_runtime
            .iter()
            .filter(|r| r.0 == runtime)
            .max_by_key(|r| r.1);
        if let (Some(base), Some(top)) = (base, top) {
            sink.note(&format!(
                "{runtime}: M={} costs {:.2}x M=0 per run",
                top.1,
                top.2 / base
            ));
        }
    }
    Ok(())
}

async fn spawn(g: &Guests, opts: &Options, sink: &mut Sink) -> Result<()> {
    let n: u32 = if opts.quick { 10_000 } else { 1_000_000 };
    let rounds = rounds(opts, 7);
    sink.heading(&format!(
        "spawn and join: {n} trivial tasks, the median of {rounds} alternating rounds\n  {:<7} {:>12} {:>9}",
        "runtime", "ns_per_task", "vs_wstd"
    ));
    // Both runtimes first, then the rows: wasync's carries its ratio to
    // wstd's time in this same run (lower is better).
    let mut per_round: [Vec<f64>; RUNTIMES.len()] = Default::default();
    for round in 0..rounds {
        for i in 0..RUNTIMES.len() {
            let which = (round + i) % RUNTIMES.len();
            let call = format!("spawn-join({n})");
            let (out, _) = g.call(RUNTIMES[which].0, &call, None).await?;
            per_round[which].push(scalar(&out) as f64 / f64::from(n));
        }
    }
    let results: Vec<(&str, f64, Vec<f64>)> = RUNTIMES
        .iter()
        .zip(per_round)
        .map(|((runtime, _), ns)| (*runtime, median(ns.clone()), ns))
        .collect();
    let wstd = results
        .iter()
        .find(|r| r.0 == "wstd")
        .map(|r| r.1)
        .unwrap_or(f64::NAN);
    let tenths = |ns: f64| (ns * 10.0).round() / 10.0;
    for (runtime, ns, by_round) in results {
        let by_round: Vec<f64> = by_round.into_iter().map(tenths).collect();
        let mut row = json!({"bench": "spawn", "runtime": runtime, "n": n, "ns_per_task": tenths(ns), "ns_per_task_by_round": by_round});
        if runtime == "wasync" && wstd > 0.0 {
            row["vs_wstd"] = json!((ns / wstd * 100.0).round() / 100.0);
        }
        sink.row(row, |r| {
            format!(
                "  {:<7} {:>12} {:>9}",
                runtime,
                r["ns_per_task"],
                r.get("vs_wstd").map_or(String::new(), |v| format!("{v}x"))
            )
        });
    }
    Ok(())
}

async fn poll_turn(g: &Guests, opts: &Options, sink: &mut Sink) -> Result<()> {
    let turns: u32 = if opts.quick { 200 } else { 10_000 };
    sink.heading(&format!(
        "poll-turn cost: one task yields {turns} times while P futures wait on pending pollables\n  {:<7} {:>6} {:>12} {:>14} {:>14}",
        "runtime", "p", "ns_per_turn", "host_ns_per_turn", "guest_ns_per_turn"
    ));
    let sizes: &[u32] = if opts.quick {
        &[1, 10]
    } else {
        &[1, 10, 100, 1_000]
    };
    for &p in sizes {
        for (runtime, _) in RUNTIMES {
            let (out, counters) = g
                .call(runtime, &format!("poll-turn({p}, {turns})"), None)
                .await?;
            let total = scalar(&out) as f64 / f64::from(turns);
            let host = counters.poll_time.as_nanos() as f64 / f64::from(turns);
            let guest = (total - host).max(0.0);
            sink.row(
                json!({
                    "bench": "poll-turn", "runtime": runtime, "p": p,
                    "ns_per_turn": total.round(),
                    "host_ns_per_turn": host.round(),
                    "guest_ns_per_turn": guest.round(),
                    "polls": counters.polls,
                    "ready_calls": counters.ready_calls,
                }),
                |r| {
                    format!(
                        "  {:<7} {:>6} {:>12} {:>14} {:>14}",
                        runtime, p, r["ns_per_turn"], r["host_ns_per_turn"], r["guest_ns_per_turn"]
                    )
                },
            );
        }
    }
    Ok(())
}
