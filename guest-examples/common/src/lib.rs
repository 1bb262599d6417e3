//! Code the example guests share: each guest is its own component, so each
//! gets its own copy of the state below.

use std::cell::Cell;

/// A deterministic pseudo-random sequence (xorshift64), so that guests and
/// benchmarks draw the same numbers from the same seed.
pub fn xorshift(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

thread_local! {
    static CALLS: Cell<u32> = const { Cell::new(0) };
    static IN_FLIGHT: Cell<u32> = const { Cell::new(0) };
}

/// Counts a call for as long as it runs: until it returns, or until its
/// future is dropped because the call was cancelled.
pub struct InFlight(());

impl InFlight {
    /// Counts one more call, now and in total.
    pub fn start() -> InFlight {
        CALLS.with(|c| c.set(c.get() + 1));
        IN_FLIGHT.with(|c| c.set(c.get() + 1));
        InFlight(())
    }

    /// Calls running now.
    pub fn running() -> u32 {
        IN_FLIGHT.with(Cell::get)
    }

    /// Calls started so far.
    pub fn total() -> u32 {
        CALLS.with(Cell::get)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        IN_FLIGHT.with(|c| c.set(c.get() - 1));
    }
}

/// POSTs `body` to `url` with `wasync::http`, the body streamed from a
/// reader; returns the response text, or why it failed.
#[cfg(feature = "wasync")]
pub async fn post_text(url: String, body: String) -> Result<String, String> {
    let reader = futures::io::Cursor::new(body.into_bytes());
    let req = http::Request::post(url)
        .body(wasync::http::Body::from_reader(reader))
        .map_err(|e| e.to_string())?;
    let resp = wasync::http::send(req).await.map_err(|e| e.to_string())?;
    if !resp.status().is_success() {
        return Err(format!("HTTP {}", resp.status()));
    }
    resp.text().await.map_err(|e| e.to_string())
}

/// Fills a generated `runtime-stats` record from `wasync::runtime::stats()`.
/// Each guest has its own binding type with the same fields, so this is a
/// macro over the type's path.
#[macro_export]
macro_rules! runtime_stats {
    ($ty:path) => {{
        let s = ::wasync::runtime::stats();
        $ty {
            turns: s.turns,
            blocking_polls: s.blocking_polls,
            nonblocking_polls: s.nonblocking_polls,
            tasks_polled: s.tasks_polled,
            live_tasks: s.live_tasks as u32,
            registered_pollables: s.registered_pollables as u32,
            waiters: s.waiters as u32,
            live_timers: s.live_timers as u32,
            timer_armed: s.timer_armed,
            timer_rearms: s.timer_rearms,
            timers_fired: s.timers_fired,
            max_poll_list: s.max_poll_list as u32,
        }
    }};
}

/// Fills a generated `runtime-gauges` record: what the runtime still holds.
#[macro_export]
macro_rules! runtime_gauges {
    ($ty:path) => {{
        let s = ::wasync::runtime::stats();
        $ty {
            live_tasks: s.live_tasks as u32,
            live_timers: s.live_timers as u32,
            registered_pollables: s.registered_pollables as u32,
            waiters: s.waiters as u32,
        }
    }};
}

thread_local! {
    static INSTANCE_ID: Cell<u64> = const { Cell::new(0) };
    static SERVED: Cell<u64> = const { Cell::new(0) };
}

/// For HTTP services: counts one more request served by this instance and
/// returns `(instance id, requests served)`. The id is drawn with `draw` on
/// the first request, so clients can count the instances that served them
/// (the `x-instance` and `x-served` headers).
pub fn serve_marks(draw: impl FnOnce() -> u64) -> (u64, u64) {
    if INSTANCE_ID.get() == 0 {
        INSTANCE_ID.set(draw() | 1);
    }
    SERVED.set(SERVED.get() + 1);
    (INSTANCE_ID.get(), SERVED.get())
}

/// The timer storm of `bench-wasync` and `bench-async`: `n` spawned tasks
/// each sleep until a seeded random deadline in [0, `spread_ms`] from now.
/// Returns the nanoseconds until the last one woke, and each one's lateness
/// in nanoseconds (negative: it woke early).
#[cfg(feature = "wasync")]
pub async fn timer_storm(n: u32, spread_ms: u32, seed: u64) -> (u64, Vec<i64>) {
    use std::time::Duration;
    use wasync::time::{Instant, sleep_until};

    let spread_ns = u64::from(spread_ms) * 1_000_000;
    let start = Instant::now();
    let mut x = seed.max(1);
    // Every timer is one entry of wasync's wheel: the instance keeps at most
    // one host timer whatever `n` is.
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let deadline = start + Duration::from_nanos(xorshift(&mut x) % (spread_ns + 1));
            wasync::spawn(async move {
                sleep_until(deadline).await;
                Instant::now().as_nanos() as i64 - deadline.as_nanos() as i64
            })
        })
        .collect();
    let mut lateness = Vec::with_capacity(handles.len());
    for h in handles {
        lateness.push(h.await.expect("not aborted"));
    }
    (start.elapsed().as_nanos() as u64, lateness)
}

/// What a timer storm measured, from each timer's lateness in nanoseconds
/// (negative: it fired early).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lateness {
    pub fired: u32,
    pub early: u32,
    /// Over all timers; early ones count as on time.
    pub mean_ns: u64,
    /// The 99th percentile (nearest rank).
    pub p99_ns: u64,
    pub max_ns: u64,
}

impl Lateness {
    pub fn of(lateness: &[i64]) -> Lateness {
        let fired = lateness.len() as u32;
        let early = lateness.iter().filter(|&&l| l < 0).count() as u32;
        let mut late: Vec<u64> = lateness.iter().map(|&l| l.max(0) as u64).collect();
        late.sort_unstable();
        // Nearest rank: the smallest value that at least 99% are at or below.
        let p99_rank = (late.len() * 99).div_ceil(100).max(1);
        Lateness {
            fired,
            early,
            mean_ns: late.iter().sum::<u64>() / u64::from(fired.max(1)),
            p99_ns: late.get(p99_rank - 1).copied().unwrap_or(0),
            max_ns: late.last().copied().unwrap_or(0),
        }
    }
}

/// Fills a generated `storm-report` record from the wall time and each
/// timer's lateness (see [`Lateness`]). Each benchmark guest has its own
/// binding type with the same fields, so this is a macro over the type's
/// path.
#[macro_export]
macro_rules! storm_report {
    ($ty:path, $wall_ns:expr, $lateness:expr) => {{
        let l = $crate::Lateness::of(&$lateness);
        $ty {
            fired: l.fired,
            early: l.early,
            wall_ns: $wall_ns,
            mean_lateness_ns: l.mean_ns,
            p99_lateness_ns: l.p99_ns,
            max_lateness_ns: l.max_ns,
        }
    }};
}
