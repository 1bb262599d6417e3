//! `bench http`: the autocomplete served over HTTP (`autocomplete-http`
//! composed in front of `autocomplete` and its sources), on loopback, in
//! mode S (a `wasi:http/incoming-handler@0.2` proxy: one instance per
//! request) and mode N (a `wasi:http/handler@0.3` service, whose requests
//! one instance overlaps), each by the harness's server and by the stock
//! `wasmtime serve`. A Rust client sends a bounded burst of
//! `GET /complete` requests over `concurrency` keep-alive connections and
//! measures each request from send to the end of its body.
//!
//! Instances are counted the same way for every host: the guest reports
//! its instance in `x-instance`, and the distinct values are counted (the
//! instance the warm-up request made may serve the burst too).

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

use super::Sink;
use crate::autocomplete::{Components, Environment, compose_http};
use crate::demo::percentile;
use crate::error::{Error, Result};
use crate::guests::Guests;
use crate::http_client::Connection;
use crate::suggest_server::{ServerConfig, SuggestServer};
use crate::{Harness, wasmtime_cli};

/// What `bench http` runs.
///
/// # Examples
///
/// ```no_run
/// # async fn demo() -> wasync_harness::Result<()> {
/// use wasync_harness::bench::http::{Options, run};
///
/// let rows = run(&Options {
///     json: true,
///     requests: 50,
///     concurrency: 4,
///     guests: wasync_build::GuestProfile::Release,
/// })
/// .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Options {
    /// Print one JSON object per line instead of a table.
    pub json: bool,
    /// Requests in the burst.
    pub requests: usize,
    /// Connections sending at once.
    pub concurrency: usize,
    /// How the guests are built (`--guest-profile`).
    pub guests: wasync_build::GuestProfile,
}

/// The component's wait for its sources, and the slow source's delay:
/// short, since in mode S a request waits for every source in turn.
const TIMEOUT: Duration = Duration::from_millis(150);
const SLOW: Duration = Duration::from_millis(50);

/// What one burst measured.
struct Measured {
    latencies: Vec<Duration>,
    wall: Duration,
    /// Distinct `x-instance` values the guest reported.
    instances_seen: usize,
}

/// Sends `requests` requests over `concurrency` connections to `addr`.
async fn burst(addr: SocketAddr, requests: usize, concurrency: usize) -> Result<Measured> {
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..concurrency.max(1))
        .map(|_| {
            let next = next.clone();
            tokio::spawn(async move {
                let mut conn = Connection::open(addr).await?;
                let mut out = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= requests {
                        return Ok::<_, Error>(out);
                    }
                    let path = format!("/complete?prefix={}&limit=5", prefix(i));
                    let sent = Instant::now();
                    let r = conn.fetch("GET", &path, Bytes::new()).await?;
                    if r.status != 200 {
                        return Err(Error::Config(format!(
                            "GET {path} answered {}: {}",
                            r.status,
                            r.text()
                        )));
                    }
                    let instance = r.header("x-instance").unwrap_or_default().to_owned();
                    out.push((sent.elapsed(), instance));
                }
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut instances = HashSet::new();
    for w in workers {
        let done = w
            .await
            .map_err(|e| Error::Config(format!("a client task failed: {e}")))??;
        for (latency, instance) in done {
            latencies.push(latency);
            instances.insert(instance);
        }
    }
    Ok(Measured {
        latencies,
        wall: start.elapsed(),
        instances_seen: instances.len(),
    })
}

/// Distinct two-letter prefixes, cycling.
fn prefix(i: usize) -> String {
    let letters = b"abcdefghijklmnoprstuw";
    let a = letters[i / letters.len() % letters.len()] as char;
    let b = letters[i % letters.len()] as char;
    format!("{a}{b}")
}

/// Starts `wasmtime serve` on a free loopback port and returns the process
/// and its address, read from the line it prints when it listens.
async fn start_wasmtime_serve(
    wasmtime: &Path,
    component: &Path,
    env: &Environment,
) -> Result<(tokio::process::Child, SocketAddr)> {
    let mut cmd = tokio::process::Command::new(wasmtime);
    cmd.arg("serve")
        .arg("--addr=127.0.0.1:0")
        .arg("-Scli")
        .arg(format!("--dir={}::/words", env.words_dir.display()))
        .arg(format!("--env=SUGGEST_URL={}", env.suggest_url))
        .arg(format!(
            "--env=SLOW_DELAY_MS={}",
            env.slow_delay.as_millis()
        ))
        .arg(format!("--env=TIMEOUT_MS={}", TIMEOUT.as_millis()))
        .arg(component)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .map_err(|e| Error::Config(format!("cannot start {}: {e}", wasmtime.display())))?;
    let stderr = child
        .stderr
        .take()
        .ok_or_else(|| Error::Config("no stderr".into()))?;
    let mut lines = BufReader::new(stderr).lines();
    let addr = tokio::time::timeout(Duration::from_secs(60), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(addr) = serving_addr(&line) {
                return Some(addr);
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
    .ok_or_else(|| Error::Config("`wasmtime serve` did not say where it listens".into()))?;
    // Its log goes on to stderr: keep reading it, or it would block.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok((child, addr))
}

/// The address in `wasmtime serve`'s `Serving HTTP on http://ADDR/`.
///
/// # Examples
///
/// ```
/// use wasync_harness::bench::http::serving_addr;
///
/// let addr = serving_addr("Serving HTTP on http://127.0.0.1:8080/").unwrap();
/// assert_eq!(addr.port(), 8080);
/// ```
pub fn serving_addr(line: &str) -> Option<SocketAddr> {
    let rest = line.split("http://").nth(1)?;
    rest.trim_end_matches('/').trim().parse().ok()
}

/// Runs the benchmark and returns the rows it printed.
///
/// # Examples
///
/// ```no_run
/// # async fn demo() -> wasync_harness::Result<()> {
/// let opts = wasync_harness::bench::http::Options {
///     json: false,
///     requests: 200,
///     concurrency: 8,
///     guests: wasync_build::GuestProfile::Release,
/// };
/// wasync_harness::bench::http::run(&opts).await?;
/// # Ok(()) }
/// ```
pub async fn run(opts: &Options) -> Result<Vec<Value>> {
    let guests = Guests::build(opts.guests, !opts.json)?;
    let pipeline = guests.pipeline();
    let compose = |front: &str, parts: &Components| -> Result<std::path::PathBuf> {
        let composed = compose_http(&guests.path(front)?, parts)?;
        let path = pipeline.wasm_dir().join(format!("{front}-composed.wasm"));
        std::fs::write(&path, &composed).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        Ok(path)
    };
    let composed_path = compose(
        "autocomplete-http",
        &Components::in_dir(&pipeline.wasm_dir(), false),
    )?;
    let composed_n = compose(
        "autocomplete-http-n",
        &Components::native_in_dir(&pipeline.wasm_dir()),
    )?;
    let suggest = SuggestServer::start(ServerConfig {
        latency: Duration::from_millis(10),
        jitter: Duration::ZERO,
        ..ServerConfig::default()
    })
    .await?;
    let env = Environment {
        words_dir: pipeline.word_list_dir(),
        suggest_url: suggest.url(),
        slow_delay: SLOW,
    };
    let mut sink = Sink::new(opts.json);
    sink.heading(&format!(
        "http: {} GET /complete over {} connections (timeout {} ms, slow source {} ms)\n  {:<4} {:<16} {:>9} {:>9} {:>9} {:>10}",
        opts.requests,
        opts.concurrency,
        TIMEOUT.as_millis(),
        SLOW.as_millis(),
        "mode",
        "host",
        "p50_ms",
        "p99_ms",
        "rps",
        "instances"
    ));
    let emit = |sink: &mut Sink, mode: &str, host: &str, m: &Measured, instances: u64| {
        let ms = |d: Duration| (d.as_secs_f64() * 1e4).round() / 10.0;
        let rps = (m.latencies.len() as f64 / m.wall.as_secs_f64() * 10.0).round() / 10.0;
        let row = json!({
            "bench": "http", "mode": mode, "host": host,
            "requests": m.latencies.len(), "concurrency": opts.concurrency,
            "p50_ms": ms(percentile(m.latencies.clone(), 50.0)),
            "p99_ms": ms(percentile(m.latencies.clone(), 99.0)),
            "rps": rps, "instances": instances,
        });
        sink.row(row, |r| {
            format!(
                "  {:<4} {:<16} {:>9} {:>9} {:>9} {:>10}",
                mode,
                host,
                // A JSON value's `Display` ignores widths: pad its text.
                r["p50_ms"].to_string(),
                r["p99_ms"].to_string(),
                r["rps"].to_string(),
                r["instances"].to_string()
            )
        });
    };

    let harness = Harness::new()?;
    let mut wasi = env.wasi();
    wasi.env
        .push(("TIMEOUT_MS".into(), TIMEOUT.as_millis().to_string()));
    for (mode, component) in [("S", &composed_path), ("N", &composed_n)] {
        let loaded = harness.load(component)?;
        let server = harness
            .serve(&loaded, SocketAddr::from(([127, 0, 0, 1], 0)), &wasi)
            .await?;
        // One request first, so that compiling is not in the figures.
        burst(server.addr(), 1, 1).await?;
        let m = burst(server.addr(), opts.requests, opts.concurrency).await?;
        emit(&mut sink, mode, "harness", &m, m.instances_seen as u64);
    }

    match wasmtime_cli::find() {
        Some(wasmtime) => {
            for (mode, component) in [("S", &composed_path), ("N", &composed_n)] {
                let (child, addr) = start_wasmtime_serve(&wasmtime, component, &env).await?;
                burst(addr, 1, 1).await?;
                let m = burst(addr, opts.requests, opts.concurrency).await?;
                emit(
                    &mut sink,
                    mode,
                    "wasmtime-serve",
                    &m,
                    m.instances_seen as u64,
                );
                drop(child);
            }
        }
        None => {
            let note = format!(
                "wasmtime serve: skipped, the CLI is not installed ({})",
                wasmtime_cli::INSTALL_HINT
            );
            if opts.json {
                eprintln!("{note}");
            } else {
                sink.note(&note);
            }
        }
    }
    Ok(sink.into_rows())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_comes_from_wasmtime_serves_line() {
        assert_eq!(
            serving_addr("Serving HTTP on http://127.0.0.1:41234/"),
            Some(SocketAddr::from(([127, 0, 0, 1], 41234)))
        );
        assert_eq!(serving_addr("compiling..."), None);
    }

    #[test]
    fn prefixes_are_distinct_over_a_burst() {
        let all: HashSet<String> = (0..400).map(prefix).collect();
        assert_eq!(all.len(), 400);
    }
}
