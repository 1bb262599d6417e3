//! `wasync-harness demo`: users typing into one autocomplete instance, in
//! mode S and in mode C, side by side.
//!
//! Every user types a word one key at a time, pausing between keys; each
//! keystroke asks for completions of what has been typed so far. All users
//! share ONE instance of the autocomplete component. In mode S (static
//! composition, plain WASI 0.2) each call holds the instance until it is
//! done, slow source included; in mode C (host-mediated, the wasync ABI)
//! calls overlap and the slow source is cut off at the timeout.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use crate::Harness;
use crate::autocomplete::{
    Completion, Components, Environment, Running, Status, start_concurrent, start_standard,
};
use crate::error::{Error, Result};
use crate::suggest_server::{ServerConfig, SuggestServer};

/// The demo's settings (every one is a CLI flag).
#[derive(Debug, Clone)]
pub struct DemoConfig {
    pub users: usize,
    /// Keystrokes per user: prefixes of length 1 up to this.
    pub keystrokes: usize,
    pub limit: u32,
    pub timeout: Duration,
    pub slow_delay: Duration,
    pub server: ServerConfig,
    /// Pause between one user's keystrokes, drawn in [min, max].
    pub think: (Duration, Duration),
    pub seed: u64,
    pub svg: PathBuf,
}

/// Words the users type: things people look up in this ecosystem.
const WORDS: &[&str] = &[
    "wasm", "async", "timer", "stream", "compose", "runtime", "poll", "task", "spawn", "waker",
    "wasi", "tokio", "future", "cancel", "select", "socket", "trap", "table", "await", "wit",
];

/// One call as a user saw it.
#[derive(Debug, Clone)]
pub struct CallRecord {
    pub user: usize,
    pub prefix: String,
    /// From the session's start.
    pub start: Duration,
    pub end: Duration,
    pub outcome: std::result::Result<Completion, String>,
}

impl CallRecord {
    pub fn latency(&self) -> Duration {
        self.end - self.start
    }
}

/// One mode's session.
#[derive(Debug, Clone)]
pub struct Session {
    pub mode: &'static str,
    pub wall: Duration,
    pub calls: Vec<CallRecord>,
}

impl Session {
    /// The `p`-th percentile of call latency (nearest rank).
    pub fn percentile(&self, p: f64) -> Duration {
        percentile(self.calls.iter().map(CallRecord::latency).collect(), p)
    }
}

/// The `p`-th percentile (0..=100) of `values`, by nearest rank.
pub fn percentile(mut values: Vec<Duration>, p: f64) -> Duration {
    if values.is_empty() {
        return Duration::ZERO;
    }
    values.sort();
    let rank = ((p / 100.0) * values.len() as f64).ceil().max(1.0) as usize;
    values[rank.min(values.len()) - 1]
}

/// A step of the xorshift64 generator: seeded draws that are the same on
/// every run.
pub(crate) fn xorshift(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

/// Each user's word and pauses, the same in both modes.
fn script(cfg: &DemoConfig) -> Vec<(String, Vec<Duration>)> {
    let mut x = cfg.seed.max(1);
    (0..cfg.users)
        .map(|_| {
            let word = WORDS[(xorshift(&mut x) % WORDS.len() as u64) as usize].to_owned();
            let span = cfg.think.1.saturating_sub(cfg.think.0).as_millis() as u64;
            let pauses = (0..cfg.keystrokes)
                .map(|_| {
                    cfg.think.0
                        + Duration::from_millis(if span == 0 {
                            0
                        } else {
                            xorshift(&mut x) % span
                        })
                })
                .collect();
            (word, pauses)
        })
        .collect()
}

/// Replays the typing session against `run`; `progress` is told of every
/// finished call.
pub async fn replay(
    run: &Running,
    cfg: &DemoConfig,
    mode: &'static str,
    progress: impl Fn(usize, usize) + Send + Sync + 'static,
) -> Session {
    let script = script(cfg);
    let total: usize = script
        .iter()
        .map(|(w, _)| w.chars().count().min(cfg.keystrokes))
        .sum();
    let records = Arc::new(Mutex::new(Vec::new()));
    let progress = Arc::new(progress);
    let started = Instant::now();
    let mut users = Vec::new();
    for (user, (word, pauses)) in script.into_iter().enumerate() {
        let records = records.clone();
        let progress = progress.clone();
        let prefixes: Vec<String> = word
            .char_indices()
            .map(|(i, c)| word[..i + c.len_utf8()].to_owned())
            .take(cfg.keystrokes)
            .collect();
        let run_driver = run.driver.clone();
        let ac = run.autocomplete;
        let (limit, timeout) = (cfg.limit, cfg.timeout);
        users.push(tokio::spawn(async move {
            let r = Running {
                driver: run_driver,
                autocomplete: ac,
                sources: Vec::new(),
            };
            for (prefix, pause) in prefixes.into_iter().zip(pauses) {
                tokio::time::sleep(pause).await;
                let start = started.elapsed();
                let outcome = match r.complete(&prefix, limit, timeout) {
                    Ok(call) => Running::completion(call).await.map_err(|e| e.headline()),
                    Err(e) => Err(e.headline()),
                };
                let end = started.elapsed();
                let mut recs = records.lock().await;
                recs.push(CallRecord {
                    user,
                    prefix,
                    start,
                    end,
                    outcome,
                });
                progress(recs.len(), total);
            }
        }));
    }
    for u in users {
        let _ = u.await;
    }
    let wall = started.elapsed();
    let mut calls = records.lock().await.clone();
    calls.sort_by_key(|c| c.start);
    Session { mode, wall, calls }
}

fn status_letter(c: &CallRecord) -> char {
    match &c.outcome {
        Err(_) => 'x',
        Ok(done) if done.cached => 'c',
        Ok(done) if done.sources.iter().any(|s| matches!(s.1, Status::TimedOut)) => 't',
        Ok(done)
            if done
                .sources
                .iter()
                .any(|s| matches!(s.1, Status::Failed(_))) =>
        {
            'f'
        }
        Ok(_) => 'o',
    }
}

/// One row per user, one column per slice of the session: each of the
/// user's calls starts with its outcome's letter and runs on with `#` for
/// as long as it was in flight, so calls that follow each other closely
/// stay apart.
pub fn terminal_timeline(s: &Session, users: usize, width: usize) -> String {
    let mut out = String::new();
    let span = s.wall.as_secs_f64().max(1e-9);
    let _ = writeln!(
        out,
        "  mode {} ({:.2} s across; one row per user; each call is its outcome's letter, then # while in flight:\n  \
         o ok, t a source timed out, c from the cache, f a source failed, x an error)",
        s.mode, span
    );
    let column = |t: Duration| ((t.as_secs_f64() / span) * width as f64) as usize;
    for user in 0..users {
        let mut row = vec![' '; width];
        for c in s.calls.iter().filter(|c| c.user == user) {
            let a = column(c.start).min(width - 1);
            let b = column(c.end).clamp(a + 1, width);
            row[a] = status_letter(c);
            for cell in &mut row[a + 1..b] {
                *cell = '#';
            }
        }
        let _ = writeln!(
            out,
            "  user{user:02} |{}|",
            row.into_iter().collect::<String>()
        );
    }
    out
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The timeline as SVG: one lane per call, mode S above mode C, each panel
/// on its own time axis.
pub fn svg_timeline(sessions: &[&Session]) -> String {
    let (width, lane, gap, left) = (1000.0, 6.0, 40.0, 150.0);
    let plot = width - left - 20.0;
    let mut y = 20.0;
    let mut body = String::new();
    for s in sessions {
        let span = s.wall.as_secs_f64().max(1e-9);
        let title = format!(
            "mode {}: {} calls into one instance, {:.2} s, p50 {:.0} ms, p99 {:.0} ms",
            s.mode,
            s.calls.len(),
            span,
            s.percentile(50.0).as_secs_f64() * 1e3,
            s.percentile(99.0).as_secs_f64() * 1e3
        );
        let _ = writeln!(
            body,
            r#"<text x="10" y="{y}" font-size="14" font-weight="bold">{}</text>"#,
            escape(&title)
        );
        y += 10.0;
        let top = y;
        for (i, c) in s.calls.iter().enumerate() {
            let x0 = left + c.start.as_secs_f64() / span * plot;
            let w = ((c.end - c.start).as_secs_f64() / span * plot).max(1.0);
            let colour = match status_letter(c) {
                'c' => "#3a3",
                't' => "#e90",
                'f' => "#c33",
                'x' => "#900",
                _ => "#36c",
            };
            let ly = top + i as f64 * lane;
            let _ = writeln!(
                body,
                r#"<rect x="{x0:.1}" y="{ly:.1}" width="{w:.1}" height="{:.1}" fill="{colour}"><title>user{:02} "{}" {:.0} ms</title></rect>"#,
                lane - 1.0,
                c.user,
                escape(&c.prefix),
                c.latency().as_secs_f64() * 1e3
            );
        }
        let bottom = top + s.calls.len() as f64 * lane;
        for t in 0..=4 {
            let x = left + plot * f64::from(t) / 4.0;
            let _ = writeln!(
                body,
                r##"<line x1="{x:.1}" y1="{top:.1}" x2="{x:.1}" y2="{bottom:.1}" stroke="#ccc"/>"##
            );
            let _ = writeln!(
                body,
                r#"<text x="{x:.1}" y="{:.1}" font-size="10" text-anchor="middle">{:.0} ms</text>"#,
                bottom + 12.0,
                span * 1e3 * f64::from(t) / 4.0
            );
        }
        let _ = writeln!(
            body,
            r#"<text x="10" y="{:.1}" font-size="11">one lane per call, in start order</text>"#,
            top + 12.0
        );
        y = bottom + gap;
    }
    let legend = r##"<text x="10" y="{Y}" font-size="11"><tspan fill="#36c">■ all sources</tspan>  <tspan fill="#e90">■ a source timed out</tspan>  <tspan fill="#c33">■ a source failed</tspan>  <tspan fill="#3a3">■ from the cache</tspan></text>"##
        .replace("{Y}", &format!("{y:.1}"));
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{:.0}\" font-family=\"sans-serif\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n{body}{legend}\n</svg>\n",
        y + 20.0
    )
}

fn summary_line(c: &CallRecord) -> String {
    match &c.outcome {
        Err(e) => format!("error: {e}"),
        Ok(done) => {
            let words: Vec<&str> = done.texts().into_iter().take(4).collect();
            let late: Vec<&str> = done
                .sources
                .iter()
                .filter(|s| s.1 != Status::Ok)
                .map(|s| s.0.as_str())
                .collect();
            let mut s = words.join(", ");
            if !late.is_empty() {
                let _ = write!(s, "  (without {})", late.join(", "));
            }
            if done.cached {
                s.push_str("  (cached)");
            }
            s
        }
    }
}

/// Runs the whole demo and prints it; returns the two sessions.
pub async fn run(
    harness: &Harness,
    wasm_dir: &Path,
    words_dir: &Path,
    cfg: &DemoConfig,
) -> Result<(Session, Session)> {
    let server = SuggestServer::start(cfg.server.clone()).await?;
    let env = Environment {
        words_dir: words_dir.to_owned(),
        suggest_url: server.url(),
        slow_delay: cfg.slow_delay,
    };
    println!(
        "\n{} users type into ONE autocomplete instance ({} keystrokes each, timeout {} ms, slow source {} ms)",
        cfg.users,
        cfg.keystrokes,
        cfg.timeout.as_millis(),
        cfg.slow_delay.as_millis()
    );
    let c = start_concurrent(harness, &Components::in_dir(wasm_dir, true), &env).await?;
    c.warm().await?;
    let calls_c = replay(&c, cfg, "C", |done, total| progress("mode C", done, total)).await;
    end_progress();
    let s = start_standard(harness, &Components::in_dir(wasm_dir, false), &env).await?;
    s.warm().await?;
    let calls_s = replay(&s, cfg, "S", |done, total| progress("mode S", done, total)).await;
    end_progress();

    println!("\nwhat the users saw (mode C, each user's last keystroke):");
    for user in 0..cfg.users {
        if let Some(last) = calls_c
            .calls
            .iter()
            .filter(|c| c.user == user)
            .max_by_key(|c| c.start)
        {
            println!(
                "  user{user:02} {:<8} -> {}",
                format!("{:?}", last.prefix),
                summary_line(last)
            );
        }
    }
    println!();
    print!("{}", terminal_timeline(&calls_s, cfg.users, 60));
    print!("{}", terminal_timeline(&calls_c, cfg.users, 60));
    let svg = svg_timeline(&[&calls_s, &calls_c]);
    std::fs::write(&cfg.svg, svg).map_err(|source| Error::Io {
        path: cfg.svg.clone(),
        source,
    })?;
    println!("\ntimeline: {}", cfg.svg.display());
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "\n  mode S: {:>8.0} ms wall   p50 {:>6.0} ms   p99 {:>6.0} ms",
        ms(calls_s.wall),
        ms(calls_s.percentile(50.0)),
        ms(calls_s.percentile(99.0))
    );
    println!(
        "  mode C: {:>8.0} ms wall   p50 {:>6.0} ms   p99 {:>6.0} ms",
        ms(calls_c.wall),
        ms(calls_c.percentile(50.0)),
        ms(calls_c.percentile(99.0))
    );
    println!(
        "  one instance in mode C served the session {:.1}x faster than in mode S",
        calls_s.wall.as_secs_f64() / calls_c.wall.as_secs_f64()
    );
    Ok((calls_s, calls_c))
}

fn progress(label: &str, done: usize, total: usize) {
    use std::io::IsTerminal;
    if std::io::stderr().is_terminal() {
        eprint!("\r  {label}: {done}/{total} calls");
    } else if done == total || done.is_multiple_of((total / 4).max(1)) {
        eprintln!("  {label}: {done}/{total} calls");
    }
}

fn end_progress() {
    use std::io::IsTerminal;
    if std::io::stderr().is_terminal() {
        eprintln!();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(
        user: usize,
        start_ms: u64,
        end_ms: u64,
        outcome: Result<Completion, String>,
    ) -> CallRecord {
        CallRecord {
            user,
            prefix: "p".into(),
            start: Duration::from_millis(start_ms),
            end: Duration::from_millis(end_ms),
            outcome,
        }
    }

    fn done() -> Completion {
        Completion {
            suggestions: Vec::new(),
            sources: vec![("dict".into(), Status::Ok, 0)],
            cached: false,
        }
    }

    #[test]
    fn the_terminal_timeline_shows_each_call_where_it_ran() {
        let session = Session {
            mode: "S",
            wall: Duration::from_millis(100),
            calls: vec![
                call(0, 0, 30, Ok(done())),
                call(0, 30, 50, Err("boom".into())),
                call(
                    1,
                    50,
                    100,
                    Ok(Completion {
                        cached: true,
                        ..done()
                    }),
                ),
            ],
        };
        let text = terminal_timeline(&session, 2, 10);
        let rows: Vec<&str> = text.lines().filter(|l| l.starts_with("  user")).collect();
        assert_eq!(
            rows,
            ["  user00 |o##x#     |", "  user01 |     c####|"],
            "{text}"
        );
    }
}
