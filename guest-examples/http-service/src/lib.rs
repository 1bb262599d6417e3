//! An HTTP service built with `#[wasync::http_service]`, for the tests and
//! for trying `wasmtime serve`:
//!
//! - `GET /hello`: `hello from wasync`;
//! - `POST /echo`: the request body, streamed back as it arrives;
//! - `GET /count?to=N&ms=M`: the response head at once, then lines `1`
//!   to `N` written by a spawned task, one every `M` ms (the handler returns
//!   before the body is written);
//! - `GET /random`: 16 random bytes from `wasync::rand`, in hex;
//! - `GET /sleep?ms=M`: `slept M ms` after `M` ms (in mode N, one instance
//!   can overlap many of these, since the handler waits without blocking);
//! - `GET /fail`: the handler returns an error (a `500`);
//! - `GET /trap`: the handler panics, which traps the instance;
//! - anything else: `404`.
//!
//! Every response carries `x-instance` (a random id the instance draws on
//! its first request) and `x-served` (requests this instance served), so a
//! client can count the instances that served it.

use std::time::Duration;

use wasync::futures::AsyncWriteExt;
use wasync::http::server::{Request, Response};
use wasync::http::{Body, HeaderValue, StatusCode};

/// The query parameter `name`, as a number.
fn param(req: &Request<Body>, name: &str) -> Option<u64> {
    req.uri().query()?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| v.parse().ok()).flatten()
    })
}

async fn route(req: Request<Body>) -> Result<Response<Body>, String> {
    match req.uri().path() {
        "/hello" => Ok(Response::new("hello from wasync\n".into())),
        "/echo" => Ok(Response::new(req.into_body())),
        "/count" => {
            let to = param(&req, "to").unwrap_or(3);
            let ms = param(&req, "ms").unwrap_or(100);
            let (mut writer, body) = Body::channel(1);
            // Detached: it writes on after the handler returned.
            drop(wasync::spawn(async move {
                for n in 1..=to {
                    wasync::time::sleep(Duration::from_millis(ms)).await;
                    if writer.write_all(format!("{n}\n").as_bytes()).await.is_err() {
                        return; // the client is gone
                    }
                }
            }));
            Ok(Response::new(body))
        }
        "/random" => {
            let mut bytes = [0u8; 16];
            wasync::rand::fill(&mut bytes);
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            Ok(Response::new(format!("{hex}\n").into()))
        }
        "/sleep" => {
            let ms = param(&req, "ms").unwrap_or(100);
            wasync::time::sleep(Duration::from_millis(ms)).await;
            Ok(Response::new(format!("slept {ms} ms\n").into()))
        }
        "/fail" => Err("the handler failed on purpose".to_owned()),
        "/trap" => panic!("the handler trapped on purpose"),
        _ => Ok(Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Body::from("no such page\n"))
            .map_err(|e| e.to_string())?),
    }
}

#[wasync::http_service]
async fn serve(req: Request<Body>) -> Result<Response<Body>, String> {
    let (instance, served) = examples_common::serve_marks(wasync::rand::u64);
    let mut resp = route(req).await?;
    let headers = resp.headers_mut();
    headers.insert("x-instance", HeaderValue::from(instance));
    headers.insert("x-served", HeaderValue::from(served));
    Ok(resp)
}
