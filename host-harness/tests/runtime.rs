//! The wasync runtime in a real host: the `runtime-tests` guest, one export
//! per scenario.

use std::sync::LazyLock;

use wasync_harness::wasmtime::component::Val;
use wasync_harness::{Harness, Instance, Loaded, WasiOptions};

static HARNESS: LazyLock<Harness> = LazyLock::new(|| Harness::new().expect("engine"));
static GUEST: LazyLock<Loaded> =
    LazyLock::new(|| HARNESS.load(test_programs::RUNTIME_TESTS).unwrap());

async fn guest() -> Instance {
    HARNESS
        .instantiate(&GUEST, &WasiOptions::captured())
        .await
        .unwrap()
}

fn field<'a>(record: &'a Val, name: &str) -> &'a Val {
    let Val::Record(fields) = record else {
        panic!("not a record: {record:?}")
    };
    &fields.iter().find(|(n, _)| n == name).unwrap().1
}

fn u64_of(v: &Val) -> u64 {
    match v {
        Val::U64(x) => *x,
        Val::U32(x) => u64::from(*x),
        other => panic!("not an integer: {other:?}"),
    }
}

#[tokio::test]
async fn sleeps_complete_in_deadline_order() {
    let mut g = guest().await;
    let out = g
        .call_wave("sleeps-in-order([200, 50, 150, 100, 50, 250])")
        .await
        .unwrap();
    let order: Vec<u32> = match &out[0] {
        Val::List(items) => items
            .iter()
            .map(|v| match v {
                Val::U32(x) => *x,
                _ => unreachable!(),
            })
            .collect(),
        other => panic!("{other:?}"),
    };
    assert_eq!(order, [50, 50, 100, 150, 200, 250]);
    // Every timer went through the one timer pollable.
    assert_eq!(g.poll_counters().max_list, 1);
}

#[tokio::test]
async fn a_timeout_race_leaves_nothing_registered() {
    let mut g = guest().await;
    assert_eq!(
        g.call("timeout-race", &[]).await.unwrap(),
        [Val::Bool(true)]
    );
    let stats = &g.call("stats", &[]).await.unwrap()[0];
    for gauge in [
        "live-timers",
        "registered-pollables",
        "waiters",
        "live-tasks",
    ] {
        assert_eq!(u64_of(field(stats, gauge)), 0, "{gauge} in {stats:?}");
    }
    assert_eq!(field(stats, "timer-armed"), &Val::Bool(false));
}

#[tokio::test]
async fn a_hundred_thousand_timers_over_a_second_all_fire_none_early() {
    // The benchmark guest's storm, run here for its correctness.
    let bench = HARNESS.load(test_programs::BENCH_WASYNC).unwrap();
    let mut g = HARNESS
        .instantiate(&bench, &WasiOptions::captured())
        .await
        .unwrap();
    let storm = &g.call_wave("timer-storm(100000, 1000, 7)").await.unwrap()[0];
    assert_eq!(u64_of(field(storm, "fired")), 100_000, "{storm:?}");
    assert_eq!(u64_of(field(storm, "early")), 0, "{storm:?}");
    // The report's percentiles are ordered (no timing is asserted).
    let (mean, p99, max) = (
        u64_of(field(storm, "mean-lateness-ns")),
        u64_of(field(storm, "p99-lateness-ns")),
        u64_of(field(storm, "max-lateness-ns")),
    );
    assert!(mean <= max && p99 <= max, "{storm:?}");
    let c = g.poll_counters();
    assert_eq!(c.max_list, 1, "one host pollable for all timers: {c:?}");
    assert!(
        c.polls < 5_000,
        "about one poll per millisecond at most: {c:?}"
    );
}

#[tokio::test]
async fn spawn_join_set_and_abort_behave() {
    let mut g = guest().await;
    let out = g.call("tasks", &[]).await.unwrap();
    let lines: Vec<String> = match &out[0] {
        Val::List(items) => items
            .iter()
            .map(|v| match v {
                Val::String(s) => s.clone(),
                _ => unreachable!(),
            })
            .collect(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        lines,
        [
            "join Ok(42)",
            "abort Err(Cancelled)",
            "joinset [10, 20, 30]",
            "detached ran true",
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_a_real_socket_stream() {
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (mut conn, _) = listener.accept().await.unwrap();
        for part in ["slow ", "and ", "steady"] {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            conn.write_all(part.as_bytes()).await.unwrap();
        }
    });
    let mut g = HARNESS
        .instantiate(
            &GUEST,
            &WasiOptions {
                network: wasync_harness::NetworkAccess::Any,
                ..WasiOptions::captured()
            },
        )
        .await
        .unwrap();
    let out = g.call("tcp-read", &[Val::U16(port)]).await.unwrap();
    server.await.unwrap();
    assert_eq!(
        out,
        [Val::Result(Ok(Some(Box::new(Val::String(
            "slow and steady".into()
        )))))]
    );
    assert!(
        g.poll_counters().polls >= 3,
        "the guest waited in poll between parts"
    );
}

#[tokio::test]
async fn a_task_that_never_yields_to_the_host_still_lets_timers_fire() {
    let mut g = guest().await;
    // Each call returns only because the 20 ms timer fired beside a task
    // that never waits on the host.
    let budget = g.call("budget-fairness", &[]).await.unwrap();
    assert!(u64_of(&budget[0]) > 0, "{budget:?}");
    let yields = g.call("yield-fairness", &[]).await.unwrap();
    assert!(u64_of(&yields[0]) > 0, "{yields:?}");
}

#[tokio::test]
async fn a_task_spawned_in_one_call_finishes_in_a_later_one() {
    let mut g = guest().await;
    g.call("spawn-background", &[Val::U32(10)]).await.unwrap();
    // The second call drives the runtime for 40 ms: the task finishes then.
    let out = g.call("background-count", &[Val::U32(40)]).await.unwrap();
    assert_eq!(out, [Val::U32(1)]);
}

#[tokio::test]
async fn a_stale_handle_does_not_act_on_a_task_that_reuses_its_slot() {
    // On wasm32 a waker's packed key has 10 bits of generation: after
    // 1,024·k reuses of a slot its generation repeats. Handles must not
    // depend on that. 1,023 and 2,047 reuses are where it repeated.
    for reuses in [10, 1_022, 1_023, 1_024, 2_047] {
        for drop_join_handle in [false, true] {
            let mut g = guest().await;
            let out = g
                .call(
                    "stale-handle",
                    &[Val::U32(reuses), Val::Bool(drop_join_handle)],
                )
                .await;
            let what = if drop_join_handle { "drop" } else { "abort" };
            assert_eq!(
                out.map_err(|e| e.to_string()),
                Ok(vec![Val::String(r#"Ok("ran")"#.into())]),
                "{what} through a handle from {reuses} reuses ago"
            );
        }
    }
}

#[tokio::test]
async fn an_async_stream_drops_its_pollable_before_the_stream() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("data.bin"), vec![7u8; 300_000]).unwrap();
    let opts = wasync_harness::WasiOptions {
        dirs: vec![wasync_harness::DirMount {
            host: dir.path().to_owned(),
            guest: "/data".into(),
            read_only: true,
        }],
        ..WasiOptions::captured()
    };
    let mut g = HARNESS.instantiate(&GUEST, &opts).await.unwrap();
    let out = g
        .call_wave(r#"read-file("data.bin", false)"#)
        .await
        .unwrap();
    assert_eq!(out, [Val::Result(Ok(Some(Box::new(Val::U64(300_000)))))]);
    // The hazard is real: the other order traps.
    let mut g = HARNESS.instantiate(&GUEST, &opts).await.unwrap();
    let err = g
        .call_wave(r#"read-file("data.bin", true)"#)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), wasync_harness::ErrorKind::Trap);
    assert!(err.to_string().contains("resource has children"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_into_an_empty_buffer_returns_zero_at_once() {
    use wasync_harness::suggest_server::{ServerConfig, SuggestServer};
    let server = SuggestServer::start(ServerConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("data.bin"), b"some bytes").unwrap();
    let opts = WasiOptions {
        dirs: vec![wasync_harness::DirMount {
            host: dir.path().to_owned(),
            guest: "/data".into(),
            read_only: true,
        }],
        http: wasync_harness::HttpAccess::Loopback,
        ..WasiOptions::captured()
    };
    let mut g = HARNESS.instantiate(&GUEST, &opts).await.unwrap();
    let url = format!("{}/echo", server.url());
    let out = g
        .call(
            "empty-reads",
            &[Val::String("data.bin".into()), Val::String(url)],
        )
        .await
        .unwrap();
    let lines = |v: &[&str]| Val::List(v.iter().map(|s| Val::String((*s).into())).collect());
    assert_eq!(out, [lines(&["file returned 0", "http returned 0"])]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_request_body_streams_out_and_the_response_streams_back() {
    use wasync_harness::suggest_server::{ServerConfig, SuggestServer};
    let server = SuggestServer::start(ServerConfig::default()).await.unwrap();
    // Large enough to need several writes through `check-write`.
    let body: String = (0..40_000)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let opts = WasiOptions {
        http: wasync_harness::HttpAccess::Loopback,
        ..WasiOptions::captured()
    };
    let mut g = HARNESS.instantiate(&GUEST, &opts).await.unwrap();
    let url = format!("{}/echo", server.url());
    let out = g
        .call("http-post", &[Val::String(url), Val::String(body.clone())])
        .await
        .unwrap();
    assert_eq!(out, [Val::Result(Ok(Some(Box::new(Val::String(body)))))]);
}
