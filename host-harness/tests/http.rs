//! HTTP services: `#[wasync::http_service]` exports
//! `wasi:http/incoming-handler` (modes S and C), which the harness serves
//! (one instance per request) and so does the stock `wasmtime serve`; in
//! mode N it exports `wasi:http/handler@0.3`, which the stock
//! `wasmtime serve` serves. Bodies stream both
//! ways, and a response goes out before its body is written.

mod common;

use std::net::SocketAddr;
use std::sync::LazyLock;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use wasync_harness::http_client::{Connection, fetch};
use wasync_harness::{Harness, WasiOptions};

static HARNESS: LazyLock<Harness> = LazyLock::new(|| Harness::new().expect("engine"));

use common::LOOPBACK;

/// Every behaviour of the `http-service` guest, against a server at `addr`.
async fn check_service(addr: SocketAddr) {
    let hello = fetch(addr, "GET", "/hello", Bytes::new()).await.unwrap();
    assert_eq!(
        (hello.status, hello.text().as_str()),
        (200, "hello from wasync\n")
    );
    assert!(hello.header("x-instance").is_some(), "{:?}", hello.headers);

    // A 1 MiB body streams in and straight back out.
    let big: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
    let echoed = fetch(addr, "POST", "/echo", big.clone().into())
        .await
        .unwrap();
    assert_eq!(echoed.status, 200);
    assert!(
        echoed.body == big,
        "the echo differs ({} bytes back)",
        echoed.body.len()
    );

    // The head comes before the body is written: the first piece of the
    // body arrives alone, the next ones 300 ms apart.
    let count = fetch(addr, "GET", "/count?to=4&ms=300", Bytes::new())
        .await
        .unwrap();
    assert_eq!((count.status, count.text().as_str()), (200, "1\n2\n3\n4\n"));
    assert_eq!(count.frames[0].1, "1\n", "frames: {:?}", count.frames);
    assert!(count.frames.len() >= 2, "frames: {:?}", count.frames);

    let r1 = fetch(addr, "GET", "/random", Bytes::new()).await.unwrap();
    let r2 = fetch(addr, "GET", "/random", Bytes::new()).await.unwrap();
    assert_eq!(r1.text().trim().len(), 32, "{}", r1.text());
    assert_ne!(r1.text(), r2.text());

    let failed = fetch(addr, "GET", "/fail", Bytes::new()).await.unwrap();
    assert_eq!(
        (failed.status, failed.text().as_str()),
        (500, "the handler failed on purpose\n")
    );
    let missing = fetch(addr, "GET", "/nowhere", Bytes::new()).await.unwrap();
    assert_eq!(missing.status, 404);
}

#[tokio::test]
async fn the_harness_serves_an_http_service_in_modes_s_and_c() {
    for path in [test_programs::HTTP_SERVICE, test_programs::HTTP_SERVICE_C] {
        let loaded = HARNESS.load(path).unwrap();
        let server = HARNESS
            .serve(&loaded, LOOPBACK, &WasiOptions::captured())
            .await
            .unwrap();
        check_service(server.addr()).await;
        let stats = server.stats();
        assert_eq!(stats.failures.load(Ordering::Relaxed), 0);
        assert_eq!(
            stats.instances.load(Ordering::Relaxed),
            stats.requests.load(Ordering::Relaxed),
            "one instance per request"
        );
    }
}

#[tokio::test]
async fn requests_on_one_connection_each_get_a_fresh_instance() {
    let loaded = HARNESS.load(test_programs::HTTP_SERVICE).unwrap();
    let server = HARNESS
        .serve(&loaded, LOOPBACK, &WasiOptions::captured())
        .await
        .unwrap();
    let mut conn = Connection::open(server.addr()).await.unwrap();
    let mut seen = std::collections::HashSet::new();
    for _ in 0..3 {
        let r = conn.fetch("GET", "/hello", Bytes::new()).await.unwrap();
        assert_eq!(
            r.header("x-served"),
            Some("1"),
            "a fresh instance serves it"
        );
        seen.insert(r.header("x-instance").unwrap().to_owned());
    }
    assert_eq!(seen.len(), 3);
}

#[tokio::test]
async fn a_component_that_is_not_a_proxy_is_refused_with_its_exports() {
    let loaded = HARNESS.load(test_programs::HELLO).unwrap();
    let err = HARNESS
        .serve(&loaded, LOOPBACK, &WasiOptions::captured())
        .await
        .err()
        .unwrap();
    assert_eq!(err.kind(), wasync_harness::ErrorKind::MissingExport);
    assert!(err.to_string().contains("incoming-handler"), "{err}");
}

#[tokio::test]
async fn the_stock_wasmtime_serve_serves_the_same_service_in_every_mode() {
    let Some(wasmtime) =
        common::wasmtime_or_skip("the_stock_wasmtime_serve_serves_the_same_service_in_every_mode")
    else {
        return;
    };
    // Mode C too: an HTTP handler imports nothing of the wasync ABI. Mode N
    // exports `wasi:http/handler@0.3` instead of the 0.2 incoming-handler.
    for path in [
        test_programs::HTTP_SERVICE,
        test_programs::HTTP_SERVICE_C,
        test_programs::HTTP_SERVICE_N,
    ] {
        let serve = common::WasmtimeServe::start(&wasmtime, path, &[]).await;
        check_service(serve.addr).await;
    }
}
