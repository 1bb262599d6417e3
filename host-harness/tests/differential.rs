//! The differential suite: the same scenarios against mode C (the wasync
//! ABI, driven by the harness's event loop) and mode N (native WASI 0.3,
//! driven by wasmtime's `run_concurrent`), built from one source, with the
//! same observable results. The driver API is the same for both.
//!
//! Where mode N legitimately differs, the test says why. The two
//! differences come from the platform, not from wasync:
//! - The host cannot cancel a mode N call it made: wasmtime 48 has no way
//!   to cancel a guest task from the host (wasmtime#11833). Cancellation
//!   *between components* is native in mode N, so those scenarios cancel
//!   from a client component composed in front (`mode-tests-client`).
//! - Mode N components compose statically (wac): one instance, whose inner
//!   components the host cannot call one by one.

use std::sync::LazyLock;
use std::time::Duration;

use wasync_harness::concurrent::{Driver, InstanceId};
use wasync_harness::wasmtime::component::Val;
use wasync_harness::{ErrorKind, Harness, Loaded, WasiOptions, results_to_wave};

static HARNESS: LazyLock<Harness> = LazyLock::new(|| Harness::new().expect("engine"));

const SLOW: &str = "examples:wasync/slow";
const DRIVER: &str = "examples:wasync/slow-driver";
const FRONT: &str = "examples:wasync/frontend";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    C,
    N,
}

const BOTH: [Mode; 2] = [Mode::C, Mode::N];

/// The component `base` built in `mode`.
fn artifact(base: &str, mode: Mode) -> &'static str {
    let suffix = match mode {
        Mode::C => "c",
        Mode::N => "n",
    };
    let name = format!("{base}-{suffix}");
    test_programs::path(&name).unwrap_or_else(|| panic!("the guest pipeline built no {name}"))
}

fn load(base: &str, mode: Mode) -> Loaded {
    let loaded = HARNESS.compile(artifact(base, mode)).unwrap();
    assert_eq!(
        loaded.is_native(),
        mode == Mode::N,
        "{base} in mode {mode:?}"
    );
    loaded
}

/// `chain` composed statically into one mode N component (compiled once per
/// test binary: the harness caches compiled components by content).
fn composed_n(chain: &[&str]) -> Loaded {
    let paths: Vec<std::path::PathBuf> =
        chain.iter().map(|b| artifact(b, Mode::N).into()).collect();
    let bytes = wasync_harness::compose::compose_chain(&paths).unwrap();
    HARNESS.compile_bytes(chain.join("+"), &bytes).unwrap()
}

async fn host_with(loaded: &Loaded) -> (Driver, InstanceId) {
    let mut host = HARNESS.concurrent(&WasiOptions::captured()).unwrap();
    let id = host.add("guest", loaded, &[]).await.unwrap();
    let driver = host.start();
    driver.record_trace(true);
    (driver, id)
}

/// One instance of `mode-tests` in `mode`.
async fn single(mode: Mode) -> (Driver, InstanceId) {
    host_with(&load("mode-tests", mode)).await
}

/// frontend -> [middle ->] backend: host-mediated links in mode C, one
/// static composition in mode N. Returns the driver and the frontend.
async fn composed(mode: Mode, chain: bool) -> (Driver, InstanceId) {
    let mut parts = vec!["compose-frontend"];
    if chain {
        parts.push("compose-middle");
    }
    parts.push("compose-backend");
    if mode == Mode::N {
        return host_with(&composed_n(&parts)).await;
    }
    let mut host = HARNESS.concurrent(&WasiOptions::captured()).unwrap();
    let mut next = None;
    for part in parts.iter().rev() {
        let links: Vec<(&str, InstanceId)> = next
            .map(|id| vec![("examples:wasync/backend", id)])
            .unwrap_or_default();
        next = Some(host.add(part, &load(part, mode), &links).await.unwrap());
    }
    let driver = host.start();
    driver.record_trace(true);
    (driver, next.unwrap())
}

async fn wave(d: &Driver, inst: InstanceId, call: &str) -> String {
    let out = d.call_concurrent_wave(inst, call).unwrap().await.unwrap();
    results_to_wave(&out).unwrap()
}

/// The gauges of a `runtime-stats` record that a leak would move.
fn gauges(stats: &Val) -> Vec<(String, Val)> {
    let Val::Record(fields) = stats else {
        panic!("{stats:?}")
    };
    fields
        .iter()
        .filter(|(n, _)| {
            [
                "live-tasks",
                "live-timers",
                "registered-pollables",
                "waiters",
            ]
            .contains(&n.as_str())
        })
        .cloned()
        .collect()
}

#[tokio::test]
async fn a_later_short_call_overtakes_an_earlier_long_one_in_one_instance() {
    for mode in BOTH {
        let (d, g) = single(mode).await;
        let long = tokio::spawn(
            d.call_concurrent_wave(g, &format!("{SLOW}#sleep-for(300)"))
                .unwrap(),
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(
            wave(&d, g, &format!("{SLOW}#sleep-for(10)")).await,
            "10",
            "{mode:?}"
        );
        assert!(
            !long.is_finished(),
            "{mode:?}: the short call finished first"
        );
        assert_eq!(long.await.unwrap().unwrap(), [Val::U32(300)]);
        let trace = d.trace();
        assert_eq!(trace.len(), 2, "{mode:?}");
        assert!(trace[0].overlaps(&trace[1]), "{mode:?}: {trace:?}");
    }
}

#[tokio::test]
async fn a_call_into_a_proceeds_while_a_awaits_b_and_a_chain_of_three_answers() {
    for mode in BOTH {
        let (d, front) = composed(mode, false).await;
        let relay = tokio::spawn(
            d.call_concurrent_wave(front, &format!(r#"{FRONT}#relay("slow", 300)"#))
                .unwrap(),
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(
            wave(&d, front, &format!("{FRONT}#ping()")).await,
            r#""pong""#
        );
        assert!(
            !relay.is_finished(),
            "{mode:?}: ping overtook the relay waiting on the backend"
        );
        assert_eq!(
            relay.await.unwrap().unwrap(),
            [Val::String("[SLOW]".into())]
        );

        let (d, front) = composed(mode, true).await;
        assert_eq!(
            wave(&d, front, &format!(r#"{FRONT}#relay("far", 5)"#)).await,
            r#""[FAR (via middle)]""#,
            "{mode:?}"
        );
    }
}

/// The callee's gauges after its caller gave up on a call into it: nothing
/// of the call is left. In mode C the host cancels its own call into
/// mode-tests; in mode N the host cannot (wasmtime#11833), so a client
/// component composed in front gives up on its call, natively.
async fn after_one_cancel(mode: Mode) -> Vec<(String, Val)> {
    match mode {
        Mode::C => {
            let (d, g) = single(mode).await;
            let call = d
                .call_concurrent_wave(g, &format!("{SLOW}#sleep-for(60000)"))
                .unwrap();
            assert_eq!(d.stats().await.unwrap().pending_calls, 1);
            call.cancel();
            let stats = d
                .call_concurrent_wave(g, &format!("{SLOW}#stats()"))
                .unwrap()
                .await
                .unwrap();
            gauges(&stats[0])
        }
        Mode::N => {
            let (d, g) = host_with(&composed_n(&["mode-tests-client", "mode-tests"])).await;
            let stats = d
                .call_concurrent_wave(g, &format!("{DRIVER}#cancel-after(60000, 20)"))
                .unwrap()
                .await
                .unwrap();
            gauges(&stats[0])
        }
    }
}

#[tokio::test]
async fn a_cancelled_call_leaves_nothing_behind_in_the_component_that_served_it() {
    let c = after_one_cancel(Mode::C).await;
    let n = after_one_cancel(Mode::N).await;
    assert!(c.iter().all(|(_, v)| *v == Val::U32(0)), "mode C: {c:?}");
    assert_eq!(n, c);
}

#[tokio::test]
async fn ten_thousand_cancelled_calls_leave_nothing_behind() {
    // Mode C: the host starts and drops them; the guest drops their futures.
    let (d, g) = single(Mode::C).await;
    wave(&d, g, &format!("{SLOW}#sleep-for(1)")).await;
    let table_before = d.stats().await.unwrap().table_entries;
    for batch in 0..10 {
        let calls: Vec<_> = (0..1000)
            .map(|i| {
                let ms = 60_000 + batch * 1000 + i;
                d.call_concurrent_wave(g, &format!("{SLOW}#sleep-for({ms})"))
                    .unwrap()
            })
            .collect();
        d.stats().await.unwrap();
        drop(calls);
    }
    let stats = d
        .call_concurrent_wave(g, &format!("{SLOW}#stats()"))
        .unwrap()
        .await
        .unwrap();
    let in_c = gauges(&stats[0]);
    let host = d.stats().await.unwrap();
    assert_eq!(
        (host.table_entries, host.pending_calls),
        (table_before, 0),
        "{host:?}"
    );

    // Mode N: a client in front starts 10,000 calls into mode-tests and
    // gives up on all of them (the host cannot cancel its own calls).
    let (d, g) = host_with(&composed_n(&["mode-tests-client", "mode-tests"])).await;
    wave(&d, g, &format!("{DRIVER}#overlap(1, 1)")).await;
    let table_before = d.stats().await.unwrap().table_entries;
    let stats = d
        .call_concurrent_wave(g, &format!("{DRIVER}#cancel-many(10000, 60000, 200)"))
        .unwrap()
        .await
        .unwrap();
    let in_n = gauges(&stats[0]);
    let host = d.stats().await.unwrap();
    assert_eq!(
        (host.table_entries, host.pending_calls),
        (table_before, 0),
        "{host:?}"
    );

    assert!(
        in_c.iter().all(|(_, v)| *v == Val::U32(0)),
        "mode C: {in_c:?}"
    );
    assert_eq!(in_n, in_c);
}

#[tokio::test]
async fn spawned_work_finishes_with_no_call_active() {
    for mode in BOTH {
        let (d, g) = single(mode).await;
        wave(&d, g, &format!("{SLOW}#spawn-later(30)")).await;
        assert_eq!(
            wave(&d, g, &format!("{SLOW}#counter()")).await,
            "0",
            "{mode:?}"
        );
        // No call is active: the host's loop (C) or wasmtime's (N) runs it.
        let mut counter = String::new();
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(20)).await;
            counter = wave(&d, g, &format!("{SLOW}#counter()")).await;
            if counter == "1" {
                break;
            }
        }
        assert_eq!(counter, "1", "{mode:?}: the spawned task never ran");
    }
}

#[tokio::test]
async fn a_call_finished_by_another_calls_progress_is_reported() {
    for mode in BOTH {
        let (d, g) = single(mode).await;
        let waiter = tokio::spawn(
            d.call_concurrent_wave(g, &format!("{SLOW}#wait-signal()"))
                .unwrap(),
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "{mode:?}");
        wave(&d, g, &format!("{SLOW}#signal(42)")).await;
        let out = tokio::time::timeout(Duration::from_secs(10), waiter)
            .await
            .unwrap_or_else(|_| panic!("{mode:?}: the woken call was never reported"));
        assert_eq!(out.unwrap().unwrap(), [Val::U32(42)], "{mode:?}");
    }
}

#[tokio::test]
async fn a_plain_export_barges_in_while_ten_calls_wait_and_disturbs_nothing() {
    for mode in BOTH {
        let (d, g) = single(mode).await;
        let waiting: Vec<_> = (0..10u32)
            .map(|i| {
                d.call_concurrent(g, &format!("{SLOW}#sleep-for"), vec![Val::U32(200 + i)])
                    .unwrap()
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(
            wave(&d, g, &format!(r#"{SLOW}#echo-plain("barge")"#)).await,
            r#""barge""#,
            "{mode:?}"
        );
        let results = futures::future::join_all(waiting).await;
        for (i, r) in results.into_iter().enumerate() {
            assert_eq!(r.unwrap(), [Val::U32(200 + i as u32)], "{mode:?}");
        }
    }
}

#[tokio::test]
async fn a_trap_kills_the_instance_and_later_calls_fail_fast() {
    for mode in BOTH {
        let (d, g) = single(mode).await;
        let pending = d
            .call_concurrent_wave(g, &format!("{SLOW}#sleep-for(60000)"))
            .unwrap();
        let err = d
            .call_concurrent_wave(g, &format!(r#"{SLOW}#boom("bad day")"#))
            .unwrap()
            .await
            .unwrap_err();
        // The panic happens after the call's first wait, so it kills the
        // instance with the call in flight (in mode C in a later entry, in
        // mode N in the store's loop): the call reports the dead instance,
        // with the trap's message.
        assert_eq!(err.kind(), ErrorKind::InstanceDead, "{mode:?}: {err}");
        assert!(
            err.to_string().contains("guest panicked: bad day"),
            "{mode:?}: {err}"
        );
        let pending = tokio::time::timeout(Duration::from_secs(10), pending)
            .await
            .unwrap_or_else(|_| panic!("{mode:?}: the pending call was left hanging"));
        assert_eq!(
            pending.unwrap_err().kind(),
            ErrorKind::InstanceDead,
            "{mode:?}"
        );
        let later = d
            .call_concurrent_wave(g, &format!(r#"{SLOW}#echo("x")"#))
            .unwrap()
            .await
            .unwrap_err();
        assert_eq!(later.kind(), ErrorKind::InstanceDead, "{mode:?}: {later}");
    }
}

#[tokio::test]
async fn typed_calls_behave_the_same_in_both_modes() {
    for mode in BOTH {
        let (d, g) = single(mode).await;
        let echo = d
            .typed::<(String,), (String,)>(g, &format!("{SLOW}#echo"))
            .await
            .unwrap();
        let sleep = d
            .typed::<(u32,), (u32,)>(g, &format!("{SLOW}#sleep-for"))
            .await
            .unwrap();
        let (a, b) = futures::join!(
            sleep.call_concurrent((40,)).unwrap(),
            echo.call_concurrent(("t".into(),)).unwrap()
        );
        assert_eq!(
            (a.unwrap(), b.unwrap()),
            ((40,), ("t".to_owned(),)),
            "{mode:?}"
        );
        let wrong = d
            .typed::<(u32,), (String,)>(g, &format!("{SLOW}#echo"))
            .await
            .err()
            .unwrap();
        assert_eq!(wrong.kind(), ErrorKind::BadArguments, "{mode:?}");
    }
}

#[tokio::test]
async fn a_hundred_thousand_timers_fire_none_early_behind_one_wait_until() {
    let mut reports = Vec::new();
    for mode in BOTH {
        let opts = WasiOptions::captured();
        let waits = opts.waits.clone();
        let mut host = HARNESS.concurrent(&opts).unwrap();
        let g = host
            .add("mode-tests", &load("mode-tests", mode), &[])
            .await
            .unwrap();
        let d = host.start();
        // A thousand timers spread over a second, then a hundred thousand:
        // on a loaded machine the big storm's deadlines may all have passed
        // by the time its tasks first run (timers register lazily), so the
        // small one makes sure some wait on the host.
        let small = wave(&d, g, &format!("{SLOW}#storm(1000, 1000)")).await;
        let big = wave(&d, g, &format!("{SLOW}#storm(100000, 1000)")).await;
        if mode == Mode::N {
            // The harness counts the WASI 0.3 `wait-until`s the instance
            // starts: every timer sits behind at most one at a time.
            assert_eq!(waits.max_outstanding(), 1, "{small} {big}");
            assert!(
                waits.calls() >= 1 && waits.calls() < 101_000,
                "{} wait-untils",
                waits.calls()
            );
            assert_eq!(waits.outstanding(), 0);
        }
        reports.push((small, big));
    }
    assert_eq!(reports[0].0, "{fired: 1000, early: 0}");
    assert_eq!(reports[0].1, "{fired: 100000, early: 0}");
    assert_eq!(reports[1], reports[0]);
}
