//! Mode C: one instance serving overlapping calls, host-mediated
//! composition and cancellation, over the wasync ABI.

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use wasync_harness::concurrent::{Call, Driver, InstanceId};
use wasync_harness::wasmtime::component::Val;
use wasync_harness::{ErrorKind, Harness, Loaded, WasiOptions, results_to_wave};

static HARNESS: LazyLock<Harness> = LazyLock::new(|| Harness::new().expect("engine"));

fn load(path: &str) -> Loaded {
    HARNESS.compile(path).unwrap()
}

static MODE_C: LazyLock<Loaded> = LazyLock::new(|| load(test_programs::MODE_TESTS_C));
static MODE_S: LazyLock<Loaded> = LazyLock::new(|| load(test_programs::MODE_TESTS));

const SLOW: &str = "examples:wasync/slow";

async fn single(loaded: &Loaded) -> (Driver, InstanceId) {
    let mut host = HARNESS.concurrent(&WasiOptions::captured()).unwrap();
    let id = host.add("mode-tests", loaded, &[]).await.unwrap();
    let driver = host.start();
    driver.record_trace(true);
    (driver, id)
}

async fn wave(driver: &Driver, inst: InstanceId, call: &str) -> String {
    let out = driver
        .call_concurrent_wave(inst, call)
        .unwrap()
        .await
        .unwrap();
    results_to_wave(&out).unwrap()
}

/// The long call sleeps two seconds: that, not a race of timers, is the
/// short call's margin to finish first on a loaded machine.
#[tokio::test]
async fn a_later_short_call_overtakes_an_earlier_long_one_in_one_instance() {
    let (d, g) = single(&MODE_C).await;
    let long = d
        .call_concurrent_wave(g, &format!("{SLOW}#sleep-for(2000)"))
        .unwrap();
    let long = tokio::spawn(long);
    tokio::time::sleep(Duration::from_millis(10)).await;
    let short = d
        .call_concurrent_wave(g, &format!("{SLOW}#sleep-for(10)"))
        .unwrap()
        .await
        .unwrap();
    assert_eq!(short, [Val::U32(10)]);
    assert!(
        !long.is_finished(),
        "the short call finished while the long one still waits"
    );
    assert_eq!(long.await.unwrap().unwrap(), [Val::U32(2000)]);
    let trace = d.trace();
    assert_eq!(trace.len(), 2);
    assert!(trace[0].overlaps(&trace[1]));
    assert!(trace[1].end_us < trace[0].end_us);
}

async fn run_many(loaded: &Loaded, calls: usize, ms: u32) -> (Duration, Driver) {
    let (d, g) = single(loaded).await;
    let start = Instant::now();
    let all: Vec<_> = (0..calls)
        .map(|_| {
            d.call_concurrent_wave(g, &format!("{SLOW}#sleep-for({ms})"))
                .unwrap()
        })
        .collect();
    for out in futures::future::join_all(all).await {
        assert_eq!(out.unwrap(), [Val::U32(ms)]);
    }
    (start.elapsed(), d)
}

/// Each mode C call sleeps a second, so that starting all hundred takes
/// far less than one of them even on a loaded machine. Ten mode S calls
/// show that they serialise as well as a hundred would.
#[tokio::test]
async fn a_hundred_sleeping_calls_overlap_in_mode_c_and_serialise_in_mode_s() {
    let (wall, d) = run_many(&MODE_C, 100, 1_000).await;
    let serial = Duration::from_millis(100 * 1_000);
    assert!(wall < serial / 2, "mode C took {wall:?}");
    let trace = d.trace();
    let overlapping = trace.iter().filter(|t| t.overlaps(&trace[0])).count();
    assert!(
        overlapping > 50,
        "most calls ran alongside the first: {overlapping}"
    );

    // Such calls in mode S: one after another.
    let (_, d) = run_many(&MODE_S, 10, 100).await;
    let trace = d.trace();
    for (i, a) in trace.iter().enumerate() {
        for b in &trace[i + 1..] {
            assert!(!a.overlaps(b), "mode S calls must not overlap: {a:?} {b:?}");
        }
    }
}

async fn composed(chain: bool) -> (Driver, InstanceId, InstanceId) {
    let mut host = HARNESS.concurrent(&WasiOptions::captured()).unwrap();
    let back = host
        .add("backend", &load(test_programs::COMPOSE_BACKEND_C), &[])
        .await
        .unwrap();
    let next = if chain {
        host.add(
            "middle",
            &load(test_programs::COMPOSE_MIDDLE_C),
            &[("examples:wasync/backend", back)],
        )
        .await
        .unwrap()
    } else {
        back
    };
    let front = host
        .add(
            "frontend",
            &load(test_programs::COMPOSE_FRONTEND_C),
            &[("examples:wasync/backend", next)],
        )
        .await
        .unwrap();
    let driver = host.start();
    driver.record_trace(true);
    (driver, front, back)
}

/// The relay's backend sleeps two seconds: the ping's margin to overtake
/// it on a loaded machine.
#[tokio::test]
async fn a_call_into_a_proceeds_while_a_awaits_b() {
    let (d, front, back) = composed(false).await;
    let relay = tokio::spawn(
        d.call_concurrent_wave(front, r#"examples:wasync/frontend#relay("slow", 2000)"#)
            .unwrap(),
    );
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(
        wave(&d, front, "examples:wasync/frontend#ping()").await,
        r#""pong""#
    );
    assert!(
        !relay.is_finished(),
        "ping overtook the relay that waits on the backend"
    );
    assert_eq!(
        wave(&d, back, "examples:wasync/backend#in-flight()").await,
        "1"
    );
    assert_eq!(
        relay.await.unwrap().unwrap(),
        [Val::String("[SLOW]".into())]
    );
}

#[tokio::test]
async fn a_chain_of_three_works() {
    let (d, front, _) = composed(true).await;
    assert_eq!(
        wave(&d, front, r#"examples:wasync/frontend#relay("far", 5)"#).await,
        r#""[FAR (via middle)]""#
    );
}

/// Waits until the backend serves one call, for up to 30 s (a signal to
/// wait for, not a delay to guess).
async fn wait_until_in_flight(d: &Driver, back: InstanceId) {
    for _ in 0..6_000 {
        if wave(d, back, "examples:wasync/backend#in-flight()").await == "1" {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("the relay never reached the backend");
}

#[tokio::test]
async fn cancelling_a_call_into_a_cancels_its_call_into_b() {
    let (d, front, back) = composed(false).await;
    let relay = d
        .call_concurrent_wave(front, r#"examples:wasync/frontend#relay("never", 60000)"#)
        .unwrap();
    let relay = tokio::spawn(relay);
    // Let it reach the backend.
    wait_until_in_flight(&d, back).await;
    assert_eq!(
        wave(&d, back, "examples:wasync/backend#in-flight()").await,
        "1"
    );
    relay.abort();
    let _ = relay.await;
    // The cancel travels A -> host -> B before the next request is served.
    assert_eq!(
        wave(&d, back, "examples:wasync/backend#in-flight()").await,
        "0"
    );
    let stats = d.stats().await.unwrap();
    assert_eq!(
        (stats.pending_calls, stats.import_calls),
        (0, 0),
        "{stats:?}"
    );
}

#[tokio::test]
async fn call_cancel_reaches_the_guest() {
    let (d, g) = single(&MODE_C).await;
    let stats_call = format!("{SLOW}#stats");
    let call = d
        .call_concurrent_wave(g, &format!("{SLOW}#sleep-for(60000)"))
        .unwrap();
    assert_eq!(d.stats().await.unwrap().pending_calls, 1);
    call.cancel();
    let stats = d.stats().await.unwrap();
    assert_eq!((stats.pending_calls, stats.parked), (0, 0), "{stats:?}");
    let guest = guest_gauges(
        &d.call_concurrent(g, &stats_call, vec![])
            .unwrap()
            .await
            .unwrap()[0],
    );
    assert!(
        guest.iter().all(|(_, v)| *v == Val::U32(0)),
        "the cancelled sleep left something behind: {guest:?}"
    );
    assert!(
        d.trace().iter().any(|t| t.outcome == "cancelled"),
        "{:?}",
        d.trace()
    );
}

#[tokio::test]
async fn a_caller_that_traps_has_its_calls_into_others_cancelled() {
    let (d, front, back) = composed(false).await;
    let relay = tokio::spawn(
        d.call_concurrent_wave(front, r#"examples:wasync/frontend#relay("never", 60000)"#)
            .unwrap(),
    );
    wait_until_in_flight(&d, back).await;
    let err = d
        .call_concurrent_wave(front, r#"examples:wasync/frontend#relay("panic", 0)"#)
        .unwrap()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Trap, "{err}");
    assert_eq!(
        relay.await.unwrap().unwrap_err().kind(),
        ErrorKind::InstanceDead
    );
    // The dead frontend's call into the backend was cancelled there.
    assert_eq!(
        wave(&d, back, "examples:wasync/backend#in-flight()").await,
        "0"
    );
    let stats = d.stats().await.unwrap();
    assert_eq!(
        (stats.pending_calls, stats.import_calls),
        (0, 0),
        "{stats:?}"
    );
    let gauges = d
        .call_concurrent(back, "gauges", vec![])
        .unwrap()
        .await
        .unwrap();
    assert_eq!(guest_gauges(&gauges[0]).len(), 4);
    assert!(
        guest_gauges(&gauges[0])
            .iter()
            .all(|(_, v)| *v == Val::U32(0)),
        "{gauges:?}"
    );
}

fn guest_gauges(stats: &Val) -> Vec<(String, Val)> {
    let Val::Record(fields) = stats else {
        panic!("{stats:?}")
    };
    fields
        .iter()
        .filter(|(n, _)| {
            [
                "live-tasks",
                "registered-pollables",
                "waiters",
                "live-timers",
            ]
            .contains(&n.as_str())
        })
        .cloned()
        .collect()
}

#[tokio::test]
async fn ten_thousand_cancelled_calls_leak_nothing() {
    let (d, g) = single(&MODE_C).await;
    let stats_call = format!("{SLOW}#stats");
    // Warm up, then take the baseline.
    wave(&d, g, &format!("{SLOW}#sleep-for(1)")).await;
    let host_before = d.stats().await.unwrap();
    let guest_before = guest_gauges(
        &d.call_concurrent(g, &stats_call, vec![])
            .unwrap()
            .await
            .unwrap()[0],
    );
    for batch in 0..10 {
        let calls: Vec<_> = (0..1000)
            .map(|i| {
                d.call_concurrent_wave(
                    g,
                    &format!("{SLOW}#sleep-for({})", 60_000 + batch * 1000 + i),
                )
                .unwrap()
            })
            .collect();
        // Make sure they all started, then drop (cancel) them.
        d.stats().await.unwrap();
        drop(calls);
    }
    let host_after = d.stats().await.unwrap();
    let guest_after = guest_gauges(
        &d.call_concurrent(g, &stats_call, vec![])
            .unwrap()
            .await
            .unwrap()[0],
    );
    assert_eq!(
        host_after.table_entries, host_before.table_entries,
        "{host_after:?}"
    );
    assert_eq!(host_after.pending_calls, 0);
    assert_eq!(guest_after, guest_before);
    // Each of the 10,000 calls was started and then cancelled in the guest.
    assert!(
        host_after.entries >= host_before.entries + 20_000,
        "{host_after:?}"
    );
}

#[tokio::test]
async fn ten_thousand_cancelled_calls_across_a_link_leak_nothing() {
    let (d, front, back) = composed(false).await;
    let gauges = async |inst| {
        guest_gauges(
            &d.call_concurrent(inst, "gauges", vec![])
                .unwrap()
                .await
                .unwrap()[0],
        )
    };
    let batch = async |n: u32| {
        let calls: Vec<_> = (0..1000)
            .map(|i| {
                let ms = 60_000 + n * 1000 + i;
                d.call_concurrent_wave(
                    front,
                    &format!(r#"examples:wasync/frontend#relay("x", {ms})"#),
                )
                .unwrap()
            })
            .collect();
        // Every call has reached the backend before it is cancelled.
        let stats = d.stats().await.unwrap();
        assert_eq!(stats.import_calls, 1000, "{stats:?}");
        drop(calls);
    };
    // One batch first: cancelling a thousand calls in one entry makes the
    // frontend's runtime create the one always-ready pollable it keeps
    // for non-blocking checks. The baseline is the state after that.
    batch(0).await;
    let host_before = d.stats().await.unwrap();
    let (front_before, back_before) = (gauges(front).await, gauges(back).await);
    for n in 1..=10 {
        batch(n).await;
    }
    assert_eq!(
        wave(&d, back, "examples:wasync/backend#in-flight()").await,
        "0"
    );
    let host_after = d.stats().await.unwrap();
    assert_eq!(
        host_after.table_entries, host_before.table_entries,
        "{host_after:?}"
    );
    assert_eq!((host_after.pending_calls, host_after.import_calls), (0, 0));
    assert_eq!(gauges(front).await, front_before);
    assert_eq!(gauges(back).await, back_before);
}

#[tokio::test]
async fn spawned_work_finishes_with_no_call_active() {
    let (d, g) = single(&MODE_C).await;
    // The task sleeps a second: the margin for the next call to see it
    // still waiting.
    wave(&d, g, &format!("{SLOW}#spawn-later(1000)")).await;
    assert_eq!(wave(&d, g, &format!("{SLOW}#counter()")).await, "0");
    assert_eq!(d.stats().await.unwrap().parked, 1, "its timer");
    // No call is active now: only the host loop can run the task. It has
    // run when the instance parks nothing more (asking the host, which
    // enters no guest code).
    let mut waited = Duration::ZERO;
    while d.stats().await.unwrap().parked != 0 {
        assert!(waited < Duration::from_secs(30), "the task never ran");
        tokio::time::sleep(Duration::from_millis(10)).await;
        waited += Duration::from_millis(10);
    }
    assert_eq!(wave(&d, g, &format!("{SLOW}#counter()")).await, "1");
}

#[tokio::test]
async fn a_call_is_started_before_its_future_is_first_polled() {
    let (d, g) = single(&MODE_C).await;
    // Once this call is done the loop is idle, and a call's first poll may
    // run it in the caller's task; a call never polled must start anyway.
    wave(&d, g, &format!("{SLOW}#echo(\"warm\")")).await;
    let before = d.stats().await.unwrap().entries;
    let echo = format!("{SLOW}#echo");
    let call = d
        .call_concurrent(g, &echo, vec![Val::String("x".into())])
        .unwrap();
    // Requests are handled in order: the call's `echo-start` before this.
    let after = d.stats().await.unwrap().entries;
    assert_eq!(after, before + 1, "the unpolled call entered the instance");
    assert_eq!(call.await.unwrap(), [Val::String("x".into())]);
}

/// A mode S sleep blocks inside its entry. The loop is idle before it, so
/// the call's first poll runs it in the caller's task, which leaves it
/// waiting there.
async fn a_blocked_entry_begun_in_place(d: &Driver, g: InstanceId) -> Call<Vec<Val>> {
    wave(d, g, &format!("{SLOW}#echo(\"warm\")")).await;
    let mut sleep = d
        .call_concurrent(g, &format!("{SLOW}#sleep-for"), vec![Val::U32(200)])
        .unwrap();
    assert!(futures::poll!(&mut sleep).is_pending());
    sleep
}

/// `echo(text)` answers within 30 s: a margin for a loaded machine.
async fn answers(d: &Driver, g: InstanceId, text: &str) {
    let echo = format!("{SLOW}#echo");
    let out = d
        .call_concurrent(g, &echo, vec![Val::String(text.into())])
        .unwrap();
    let out = tokio::time::timeout(Duration::from_secs(30), out).await;
    let out = out.expect("the host still answers").unwrap();
    assert_eq!(out, [Val::String(text.into())]);
}

#[tokio::test]
async fn a_call_whose_caller_stops_polling_it_holds_up_no_other_call() {
    let (d, g) = single(&MODE_S).await;
    let sleep = a_blocked_entry_begun_in_place(&d, g).await;
    // Not polled meanwhile: its entry goes on without it.
    answers(&d, g, "meanwhile").await;
    assert_eq!(sleep.await.unwrap(), [Val::U32(200)]);
}

#[tokio::test]
async fn a_call_dropped_while_its_entry_waits_leaves_the_host_working() {
    let (d, g) = single(&MODE_S).await;
    drop(a_blocked_entry_begun_in_place(&d, g).await);
    answers(&d, g, "after").await;
    assert_eq!(d.calls_in_flight(), 0);
    assert_eq!(d.stats().await.unwrap().pending_calls, 0);
}

/// Starts a `wait-signal` call, which waits on an in-guest channel: nothing
/// the host could poll. Then calls `signal` (another export, which sends on
/// it) and returns the waiter's result. The host must learn from the
/// signal's entry that the waiter finished, since no pollable will ever
/// wake the instance: the result must come within 10 s.
async fn signalled(d: &Driver, g: InstanceId, signal: &str) -> Vec<Val> {
    let waiter = tokio::spawn(
        d.call_concurrent_wave(g, &format!("{SLOW}#wait-signal()"))
            .unwrap(),
    );
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!waiter.is_finished());
    let stats = d.stats().await.unwrap();
    assert_eq!(stats.parked, 0, "the waiting call parked nothing");
    wave(d, g, &format!("{SLOW}#{signal}")).await;
    let out = tokio::time::timeout(Duration::from_secs(10), waiter).await;
    out.expect("the woken call is reported, not left hanging")
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn a_call_finished_by_another_calls_entry_is_reported_at_once() {
    let (d, g) = single(&MODE_C).await;
    assert_eq!(signalled(&d, g, "signal(42)").await, [Val::U32(42)]);
}

#[tokio::test]
async fn a_plain_export_that_wakes_a_call_reports_it_finished() {
    let (d, g) = single(&MODE_C).await;
    // A plain export is an entry too: it must run what it woke and park.
    assert_eq!(signalled(&d, g, "signal-plain(7)").await, [Val::U32(7)]);
}

#[tokio::test]
async fn a_plain_export_that_drops_the_last_timer_parks_without_it() {
    let (d, g) = single(&MODE_C).await;
    wave(&d, g, &format!("{SLOW}#spawn-later(60000)")).await;
    assert_eq!(d.stats().await.unwrap().parked, 1, "the timer pollable");
    // Aborting the task drops its timer and with it the timer pollable,
    // which the host must no longer hold.
    wave(&d, g, &format!("{SLOW}#abort-later()")).await;
    assert_eq!(wave(&d, g, &format!("{SLOW}#counter()")).await, "0");
    assert_eq!(d.stats().await.unwrap().parked, 0);
}

#[tokio::test]
async fn the_same_source_gives_the_same_results_in_both_modes() {
    let inputs = [
        format!("{SLOW}#sleep-for(3)"),
        format!("{SLOW}#fan-out([1, 2, 2500], 250)"),
        format!("{SLOW}#echo(\"same\")"),
        format!("{SLOW}#echo-plain(\"same\")"),
        "version()".to_owned(),
    ];
    let (ds, s) = single(&MODE_S).await;
    let (dc, c) = single(&MODE_C).await;
    for call in &inputs {
        assert_eq!(wave(&ds, s, call).await, wave(&dc, c, call).await, "{call}");
    }
}

#[tokio::test]
async fn a_trap_kills_the_instance_and_later_calls_fail_fast() {
    let (d, g) = single(&MODE_C).await;
    let pending = d
        .call_concurrent_wave(g, &format!("{SLOW}#sleep-for(60000)"))
        .unwrap();
    // The panic happens in a later entry (a `wake`), which kills the
    // instance; every call in it fails with the trap's message.
    let err = d
        .call_concurrent_wave(g, &format!("{SLOW}#boom(\"bad day\")"))
        .unwrap()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InstanceDead);
    assert!(err.to_string().contains("guest panicked: bad day"), "{err}");
    let err = pending.await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InstanceDead);
    let err = d
        .call_concurrent_wave(g, &format!("{SLOW}#echo(\"x\")"))
        .unwrap()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InstanceDead);
}

async fn rogue() -> (Driver, InstanceId) {
    let mut host = HARNESS.concurrent(&WasiOptions::captured()).unwrap();
    let id = host
        .add("rogue", &load(test_programs::ROGUE), &[])
        .await
        .unwrap();
    (host.start(), id)
}

#[tokio::test]
async fn an_unknown_finished_call_is_a_protocol_error() {
    let (d, g) = rogue().await;
    let err = d
        .call_concurrent_wave(g, "job(0)")
        .unwrap()
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::InstanceDead | ErrorKind::Protocol),
        "{err}"
    );
    assert!(err.to_string().contains("call 99"), "{err}");
}

#[tokio::test]
async fn a_call_id_reused_while_in_flight_is_a_protocol_error() {
    let (d, g) = rogue().await;
    let first = d.call_concurrent_wave(g, "job(1)").unwrap();
    let err = d
        .call_concurrent_wave(g, "job(1)")
        .unwrap()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol);
    assert!(err.to_string().contains("already in flight"), "{err}");
    assert_eq!(first.await.unwrap_err().kind(), ErrorKind::InstanceDead);
}

#[tokio::test]
async fn a_call_reported_finished_twice_in_one_list_is_a_protocol_error() {
    let (d, g) = rogue().await;
    // The first report finishes the call; the second names a call that is
    // no longer in flight.
    assert_eq!(
        d.call_concurrent_wave(g, "job(4)").unwrap().await.unwrap(),
        [Val::U32(12)]
    );
    let err = d
        .call_concurrent_wave(g, "job(3)")
        .unwrap()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InstanceDead);
    assert!(
        err.to_string()
            .contains("call 12 finished, which is not a call in flight"),
        "{err}"
    );
}

#[tokio::test]
async fn an_id_reported_again_after_finishing_is_a_protocol_error() {
    let (d, g) = rogue().await;
    assert_eq!(
        d.call_concurrent_wave(g, "job(5)").unwrap().await.unwrap(),
        [Val::U32(13)]
    );
    let err = d
        .call_concurrent_wave(g, "job(3)")
        .unwrap()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InstanceDead);
    assert!(
        err.to_string()
            .contains("call 13 finished, which is not a call in flight"),
        "{err}"
    );
}

#[tokio::test]
async fn a_stale_parked_handle_is_reported_not_a_panic() {
    let (d, g) = rogue().await;
    let err = d
        .call_concurrent_wave(g, "job(2)")
        .unwrap()
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::InstanceDead | ErrorKind::Protocol),
        "{err}"
    );
    // The host is still up and says so.
    assert!(d.stats().await.is_ok());
}

/// A guest that parks a pollable which is always ready (a zero-length
/// timer, which wasmtime's WASI makes ready at once after its first wait)
/// and then never parks again makes the loop enter it over and over: a
/// busy guest. That costs its CPU but must not take the host's runtime:
/// other tasks on the same thread still run, and callers still get
/// answers. The runtime runs on a thread of its own so that a starved one
/// fails this test instead of hanging it; the minute is a watchdog, not a
/// measurement.
#[test]
fn a_guest_that_keeps_a_ready_pollable_parked_does_not_starve_the_host() {
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut host = HARNESS.concurrent(&WasiOptions::captured()).unwrap();
            let good = host.add("good", &MODE_C, &[]).await.unwrap();
            let rogue = host
                .add("rogue", &load(test_programs::ROGUE), &[])
                .await
                .unwrap();
            let d = host.start();
            // One entry: subscribe to a zero-length timer, park it. The
            // script then runs out, so no later entry parks anything else.
            let script = Val::List(vec![Val::List(
                [0, 0, 0, 2, 1, 0].into_iter().map(Val::U32).collect(),
            )]);
            d.call_concurrent(rogue, "load-script", vec![script])
                .unwrap()
                .await
                .unwrap();
            let out = d.call_concurrent_wave(rogue, "job(3)").unwrap().await;
            assert_eq!(out.unwrap(), [Val::U32(0)]);
            // The loop is now entering the rogue instance again and again.
            let before = d.stats().await.expect("the event loop is alive");
            tokio::time::sleep(Duration::from_millis(20)).await;
            let echo = d
                .call_concurrent_wave(good, &format!("{SLOW}#echo(\"ok\")"))
                .unwrap()
                .await
                .unwrap();
            assert_eq!(echo, [Val::String("ok".into())]);
            let after = d.stats().await.expect("the event loop is alive");
            assert_eq!(after.parked, 1, "{after:?}");
            // Each wake enters the guest: the scenario is the busy one.
            assert!(after.entries > before.entries + 10, "{before:?} {after:?}");
        });
        let _ = done_tx.send(());
    });
    done_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the host's runtime was starved by a busy guest");
}
