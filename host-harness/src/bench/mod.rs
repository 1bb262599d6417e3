//! `wasync-harness bench`: side-by-side measurements, printed as a table or
//! as one JSON object per line (`--json`) for tracking over time.

pub mod autocomplete;
pub mod calls;
pub mod http;
pub mod runtime;
pub mod soak;
pub mod timers;
pub mod track;

use std::path::PathBuf;

use serde_json::Value;
use wasync_build::GuestProfile;

use crate::error::Result;
use crate::guests::Guests;

/// Builds the guests in `profile` and returns the paths of the named ones,
/// in the order asked.
pub fn build_guests(names: &[&str], profile: GuestProfile, progress: bool) -> Result<Vec<PathBuf>> {
    let guests = Guests::build(profile, progress)?;
    names.iter().map(|n| guests.path(n)).collect()
}

/// Where rows go: JSON lines, or a table printed as rows arrive.
pub struct Sink {
    json: bool,
    rows: Vec<Value>,
}

impl Sink {
    /// A sink printing text (`json == false`) or JSON lines.
    pub fn new(json: bool) -> Sink {
        Sink {
            json,
            rows: Vec::new(),
        }
    }

    /// Whether rows print as JSON lines.
    pub fn is_json(&self) -> bool {
        self.json
    }

    /// Emits one measurement: as a JSON line, or through `line` as text.
    pub fn row(&mut self, value: Value, line: impl FnOnce(&Value) -> String) {
        if self.json {
            println!("{value}");
        } else {
            println!("{}", line(&value));
        }
        self.rows.push(value);
    }

    /// Prints a heading (not in JSON mode).
    pub fn heading(&self, text: &str) {
        if !self.json {
            println!("\n{text}");
        }
    }

    /// Prints a note such as a ratio (not in JSON mode).
    pub fn note(&self, text: &str) {
        if !self.json {
            println!("  {text}");
        }
    }

    /// Every row emitted, for `--save` and `--baseline`.
    pub fn into_rows(self) -> Vec<Value> {
        self.rows
    }
}

/// The median of `values` (the upper one of the middle two).
pub(crate) fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// Milliseconds with two decimals, for JSON and tables.
pub fn ms(ns: u64) -> f64 {
    (ns as f64 / 1e4).round() / 100.0
}

/// A finished storm's figures, from the guest's `storm-report` record `r`
/// for `n` timers; the callers add the row's keys and counters.
pub(crate) fn storm_figures(
    r: &wasmtime::component::Val,
    n: u32,
) -> serde_json::Map<String, Value> {
    use serde_json::json;
    [
        ("finished", json!(field(r, "fired") == u64::from(n))),
        ("wall_ms", json!(ms(field(r, "wall-ns")))),
        ("mean_lateness_ms", json!(ms(field(r, "mean-lateness-ns")))),
        ("p99_lateness_ms", json!(ms(field(r, "p99-lateness-ns")))),
        ("max_lateness_ms", json!(ms(field(r, "max-lateness-ns")))),
        ("early", json!(field(r, "early"))),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// The field `name` of a record such as a guest's stats, as a number (0
/// if it has none).
pub(crate) fn field(v: &wasmtime::component::Val, name: &str) -> u64 {
    use wasmtime::component::Val;
    match v {
        Val::Record(fields) => match fields.iter().find(|(n, _)| n == name).map(|f| &f.1) {
            Some(Val::U64(x)) => *x,
            Some(Val::U32(x)) => u64::from(*x),
            _ => 0,
        },
        _ => 0,
    }
}

/// Resident memory of this process now, in MiB (Linux; 0 elsewhere).
pub(crate) fn rss_mb() -> f64 {
    status_mb("VmRSS:")
}

/// The most resident memory this process has had, in MiB (Linux; 0
/// elsewhere).
pub(crate) fn peak_rss_mb() -> f64 {
    status_mb("VmHWM:")
}

/// Starts [`peak_rss_mb`] over from the memory resident now (Linux 4.0
/// and later; elsewhere it keeps the peak so far), so that it leaves out
/// what setting up used, such as compiling a component.
pub(crate) fn reset_peak_rss() {
    // "5" resets the process's peak RSS (see proc(5), `clear_refs`).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// A memory figure of `/proc/self/status`, in MiB.
fn status_mb(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| (kb / 1024.0 * 10.0).round() / 10.0)
}

/// Samples this process's memory while `work` runs and returns its output
/// with the peak seen.
pub(crate) async fn with_peak_rss<T>(work: impl std::future::Future<Output = T>) -> (T, f64) {
    let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
    let sampler = tokio::spawn(async move {
        let mut peak = rss_mb();
        loop {
            tokio::select! {
                _ = &mut stop_rx => return peak,
                _ = tokio::time::sleep(std::time::Duration::from_millis(5)) => peak = peak.max(rss_mb()),
            }
        }
    });
    let out = work.await;
    let _ = stop_tx.send(());
    let peak = sampler.await.unwrap_or(0.0).max(rss_mb());
    (out, peak)
}
