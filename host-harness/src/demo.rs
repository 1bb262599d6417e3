//! `wasync-harness demo`: users typing into one autocomplete instance, in
//! modes S, C and N, side by side.
//!
//! Every user types a word one key at a time, pausing between keys; each
//! keystroke asks for completions of what has been typed so far. All users
//! share ONE instance of the autocomplete component. In mode S (static
//! composition, plain WASI 0.2) each call holds the instance until it is
//! done, slow source included; in mode C (host-mediated, the wasync ABI)
//! and in mode N (static composition, native WASI 0.3) calls overlap and
//! the slow source is cut off at the timeout.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use crate::Harness;
use crate::autocomplete::{
    Completion, Components, Environment, Running, Status, start_concurrent, start_native,
    start_standard,
};
use crate::error::{Error, Result};
use crate::suggest_server::{ServerConfig, SuggestServer};
use wasync_lower::Mode;

/// The demo's settings (every one is a CLI flag).
#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// Users typing at once.
    pub users: usize,
    /// Keystrokes per user: prefixes of length 1 up to this.
    pub keystrokes: usize,
    /// Suggestions asked for per call.
    pub limit: u32,
    /// The deadline the component gives its sources.
    pub timeout: Duration,
    /// How long the `slow` source takes to answer.
    pub slow_delay: Duration,
    /// The local HTTP endpoint the `web` source asks.
    pub server: ServerConfig,
    /// Pause between one user's keystrokes, drawn in [min, max].
    pub think: (Duration, Duration),
    /// Seed of the users' keystrokes and pauses, so a run can be repeated.
    pub seed: u64,
    /// Where the SVG timeline is written.
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
    /// Which user typed it.
    pub user: usize,
    /// The prefix sent.
    pub prefix: String,
    /// From the session's start.
    pub start: Duration,
    /// When the answer came, from the session's start.
    pub end: Duration,
    /// The completion, or why the call failed.
    pub outcome: std::result::Result<Completion, String>,
}

impl CallRecord {
    /// How long the user waited.
    pub fn latency(&self) -> Duration {
        self.end - self.start
    }
}

/// One mode's session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The mode's name as the demo prints it.
    pub mode: &'static str,
    /// How long the whole session took.
    pub wall: Duration,
    /// Every call, in the order they finished.
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

/// The SVG's width, its left margin (for labels) and its plot's width.
const SVG_WIDTH: f64 = 1000.0;
const SVG_LEFT: f64 = 150.0;
const SVG_PLOT: f64 = SVG_WIDTH - SVG_LEFT - 20.0;
/// Height of a lane of a per-mode panel (one call) and of a row of the
/// shared panel (one user).
const LANE: f64 = 6.0;
const USER_ROW: f64 = 4.0;

/// One call, placed on the SVG.
#[derive(Debug, Clone, PartialEq)]
struct Bar {
    x: f64,
    y: f64,
    width: f64,
    height: f64,
    colour: &'static str,
    tip: String,
}

impl Bar {
    /// `c` on an axis from 0 to `span` seconds, at height `y`.
    fn of(c: &CallRecord, span: f64, y: f64, height: f64) -> Bar {
        let colour = match status_letter(c) {
            'c' => "#3a3",
            't' => "#e90",
            'f' => "#c33",
            'x' => "#900",
            _ => "#36c",
        };
        Bar {
            x: SVG_LEFT + c.start.as_secs_f64() / span * SVG_PLOT,
            y,
            width: ((c.end - c.start).as_secs_f64() / span * SVG_PLOT).max(1.0),
            height,
            colour,
            tip: format!(
                "user{:02} \"{}\" {:.0} ms",
                c.user,
                c.prefix,
                c.latency().as_secs_f64() * 1e3
            ),
        }
    }

    fn svg(&self) -> String {
        format!(
            r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{}</title></rect>"#,
            self.x,
            self.y,
            self.width,
            self.height,
            self.colour,
            escape(&self.tip)
        )
    }
}

/// The bars of the panel that draws every mode on one time axis, from 0 to
/// the longest session: per mode, one row per user (a user's calls follow
/// one another, so they never overlap in a row), the modes one below the
/// other from `top`. Returns the bars, each mode's label with its height,
/// and where the panel ends.
fn shared_bars(sessions: &[&Session], top: f64) -> (Vec<Bar>, Vec<(String, f64)>, f64) {
    let span = sessions
        .iter()
        .map(|s| s.wall.as_secs_f64())
        .fold(1e-9, f64::max);
    let (mut bars, mut labels, mut y) = (Vec::new(), Vec::new(), top);
    for s in sessions {
        let users = s.calls.iter().map(|c| c.user + 1).max().unwrap_or(0);
        labels.push((
            format!("mode {} ({:.2} s)", s.mode, s.wall.as_secs_f64()),
            y + 10.0,
        ));
        for c in &s.calls {
            let row = y + c.user as f64 * USER_ROW;
            bars.push(Bar::of(c, span, row, USER_ROW - 1.0));
        }
        y += (users as f64 * USER_ROW).max(12.0) + 8.0;
    }
    (bars, labels, y)
}

/// The bars of one mode's panel, on its own time axis: one lane per call,
/// in start order, from `top`.
fn panel_bars(s: &Session, top: f64) -> Vec<Bar> {
    let span = s.wall.as_secs_f64().max(1e-9);
    s.calls
        .iter()
        .enumerate()
        .map(|(i, c)| Bar::of(c, span, top + i as f64 * LANE, LANE - 1.0))
        .collect()
}

/// Five ticks of a time axis spanning `span` seconds, under a plot from
/// `top` to `bottom`.
fn axis(body: &mut String, span: f64, top: f64, bottom: f64) {
    for t in 0..=4 {
        let x = SVG_LEFT + SVG_PLOT * f64::from(t) / 4.0;
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
}

/// The timeline as SVG. First one panel with every mode on the same time
/// axis, so the modes' lengths compare at a glance; then one panel per
/// mode, each on its own time axis for detail, with one lane per call.
pub fn svg_timeline(sessions: &[&Session]) -> String {
    let mut y = 20.0;
    let mut body = String::new();
    let span = sessions
        .iter()
        .map(|s| s.wall.as_secs_f64())
        .fold(1e-9, f64::max);
    let _ = writeln!(
        body,
        r#"<text x="10" y="{y}" font-size="14" font-weight="bold">every mode on one time axis: one row per user</text>"#
    );
    y += 10.0;
    let top = y;
    let (bars, labels, bottom) = shared_bars(sessions, top);
    for (label, ly) in labels {
        let _ = writeln!(
            body,
            r#"<text x="10" y="{ly:.1}" font-size="11">{}</text>"#,
            escape(&label)
        );
    }
    for bar in bars {
        let _ = writeln!(body, "{}", bar.svg());
    }
    axis(&mut body, span, top, bottom);
    y = bottom + 40.0;
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
        for bar in panel_bars(s, top) {
            let _ = writeln!(body, "{}", bar.svg());
        }
        let bottom = top + s.calls.len() as f64 * LANE;
        axis(&mut body, span, top, bottom);
        let _ = writeln!(
            body,
            r#"<text x="10" y="{:.1}" font-size="11">one lane per call, in start order</text>"#,
            top + 12.0
        );
        y = bottom + 40.0;
    }
    let legend = r##"<text x="10" y="{Y}" font-size="11"><tspan fill="#36c">■ all sources</tspan>  <tspan fill="#e90">■ a source timed out</tspan>  <tspan fill="#c33">■ a source failed</tspan>  <tspan fill="#3a3">■ from the cache</tspan></text>"##
        .replace("{Y}", &format!("{y:.1}"));
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{SVG_WIDTH}\" height=\"{:.0}\" font-family=\"sans-serif\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n{body}{legend}\n</svg>\n",
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

/// Runs the whole demo and prints it; returns the sessions of modes S, C
/// and N, in that order.
pub async fn run(
    harness: &Harness,
    wasm_dir: &Path,
    words_dir: &Path,
    cfg: &DemoConfig,
) -> Result<Vec<Session>> {
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
    let c = start_concurrent(
        harness,
        &Components::of_mode(wasm_dir, Mode::Concurrent),
        &env,
    )
    .await?;
    c.warm().await?;
    let calls_c = replay(&c, cfg, "C", |done, total| progress("mode C", done, total)).await;
    end_progress();
    let n = start_native(harness, &Components::of_mode(wasm_dir, Mode::Native), &env).await?;
    n.warm().await?;
    let calls_n = replay(&n, cfg, "N", |done, total| progress("mode N", done, total)).await;
    end_progress();
    let s = start_standard(
        harness,
        &Components::of_mode(wasm_dir, Mode::Standard),
        &env,
    )
    .await?;
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
    let sessions = vec![calls_s, calls_c, calls_n];
    for session in &sessions {
        print!("{}", terminal_timeline(session, cfg.users, 60));
    }
    let svg = svg_timeline(&sessions.iter().collect::<Vec<_>>());
    std::fs::write(&cfg.svg, svg).map_err(|source| Error::Io {
        path: cfg.svg.clone(),
        source,
    })?;
    println!("\ntimeline: {}", cfg.svg.display());
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!();
    for session in &sessions {
        println!(
            "  mode {}: {:>8.0} ms wall   p50 {:>6.0} ms   p99 {:>6.0} ms",
            session.mode,
            ms(session.wall),
            ms(session.percentile(50.0)),
            ms(session.percentile(99.0))
        );
    }
    let wall = |i: usize| sessions[i].wall.as_secs_f64();
    println!(
        "  one instance in mode C served the session {:.1}x faster than in mode S, in mode N {:.1}x",
        wall(0) / wall(1),
        wall(0) / wall(2)
    );
    Ok(sessions)
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

    #[test]
    fn the_shared_panel_draws_every_mode_on_one_time_axis() {
        let slow = Session {
            mode: "S",
            wall: Duration::from_millis(2000),
            calls: vec![
                call(0, 0, 1000, Ok(done())),
                call(1, 1000, 2000, Ok(done())),
            ],
        };
        let fast = Session {
            mode: "C",
            wall: Duration::from_millis(100),
            calls: vec![call(0, 0, 100, Ok(done())), call(1, 0, 100, Ok(done()))],
        };
        let (bars, labels, bottom) = shared_bars(&[&slow, &fast], 0.0);
        assert_eq!(bars.len(), 4);
        // 2 s spans the plot; 100 ms is a twentieth of it in the same panel.
        assert_eq!(bars[1].x + bars[1].width, SVG_LEFT + SVG_PLOT);
        assert!((bars[2].width - SVG_PLOT / 20.0).abs() < 1e-9, "{bars:?}");
        // Each mode has its own rows, one per user, below the one before.
        assert!(bars[2].y > bars[1].y && bars[3].y > bars[2].y);
        assert!(labels[0].0.starts_with("mode S") && labels[1].0.starts_with("mode C"));
        assert!(bottom > bars[3].y + bars[3].height);
        // The per-mode panel keeps each mode on its own axis.
        let own = panel_bars(&fast, 0.0);
        assert_eq!(own[0].width, SVG_PLOT);
    }
}
