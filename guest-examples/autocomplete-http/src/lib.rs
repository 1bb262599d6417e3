//! The autocomplete as an HTTP service (`#[wasync::http_service]`):
//!
//! `GET /complete?prefix=P&limit=N[&timeout_ms=T]` answers JSON:
//!
//! ```json
//! {"prefix": "wa", "suggestions": [{"text": "wasi", "score": 0.9, "source": "web"}],
//!  "sources": [{"source": "dict", "status": "ok", "suggestions": 5}, ...],
//!  "cached": false}
//! ```
//!
//! The work is the `autocomplete` component's: this one imports its
//! `completer` interface, and is composed statically in front of it and its
//! three sources (`wasync-harness compose`), into one proxy component that
//! `wasmtime serve` runs. A bad query is a `400` with `{"error": ...}`.
//! `timeout_ms` defaults to `$TIMEOUT_MS`, else 150.

mod bindings {
    wasync::generate!({ world: "autocomplete-http", path: "../../wit" });
}

use bindings::examples::wasync::completer::{self, Completion, Status};
use serde::Serialize;
use wasync::http::server::{Request, Response};
use wasync::http::{Body, HeaderValue, StatusCode, header};

#[derive(Serialize)]
struct Suggestion {
    text: String,
    score: f32,
    source: String,
}

#[derive(Serialize)]
struct Source {
    source: String,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    suggestions: u32,
}

#[derive(Serialize)]
struct Answer {
    prefix: String,
    suggestions: Vec<Suggestion>,
    sources: Vec<Source>,
    cached: bool,
}

impl Answer {
    fn new(prefix: String, c: Completion) -> Answer {
        Answer {
            prefix,
            suggestions: c
                .suggestions
                .into_iter()
                .map(|s| Suggestion {
                    text: s.text,
                    score: s.score,
                    source: s.source,
                })
                .collect(),
            sources: c
                .sources
                .into_iter()
                .map(|s| {
                    let (status, error) = match s.status {
                        Status::Ok => ("ok", None),
                        Status::TimedOut => ("timed-out", None),
                        Status::Failed(e) => ("failed", Some(e)),
                    };
                    Source {
                        source: s.source,
                        status,
                        error,
                        suggestions: s.suggestions,
                    }
                })
                .collect(),
            cached: c.cached,
        }
    }
}

/// The query of `/complete`, checked.
struct Query {
    prefix: String,
    limit: u32,
    timeout_ms: u32,
}

fn query(req: &Request<Body>) -> Result<Query, String> {
    let mut prefix = None;
    let mut limit = 5;
    let mut timeout_ms = std::env::var("TIMEOUT_MS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(150);
    let number = |k: &str, v: &str| {
        v.parse::<u32>()
            .map_err(|_| format!("`{k}` must be a number, not `{v}`"))
    };
    let pairs = form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes());
    for (k, v) in pairs {
        match &*k {
            "prefix" => prefix = Some(v.into_owned()),
            "limit" => limit = number(&k, &v)?.min(100),
            "timeout_ms" => timeout_ms = number(&k, &v)?,
            _ => {}
        }
    }
    let prefix = prefix.ok_or("`prefix` is missing: /complete?prefix=wa&limit=5")?;
    Ok(Query {
        prefix,
        limit,
        timeout_ms,
    })
}

fn json(status: StatusCode, value: &impl Serialize) -> Response<Body> {
    let text = serde_json::to_string(value).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    let mut r = Response::new(Body::from(text));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

#[derive(Serialize)]
struct Failure {
    error: String,
}

#[wasync::http_service]
async fn serve(req: Request<Body>) -> Response<Body> {
    let (instance, served) = examples_common::serve_marks(wasync::rand::u64);
    let mut resp = match req.uri().path() {
        "/complete" => match query(&req) {
            Ok(q) => {
                let c = completer::complete(&q.prefix, q.limit, q.timeout_ms).await;
                json(StatusCode::OK, &Answer::new(q.prefix, c))
            }
            Err(error) => json(StatusCode::BAD_REQUEST, &Failure { error }),
        },
        other => json(
            StatusCode::NOT_FOUND,
            &Failure {
                error: format!("no page `{other}`; try /complete?prefix=wa"),
            },
        ),
    };
    let headers = resp.headers_mut();
    headers.insert("x-instance", HeaderValue::from(instance));
    headers.insert("x-served", HeaderValue::from(served));
    resp
}
