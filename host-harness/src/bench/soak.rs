//! `bench soak`: a long run of mode C calls with random sleeps,
//! cancellations and compositions, to show that nothing grows: the
//! process's memory after warm-up, the host's resource tables, and what the
//! guests' runtimes still hold.
//!
//! One host holds `mode-tests-c` and a composition (`compose-frontend-c`
//! linked to `compose-backend-c`). Workers each keep one call in flight,
//! drawn from a seeded mix; a cancelled call is one whose caller gives up
//! after a random few milliseconds. The baseline is taken after warm-up,
//! when every call has settled; so is the end.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Sink, build_guests, field, rss_mb};
use crate::concurrent::{Driver, InstanceId};
use crate::demo::xorshift;
use crate::error::{Error, Result};
use crate::{Harness, WasiOptions};

/// What `bench soak` runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Print one JSON object instead of text.
    pub json: bool,
    /// How the guests are built (`--guest-profile`).
    pub guests: wasync_build::GuestProfile,
    /// A short run, to check that everything works.
    pub quick: bool,
    /// Stop after this many calls (1,000,000 by default, unless only
    /// `seconds` is given).
    pub calls: Option<u64>,
    /// Stop after this long.
    pub seconds: Option<u64>,
    /// Calls in flight at once.
    pub concurrency: usize,
    /// Seed of the random mix of calls, so a run can be repeated.
    pub seed: u64,
}

const SLOW: &str = "examples:wasync/slow";
const RELAY: &str = "examples:wasync/frontend#relay";

/// The instances of the soak.
#[derive(Clone, Copy)]
struct Instances {
    tests: InstanceId,
    front: InstanceId,
    back: InstanceId,
}

/// What the host and the guests hold at one moment.
#[derive(Debug, Clone, Copy)]
struct Gauges {
    rss_mib: f64,
    table: usize,
    live_tasks: u64,
    live_timers: u64,
}

/// Runs the soak and returns its row.
pub async fn run(opts: &Options) -> Result<Vec<Value>> {
    let paths = build_guests(
        &["mode-tests-c", "compose-backend-c", "compose-frontend-c"],
        opts.guests,
        !opts.json,
    )?;
    let harness = Harness::new()?;
    let (tests, back, front) = (
        harness.compile(&paths[0])?,
        harness.compile(&paths[1])?,
        harness.compile(&paths[2])?,
    );
    let mut host = harness.concurrent(&WasiOptions::default())?;
    let tests = host.add("mode-tests", &tests, &[]).await?;
    let back = host.add("backend", &back, &[]).await?;
    let front = host
        .add("frontend", &front, &[("examples:wasync/backend", back)])
        .await?;
    let driver = host.start();
    let inst = Instances { tests, front, back };

    let (total, deadline) = match (opts.calls, opts.seconds, opts.quick) {
        (_, _, true) => (Some(opts.calls.unwrap_or(5_000)), None),
        (None, None, false) => (Some(1_000_000), None),
        (calls, secs, false) => (calls, secs.map(Duration::from_secs)),
    };
    let warm_up = total.map_or(50_000, |t| (t / 20).clamp(1_000, 50_000));
    let mut sink = Sink::new(opts.json);
    sink.heading(&format!(
        "soak: mode C calls with random sleeps, cancellations and compositions, {} at once",
        opts.concurrency
    ));

    let seed = opts.seed.max(1);
    let warm = drive(&driver, inst, opts.concurrency, Some(warm_up), None, seed).await?;
    let start = gauges(&driver, inst).await?;
    let began = Instant::now();
    let total = total.map(|t| t.saturating_sub(warm.calls));
    let run = drive(&driver, inst, opts.concurrency, total, deadline, seed + 1).await?;
    let wall = began.elapsed();
    let end = gauges(&driver, inst).await?;
    let calls = warm.calls + run.calls;
    let growth = if start.rss_mib > 0.0 {
        (end.rss_mib / start.rss_mib - 1.0) * 100.0
    } else {
        0.0
    };
    let row = json!({
        "bench": "soak",
        "calls": calls,
        "warm_up_calls": warm.calls,
        "cancelled": warm.cancelled + run.cancelled,
        "wall_s": (wall.as_secs_f64() * 10.0).round() / 10.0,
        "calls_per_s": (run.calls as f64 / wall.as_secs_f64()).round(),
        "rss_start_mib": start.rss_mib,
        "rss_end_mib": end.rss_mib,
        "rss_growth_pct": (growth * 10.0).round() / 10.0,
        "host_table_start": start.table,
        "host_table_end": end.table,
        "live_tasks_start": start.live_tasks,
        "live_tasks_end": end.live_tasks,
        "live_timers_start": start.live_timers,
        "live_timers_end": end.live_timers,
    });
    sink.row(row, |r| {
        format!(
            "  {} calls ({} cancelled) in {} s after {} to warm up: {} calls/s\n  \
             RSS {} MiB -> {} MiB ({}%), host table {} -> {}, live tasks {} -> {}, live timers {} -> {}",
            r["calls"],
            r["cancelled"],
            r["wall_s"],
            r["warm_up_calls"],
            r["calls_per_s"],
            r["rss_start_mib"],
            r["rss_end_mib"],
            r["rss_growth_pct"],
            r["host_table_start"],
            r["host_table_end"],
            r["live_tasks_start"],
            r["live_tasks_end"],
            r["live_timers_start"],
            r["live_timers_end"],
        )
    });
    Ok(sink.into_rows())
}

/// Calls made, and how many of them were cancelled.
#[derive(Default)]
struct Tally {
    calls: u64,
    cancelled: u64,
}

/// Runs calls from `workers` workers until `total` calls were made or
/// `deadline` has passed, then waits for every one of them to settle.
async fn drive(
    driver: &Driver,
    inst: Instances,
    workers: usize,
    total: Option<u64>,
    deadline: Option<Duration>,
    seed: u64,
) -> Result<Tally> {
    let made = Arc::new(AtomicU64::new(0));
    let cancelled = Arc::new(AtomicU64::new(0));
    let stop_at = deadline.map(|d| Instant::now() + d);
    let mut tasks: Vec<tokio::task::JoinHandle<Result<()>>> = Vec::new();
    for w in 0..workers as u64 {
        let (driver, made, cancelled) = (driver.clone(), made.clone(), cancelled.clone());
        let mut x = seed ^ (w + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        tasks.push(tokio::spawn(async move {
            loop {
                if stop_at.is_some_and(|t| Instant::now() >= t) {
                    return Ok(());
                }
                let n = made.fetch_add(1, Ordering::Relaxed);
                if total.is_some_and(|t| n >= t) {
                    made.fetch_sub(1, Ordering::Relaxed);
                    return Ok(());
                }
                if one_call(&driver, inst, &mut x).await? {
                    cancelled.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for task in tasks {
        task.await
            .map_err(|e| Error::Other(anyhow::anyhow!("a soak worker failed: {e}")))??;
    }
    Ok(Tally {
        calls: made.load(Ordering::Relaxed),
        cancelled: cancelled.load(Ordering::Relaxed),
    })
}

/// Makes one call drawn from the mix; returns whether it was cancelled.
async fn one_call(driver: &Driver, inst: Instances, x: &mut u64) -> Result<bool> {
    let r = xorshift(x);
    let small = (r >> 32) % 4;
    let (target, call, give_up_ms) = match r % 20 {
        0..=6 => (inst.tests, format!("{SLOW}#sleep-for({small})"), None),
        7..=8 => (inst.tests, format!("{SLOW}#echo(\"soak\")"), None),
        9 => (inst.tests, format!("{SLOW}#wait-ready()"), None),
        10 => (inst.tests, format!("{SLOW}#fan-out([1, 2, 50], 5)"), None),
        11..=12 => (
            inst.tests,
            format!("{SLOW}#sleep-for({})", 50 + small),
            Some(small),
        ),
        13..=17 => (inst.front, format!("{RELAY}(\"soak\", {small})"), None),
        _ => (
            inst.front,
            format!("{RELAY}(\"soak\", {})", 50 + small),
            Some(small),
        ),
    };
    let pending = driver.call_concurrent_wave(target, &call)?;
    match give_up_ms {
        None => {
            pending.await?;
            Ok(false)
        }
        Some(ms) => {
            // Dropping the call when the caller gives up cancels it in the
            // guest, across the link for a relay.
            match tokio::time::timeout(Duration::from_millis(ms), pending).await {
                Ok(out) => out.map(|_| false),
                Err(_) => Ok(true),
            }
        }
    }
    .map_err(|e| Error::Other(anyhow::anyhow!("soak call `{call}` failed: {e}")))
}

/// Reads the process's memory, the host's table and the guests' runtimes.
async fn gauges(driver: &Driver, inst: Instances) -> Result<Gauges> {
    let host = driver.stats().await?;
    if host.pending_calls != 0 || host.import_calls != 0 {
        return Err(Error::Other(anyhow::anyhow!(
            "calls still in flight after the soak: {host:?}"
        )));
    }
    let mut g = Gauges {
        rss_mib: rss_mb(),
        table: host.table_entries,
        live_tasks: 0,
        live_timers: 0,
    };
    for (id, func) in [
        (inst.tests, format!("{SLOW}#stats")),
        (inst.front, "gauges".to_owned()),
        (inst.back, "gauges".to_owned()),
    ] {
        let out = driver.call_concurrent(id, &func, Vec::new())?.await?;
        if let Some(v) = out.first() {
            g.live_tasks += field(v, "live-tasks");
            g.live_timers += field(v, "live-timers");
        }
    }
    Ok(g)
}
