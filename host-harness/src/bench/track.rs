//! Tracking benchmarks over time: `--save FILE` stores a run's rows,
//! `--baseline FILE` prints each figure of this run next to the same
//! figure of a stored run, as a ratio, and flags those worse by more than
//! a threshold.
//!
//! Ground rules:
//! - A stored run is JSON lines: one `{"meta": …}` line describing the
//!   machine, then the rows exactly as `--json` prints them.
//! - Rows are matched by their *keys*: every field that is not a figure
//!   (the bench, the mode, the runtime, sizes such as `n` or `calls`),
//!   save lists. A list holds a figure's rounds (`p99_by_round_ms`): it
//!   shows the spread, and neither matches rows nor is compared.
//! - A *figure* is a numeric field that measures something (see
//!   [`is_figure`]). Lower is better, except for throughputs (`rps`,
//!   `*_per_s`), where higher is. Ratios are always "now / baseline", and a
//!   figure is *worse* when it moved the bad way by more than the
//!   threshold.
//! - Timing on a shared machine is noisy: the default threshold, 1.25,
//!   flags a figure 25% worse; compare runs on the same machine only.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Map, Value, json};

use crate::error::{Error, Result};

/// The default factor beyond which a figure counts as worse.
pub const DEFAULT_THRESHOLD: f64 = 1.25;

/// Numeric fields that describe a row rather than measure it: matching
/// keys, not figures.
const KEY_FIELDS: &[&str] = &[
    "n",
    "m",
    "calls",
    "requests",
    "concurrency",
    "users",
    "sleep_ms",
    "spread_ms",
    "timeout_ms",
    "tasks",
    "yields",
    "pollables",
    "turns",
];

/// Whether field `name` with `value` is a measured figure.
pub fn is_figure(name: &str, value: &Value) -> bool {
    value.is_number() && !KEY_FIELDS.contains(&name)
}

/// Whether a larger value of figure `name` is better.
fn higher_is_better(name: &str) -> bool {
    name == "rps" || name.ends_with("_per_s") || name.starts_with("speedup")
}

/// What this machine is, for the `meta` line of a stored run.
pub fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_gib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| (kb / 1024.0 / 1024.0).round());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let unix_time = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    json!({
        "cpu": cpu,
        "cores": cores,
        "memory_gib": mem_gib,
        "os": std::env::consts::OS,
        "arch": std::env::consts::ARCH,
        "wasmtime": "48.0.8",
        "harness": env!("CARGO_PKG_VERSION"),
        "unix_time": unix_time,
    })
}

/// Writes `rows` of bench `bench` to `path`, with a `meta` line first.
pub fn save(path: &Path, bench: &str, rows: &[Value]) -> Result<()> {
    let mut meta = machine();
    meta["command"] = Value::String(format!("wasync-harness bench {bench}"));
    let mut text = json!({ "meta": meta }).to_string();
    text.push('\n');
    for row in rows {
        text.push_str(&row.to_string());
        text.push('\n');
    }
    std::fs::write(path, text).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })
}

/// Reads a stored run: its rows (the `meta` line left out).
pub fn load(path: &Path) -> Result<Vec<Value>> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(line).map_err(|e| {
            Error::Config(format!(
                "{}, line {}: not a stored benchmark row: {e}",
                path.display(),
                i + 1
            ))
        })?;
        if !value.is_object() {
            return Err(Error::Config(format!(
                "{}, line {}: a stored row must be a JSON object",
                path.display(),
                i + 1
            )));
        }
        if value.get("meta").is_none() {
            rows.push(value);
        }
    }
    Ok(rows)
}

/// The keys of a row: its fields that are neither figures nor lists.
fn keys(row: &Value) -> Map<String, Value> {
    row.as_object()
        .map(|o| {
            o.iter()
                .filter(|(k, v)| !is_figure(k, v) && !v.is_array())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// One figure of this run next to the baseline's.
#[derive(Debug, Clone, PartialEq)]
pub struct Compared {
    /// The row's keys, as `key=value` pairs.
    pub row: String,
    /// The figure's name.
    pub figure: String,
    /// The figure in this run.
    pub now: f64,
    /// The figure in the baseline.
    pub baseline: f64,
    /// `now / baseline`.
    pub ratio: f64,
    /// Moved the bad way by more than the threshold.
    pub worse: bool,
}

/// Compares every figure of `rows` with the same figure of the baseline
/// row with the same keys. Rows or figures the baseline lacks are left
/// out.
pub fn compare(rows: &[Value], baseline: &[Value], threshold: f64) -> Vec<Compared> {
    let mut out = Vec::new();
    for row in rows {
        let k = keys(row);
        let Some(base) = baseline.iter().find(|b| keys(b) == k) else {
            continue;
        };
        let label = k
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect::<Vec<_>>()
            .join(" ");
        let Some(fields) = row.as_object() else {
            continue;
        };
        for (name, value) in fields {
            if !is_figure(name, value) {
                continue;
            }
            let (Some(now), Some(then)) = (value.as_f64(), base.get(name).and_then(Value::as_f64))
            else {
                continue;
            };
            let ratio = if then == 0.0 {
                if now == 0.0 { 1.0 } else { f64::INFINITY }
            } else {
                now / then
            };
            let worse = if higher_is_better(name) {
                ratio < 1.0 / threshold
            } else {
                ratio > threshold
            };
            out.push(Compared {
                row: label.clone(),
                figure: name.clone(),
                now,
                baseline: then,
                ratio,
                worse,
            });
        }
    }
    out
}

/// The comparison as a table, with a last line that counts the figures
/// flagged worse.
pub fn report(compared: &[Compared], threshold: f64) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\ncompared with the baseline (ratio = now / baseline; flagged: worse by more than {threshold}x)"
    );
    for c in compared {
        let flag = if c.worse { "  WORSE" } else { "" };
        let _ = writeln!(
            s,
            "  {:<60} {:<22} {:>12} {:>12} {:>7.2}x{flag}",
            c.row, c.figure, c.now, c.baseline, c.ratio
        );
    }
    let worse = compared.iter().filter(|c| c.worse).count();
    let _ = write!(
        s,
        "  {} figures compared, {worse} worse than the baseline by more than {threshold}x",
        compared.len()
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_match_by_keys_and_figures_are_flagged_by_direction() {
        let base = [
            json!({"bench": "calls", "mode": "C", "calls": 1000, "wall_ms": 50.0, "peak_rss_mb": 100.0}),
            json!({"bench": "http", "mode": "S", "requests": 100, "rps": 1000.0, "p99_ms": 10.0}),
        ];
        let now = [
            json!({"bench": "calls", "mode": "C", "calls": 1000, "wall_ms": 70.0, "peak_rss_mb": 90.0}),
            json!({"bench": "http", "mode": "S", "requests": 100, "rps": 700.0, "p99_ms": 10.0}),
            // No baseline row with these keys: left out.
            json!({"bench": "calls", "mode": "S", "calls": 1000, "wall_ms": 5.0}),
        ];
        let c = compare(&now, &base, 1.25);
        let get = |f: &str| c.iter().find(|c| c.figure == f).unwrap();
        assert_eq!(c.len(), 4);
        assert!(get("wall_ms").worse, "70 ms against 50 ms is 1.4x");
        assert!(!get("peak_rss_mb").worse, "less memory is better");
        assert!(get("rps").worse, "fewer requests per second is worse");
        assert!(!get("p99_ms").worse);
        assert!((get("wall_ms").ratio - 1.4).abs() < 1e-9);
        let text = report(&c, 1.25);
        assert!(
            text.ends_with("4 figures compared, 2 worse than the baseline by more than 1.25x"),
            "{text}"
        );
    }

    #[test]
    fn rounds_lists_neither_match_rows_nor_count_as_figures() {
        let base = [json!({"bench": "spawn", "runtime": "wasync", "n": 10, "ns_per_task": 100.0})];
        let now = [json!({
            "bench": "spawn", "runtime": "wasync", "n": 10, "ns_per_task": 130.0,
            "ns_per_task_by_round": [120.0, 130.0, 140.0],
        })];
        let c = compare(&now, &base, 1.25);
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!(c[0].figure, "ns_per_task");
        assert!(c[0].worse);
    }

    #[test]
    fn a_saved_run_loads_back_without_its_meta_line() {
        let path =
            std::env::temp_dir().join(format!("wasync-baseline-{}.jsonl", std::process::id()));
        let rows = vec![json!({"bench": "calls", "mode": "C", "calls": 10, "wall_ms": 5.0})];
        save(&path, "calls", &rows).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.lines().next().unwrap().contains("\"meta\""), "{text}");
        assert_eq!(load(&path).unwrap(), rows);
        std::fs::write(&path, "not json\n").unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(err.contains("line 1: not a stored benchmark row"), "{err}");
        std::fs::remove_file(path).unwrap();
    }
}
