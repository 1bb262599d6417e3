//! The autocomplete scenario served over HTTP: `autocomplete-http`
//! composed statically in front of `autocomplete` and its three sources
//! (mode S, and mode N: a `wasi:http/handler@0.3` in front of the mode N
//! builds), with the suggestion server the HTTP source asks; served by the
//! harness and by the stock `wasmtime serve`, both in both modes.

mod common;

use std::net::SocketAddr;
use std::sync::LazyLock;
use std::time::Duration;

use bytes::Bytes;
use common::LOOPBACK;
use wasync_harness::Harness;
use wasync_harness::autocomplete::{Components, Environment, compose_http};
use wasync_harness::http_client::fetch;
use wasync_harness::suggest_server::{ServerConfig, SuggestServer};

static HARNESS: LazyLock<Harness> = LazyLock::new(|| Harness::new().expect("engine"));

/// The suggestion server, the environment, and the composed component
/// (mode S; mode N when `native`) written to a file of the calling test's
/// own (`tag`): the tests run in parallel and each removes its file at the
/// end.
async fn setup(tag: &str, native: bool) -> (SuggestServer, Environment, std::path::PathBuf) {
    let suggest = SuggestServer::start(ServerConfig::default()).await.unwrap();
    let env = Environment {
        words_dir: test_programs::WORDS_DIR.into(),
        suggest_url: suggest.url(),
        slow_delay: Duration::from_millis(50),
    };
    let wasm_dir = std::path::Path::new(test_programs::AUTOCOMPLETE)
        .parent()
        .unwrap();
    let (front, parts) = if native {
        (
            test_programs::AUTOCOMPLETE_HTTP_N,
            Components::native_in_dir(wasm_dir),
        )
    } else {
        (
            test_programs::AUTOCOMPLETE_HTTP,
            Components::in_dir(wasm_dir, false),
        )
    };
    let composed = compose_http(front.as_ref(), &parts).unwrap();
    let path = std::env::temp_dir().join(format!(
        "autocomplete-http-composed-{tag}-{}.wasm",
        std::process::id()
    ));
    std::fs::write(&path, composed).unwrap();
    (suggest, env, path)
}

/// `GET /complete?prefix=was&limit=3`, which must answer JSON.
async fn complete_was(addr: SocketAddr) -> serde_json::Value {
    let r = fetch(
        addr,
        "GET",
        "/complete?prefix=was&limit=3&timeout_ms=2000",
        Bytes::new(),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    serde_json::from_slice(&r.body).unwrap()
}

/// `GET /complete` answers JSON with ranked suggestions and each
/// source's status; a bad query is a 400.
async fn check_autocomplete(addr: SocketAddr) {
    let v = complete_was(addr).await;
    assert_eq!(v["prefix"], "was");
    let suggestions = v["suggestions"].as_array().unwrap();
    assert_eq!(suggestions.len(), 3, "{v}");
    assert!(
        suggestions.iter().all(|s| s["text"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .starts_with("was")),
        "{v}"
    );
    let sources: Vec<(&str, &str)> = v["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["source"].as_str().unwrap(), s["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        sources,
        [("dict", "ok"), ("web", "ok"), ("slow", "ok")],
        "{v}"
    );

    let bad = fetch(addr, "GET", "/complete?limit=3", Bytes::new())
        .await
        .unwrap();
    assert_eq!(bad.status, 400);
    let v: serde_json::Value = serde_json::from_slice(&bad.body).unwrap();
    assert!(
        v["error"].as_str().unwrap().contains("`prefix` is missing"),
        "{v}"
    );
}

#[tokio::test]
async fn the_harness_serves_the_autocomplete_over_http_in_modes_s_and_n() {
    for (tag, native) in [("harness", false), ("harness-n", true)] {
        let (_suggest, env, path) = setup(tag, native).await;
        let loaded = HARNESS.load(&path).unwrap();
        assert_eq!(loaded.is_native(), native);
        let server = HARNESS.serve(&loaded, LOOPBACK, &env.wasi()).await.unwrap();
        check_autocomplete(server.addr()).await;
        std::fs::remove_file(path).unwrap();
    }
}

#[tokio::test]
async fn without_http_access_the_mode_n_autocomplete_reports_its_web_source_failed() {
    let (_suggest, env, path) = setup("harness-n-denied", true).await;
    let loaded = HARNESS.load(&path).unwrap();
    let mut wasi = env.wasi();
    wasi.http = wasync_harness::HttpAccess::None;
    let server = HARNESS.serve(&loaded, LOOPBACK, &wasi).await.unwrap();
    let v = complete_was(server.addr()).await;
    let web = v["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["source"] == "web")
        .unwrap();
    assert_ne!(web["status"], "ok", "{v}");
    std::fs::remove_file(path).unwrap();
}

#[tokio::test]
async fn the_stock_wasmtime_serve_serves_the_autocomplete_over_http_in_modes_s_and_n() {
    let Some(wasmtime) = common::wasmtime_or_skip(
        "the_stock_wasmtime_serve_serves_the_autocomplete_over_http_in_modes_s_and_n",
    ) else {
        return;
    };
    for (tag, native) in [("stock", false), ("stock-n", true)] {
        let (_suggest, env, path) = setup(tag, native).await;
        let extra = [
            format!("--dir={}::/words", env.words_dir.display()),
            format!("--env=SUGGEST_URL={}", env.suggest_url),
            format!("--env=SLOW_DELAY_MS={}", env.slow_delay.as_millis()),
        ];
        let serve = common::WasmtimeServe::start(&wasmtime, path.to_str().unwrap(), &extra).await;
        check_autocomplete(serve.addr).await;
        drop(serve);
        std::fs::remove_file(path).unwrap();
    }
}
