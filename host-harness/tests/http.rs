//! HTTP services: `#[wasync::http_service]` exports
//! `wasi:http/incoming-handler` (modes S and C), which the harness serves
//! with one instance per request, and in mode N `wasi:http/handler@0.3`,
//! which the harness serves with instances shared by overlapping
//! requests; the stock `wasmtime serve` serves all three. Bodies stream
//! both ways, and a response goes out before its body is written.

mod common;

use std::net::SocketAddr;
use std::sync::LazyLock;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use wasync_harness::http_client::{Connection, fetch};
use wasync_harness::{Harness, WasiOptions};

static HARNESS: LazyLock<Harness> = LazyLock::new(|| Harness::new().expect("engine"));

use common::LOOPBACK;

/// The harness serving `path` with captured output.
async fn serve(path: &str) -> wasync_harness::serve::Server {
    let loaded = HARNESS.load(path).unwrap();
    HARNESS
        .serve(&loaded, LOOPBACK, &WasiOptions::captured())
        .await
        .unwrap()
}

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
        let server = serve(path).await;
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
async fn the_harness_serves_a_mode_n_http_service_as_it_serves_mode_s() {
    let server = serve(test_programs::HTTP_SERVICE_N).await;
    check_service(server.addr()).await;
    let stats = server.stats();
    assert_eq!(stats.failures.load(Ordering::Relaxed), 0);
    // One after another, so an instance has room for each: the first
    // serves them (a second one only if the first retired in a pause).
    let requests = stats.requests.load(Ordering::Relaxed);
    let made = stats.instances.load(Ordering::Relaxed);
    assert!(made < requests, "{made} instances for {requests} requests");
}

/// `n` requests for `path` at once, each on a connection of its own.
async fn at_once(
    addr: SocketAddr,
    n: usize,
    path: &str,
) -> Vec<wasync_harness::http_client::Fetched> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let path = path.to_owned();
            tokio::spawn(async move { fetch(addr, "GET", &path, Bytes::new()).await.unwrap() })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_overlapping_requests_shares_mode_n_instances() {
    let server = serve(test_programs::HTTP_SERVICE_N).await;
    let requests = 24;
    let answers = at_once(server.addr(), requests, "/sleep?ms=300").await;
    for r in &answers {
        assert_eq!((r.status, r.text().as_str()), (200, "slept 300 ms\n"));
    }
    let stats = server.stats();
    let made = stats.instances.load(Ordering::Relaxed);
    assert_eq!(stats.requests.load(Ordering::Relaxed), requests as u64);
    // An instance takes 16 at once: 2 when the burst overlaps fully, fewer
    // if the requests trickle in; never one per request.
    assert!(
        (1..=requests as u64 / 2).contains(&made),
        "{made} instances for {requests} requests"
    );
    // The guest agrees: its instances each served several requests.
    let seen: std::collections::HashSet<&str> = answers
        .iter()
        .map(|r| r.header("x-instance").unwrap())
        .collect();
    assert_eq!(seen.len() as u64, made);
    // In mode S each of them gets an instance of its own.
    let server = serve(test_programs::HTTP_SERVICE).await;
    at_once(server.addr(), 4, "/sleep?ms=10").await;
    assert_eq!(server.stats().instances.load(Ordering::Relaxed), 4);
}

/// Sends a body in pieces on one request and reads each piece's echo
/// before it sends the next: the response streams while the request body
/// is still being written.
async fn echo_piece_by_piece(addr: SocketAddr) {
    use http_body_util::{BodyExt, StreamBody};
    use hyper::body::Frame;

    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let (pieces, rx) =
        futures::channel::mpsc::unbounded::<Result<Frame<Bytes>, std::convert::Infallible>>();
    let req = http::Request::builder()
        .method("POST")
        .uri("/echo")
        .header(http::header::HOST, addr.to_string())
        .body(StreamBody::new(rx))
        .unwrap();
    let send = |text: &str| {
        pieces
            .unbounded_send(Ok(Frame::data(Bytes::from(text.to_owned()))))
            .unwrap()
    };
    send("piece 0;");
    let resp = sender.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let mut body = resp.into_body();
    let mut echoed = String::new();
    for i in 1..=4 {
        // What was sent so far comes back before anything more is sent.
        let expected: String = (0..i).map(|j| format!("piece {j};")).collect();
        while echoed.len() < expected.len() {
            let frame = body.frame().await.expect("the echo ended early").unwrap();
            if let Ok(data) = frame.into_data() {
                echoed.push_str(std::str::from_utf8(&data).unwrap());
            }
        }
        assert_eq!(echoed, expected);
        if i < 4 {
            send(&format!("piece {i};"));
        }
    }
    pieces.close_channel();
    let rest = body.collect().await.unwrap().to_bytes();
    assert!(rest.is_empty(), "more after the end: {rest:?}");
}

/// Echoes piece by piece through the server at `addr`, failing (not
/// hanging) if the body does not stream.
async fn echo_streams(addr: SocketAddr, path: &str) {
    tokio::time::timeout(
        std::time::Duration::from_secs(120),
        echo_piece_by_piece(addr),
    )
    .await
    .unwrap_or_else(|_| panic!("{path}: the echo did not stream"));
}

/// Serves `path` with the harness and echoes piece by piece through it.
async fn echo_through_the_harness(path: &str) {
    let server = serve(path).await;
    echo_streams(server.addr(), path).await;
}

#[tokio::test]
async fn a_request_body_streams_through_to_the_response_in_mode_s() {
    echo_through_the_harness(test_programs::HTTP_SERVICE).await;
}

// The stock `wasmtime serve` and the harness both read a 0.3 body as the
// guest offers it; the echo stalled here (issue 12) while the guest's 0.3
// output stream started a write only when polled again, at the next piece.
#[tokio::test]
async fn a_request_body_streams_through_to_the_response_in_mode_n() {
    echo_through_the_harness(test_programs::HTTP_SERVICE_N).await;
}

#[tokio::test]
async fn a_trap_answers_500_and_the_next_request_is_served_in_modes_s_and_n() {
    for path in [test_programs::HTTP_SERVICE, test_programs::HTTP_SERVICE_N] {
        let server = serve(path).await;
        let trapped = fetch(server.addr(), "GET", "/trap", Bytes::new())
            .await
            .unwrap();
        assert_eq!(trapped.status, 500, "{path}");
        assert!(
            trapped.text().contains("the handler trapped on purpose"),
            "{path}: {}",
            trapped.text()
        );
        let hello = fetch(server.addr(), "GET", "/hello", Bytes::new())
            .await
            .unwrap();
        assert_eq!(
            (hello.status, hello.text().as_str()),
            (200, "hello from wasync\n")
        );
        let stats = server.stats();
        assert_eq!(stats.failures.load(Ordering::Relaxed), 1, "{path}");
        // The trapped instance served nothing more.
        assert_eq!(stats.instances.load(Ordering::Relaxed), 2, "{path}");
    }
}

#[tokio::test]
async fn a_mode_n_request_past_the_call_timeout_gets_500_and_the_server_goes_on() {
    let harness = Harness::with_config(wasync_harness::HarnessConfig {
        limits: wasync_harness::Limits {
            call_timeout: Some(std::time::Duration::from_millis(300)),
            ..Default::default()
        },
        ..Default::default()
    })
    .unwrap();
    let loaded = harness.load(test_programs::HTTP_SERVICE_N).unwrap();
    let server = harness
        .serve(&loaded, LOOPBACK, &WasiOptions::captured())
        .await
        .unwrap();
    let slow = fetch(server.addr(), "GET", "/sleep?ms=600000", Bytes::new())
        .await
        .unwrap();
    assert_eq!(slow.status, 500);
    assert!(
        slow.text().contains("call timeout of 300ms"),
        "{}",
        slow.text()
    );
    let hello = fetch(server.addr(), "GET", "/hello", Bytes::new())
        .await
        .unwrap();
    assert_eq!(hello.status, 200);
    assert_eq!(server.stats().instances.load(Ordering::Relaxed), 2);
}

#[tokio::test]
async fn requests_on_one_connection_each_get_a_fresh_instance() {
    let server = serve(test_programs::HTTP_SERVICE).await;
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
        echo_streams(serve.addr, path).await;
    }
}
