//! The HTTP endpoint of the demo's `http-source`: a hyper server on
//! 127.0.0.1 with its own data, and a configurable latency and failure rate
//! per request, so that tests and the demo can make the source slow,
//! failing, or cut off mid-body on purpose.
//!
//! `GET /suggest?prefix=P&limit=N` answers
//! `[{"text": "...", "score": 0.9}, ...]`; `POST /echo` answers with the
//! request's body.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Serialize;

use crate::error::{Error, Result};

/// The endpoint's own data: terms of the WebAssembly ecosystem, most
/// popular first (the score falls with the position).
pub const TERMS: &[&str] = &[
    "webassembly",
    "wasi",
    "wasm component",
    "wasmtime",
    "wit",
    "wit-bindgen",
    "component model",
    "async",
    "async func",
    "autocomplete",
    "wasi http",
    "wasi preview 2",
    "wasi 0.3",
    // Non-ASCII text crosses every boundary intact.
    "ünïcode identifiers",
    "ünïcode strings",
    "wac",
    "wasm-tools",
    "cargo component",
    "jco",
    "wasmer",
    "wasm3",
    "wamr",
    "runtime",
    "rust",
    "rustc",
    "rustup",
    "cargo",
    "crate",
    "tokio",
    "futures",
    "executor",
    "event loop",
    "pollable",
    "poll",
    "stream",
    "streams",
    "resource",
    "resources",
    "interface",
    "world",
    "package",
    "import",
    "export",
    "instance",
    "store",
    "linker",
    "engine",
    "module",
    "memory",
    "table",
    "trap",
    "backtrace",
    "fuel",
    "epoch",
    "fiber",
    "cranelift",
    "winch",
    "pulley",
    "aot",
    "jit",
    "sandbox",
    "capability",
    "preopen",
    "filesystem",
    "sockets",
    "clocks",
    "random",
    "environment",
    "stdout",
    "stderr",
    "stdin",
    "exit",
    "http client",
    "http server",
    "handler",
    "proxy",
    "request",
    "response",
    "headers",
    "body",
    "trailers",
    "timeout",
    "latency",
    "throughput",
    "benchmark",
    "composition",
    "compose",
    "plug",
    "socket",
    "spawn",
    "join",
    "select",
    "sleep",
    "interval",
    "timer",
    "timer wheel",
    "waker",
    "wake",
    "budget",
    "fairness",
    "starvation",
    "cancellation",
    "abort",
];

/// How the endpoint behaves.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Added before every answer.
    pub latency: Duration,
    /// Up to this much more, drawn per request.
    pub jitter: Duration,
    /// Share of requests answered `500 Internal Server Error`.
    pub failure_rate: f64,
    /// Share of requests whose body is cut off halfway.
    pub cut_rate: f64,
    /// Seed of the per-request draws.
    pub seed: u64,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            latency: Duration::from_millis(20),
            jitter: Duration::from_millis(20),
            failure_rate: 0.0,
            cut_rate: 0.0,
            seed: 1,
        }
    }
}

/// What the endpoint served.
#[derive(Debug, Default)]
pub struct ServerStats {
    /// Requests received.
    pub requests: AtomicU64,
    /// Requests answered `500` (the configured failure rate).
    pub failures: AtomicU64,
    /// Responses cut mid-body (the configured cut rate).
    pub cuts: AtomicU64,
}

/// A running endpoint; it stops when this is dropped.
pub struct SuggestServer {
    addr: SocketAddr,
    stats: Arc<ServerStats>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SuggestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Serialize)]
struct Item {
    text: &'static str,
    score: f32,
}

/// The answer for `prefix`: matching terms, most popular first.
pub fn suggest(prefix: &str, limit: usize) -> Vec<(&'static str, f32)> {
    let prefix = prefix.to_lowercase();
    TERMS
        .iter()
        .enumerate()
        .filter(|(_, t)| t.starts_with(&prefix))
        .take(limit)
        .map(|(i, t)| (*t, 0.95 - 0.005 * i as f32))
        .collect()
}

struct Shared {
    config: ServerConfig,
    stats: Arc<ServerStats>,
    draws: AtomicU64,
}

impl Shared {
    /// A deterministic draw in [0, 1) for the next request.
    fn draw(&self) -> f64 {
        let n = self.draws.fetch_add(1, Ordering::Relaxed);
        let mut x = self.config.seed ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}

type Body = http_body_util::combinators::UnsyncBoxBody<Bytes, std::io::Error>;

fn full(status: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(
        Full::new(body.into())
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *r.status_mut() = status;
    r
}

async fn handle(
    shared: Arc<Shared>,
    req: Request<hyper::body::Incoming>,
) -> std::result::Result<Response<Body>, Infallible> {
    shared.stats.requests.fetch_add(1, Ordering::Relaxed);
    if req.uri().path() == "/echo" {
        // Answers with the request's body, for testing request bodies.
        return Ok(match req.into_body().collect().await {
            Ok(body) => full(StatusCode::OK, body.to_bytes()),
            Err(e) => full(StatusCode::BAD_REQUEST, e.to_string()),
        });
    }
    if req.uri().path() != "/suggest" {
        return Ok(full(
            StatusCode::NOT_FOUND,
            "try /suggest?prefix=...&limit=...",
        ));
    }
    let mut prefix = String::new();
    let mut limit = 10usize;
    for (k, v) in form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes()) {
        match &*k {
            "prefix" => prefix = v.into_owned(),
            "limit" => limit = v.parse().unwrap_or(10),
            _ => {}
        }
    }
    let jitter = shared.config.jitter.mul_f64(shared.draw());
    tokio::time::sleep(shared.config.latency + jitter).await;
    if shared.draw() < shared.config.failure_rate {
        shared.stats.failures.fetch_add(1, Ordering::Relaxed);
        return Ok(full(StatusCode::INTERNAL_SERVER_ERROR, "overloaded"));
    }
    let items: Vec<Item> = suggest(&prefix, limit)
        .into_iter()
        .map(|(text, score)| Item { text, score })
        .collect();
    let json = serde_json::to_vec(&items).unwrap_or_else(|_| b"[]".to_vec());
    if shared.draw() < shared.config.cut_rate {
        shared.stats.cuts.fetch_add(1, Ordering::Relaxed);
        // Promise the whole body, send half, then fail the stream: the
        // connection closes mid-body.
        let half = Bytes::copy_from_slice(&json[..json.len() / 2]);
        let frames = futures::stream::iter(vec![
            Ok(Frame::data(half)),
            Err(std::io::Error::other("cut off on purpose")),
        ]);
        let mut r = Response::new(StreamBody::new(frames).boxed_unsync());
        r.headers_mut()
            .insert(hyper::header::CONTENT_LENGTH, json.len().into());
        return Ok(r);
    }
    let mut r = full(StatusCode::OK, json);
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(r)
}

impl SuggestServer {
    /// Starts the endpoint on a free port of 127.0.0.1.
    pub async fn start(config: ServerConfig) -> Result<SuggestServer> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| Error::Config(format!("cannot start the suggestion server: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::Config(format!("cannot start the suggestion server: {e}")))?;
        let stats = Arc::new(ServerStats::default());
        let shared = Arc::new(Shared {
            config,
            stats: stats.clone(),
            draws: AtomicU64::new(0),
        });
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| handle(shared.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(SuggestServer { addr, stats, task })
    }

    /// The base URL, for the guest's `SUGGEST_URL`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What it served so far.
    pub fn stats(&self) -> &ServerStats {
        &self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_match_the_prefix_most_popular_first() {
        let s = suggest("wa", 3);
        assert_eq!(
            s.iter().map(|(t, _)| *t).collect::<Vec<_>>(),
            ["wasi", "wasm component", "wasmtime"]
        );
        assert!(s[0].1 > s[1].1);
        assert!(suggest("zzz", 5).is_empty());
    }
}
