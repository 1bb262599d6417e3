//! The mode C host against a guest that speaks the wasync ABI at random:
//! `rogue`, driven by a generated script (random park lists, pollables
//! parked and then dropped, finished ids unknown, duplicated and reused,
//! traps at random points), while the test starts, awaits and cancels
//! calls into it at random, so that cancels race finishes. The host never
//! panics, every failure is a typed error, and a well-behaved instance in
//! the same host serves its calls throughout.
//!
//! Size: 40 scripts of up to 12 entries and 16 host actions; about 10 s in
//! a debug build (each case is a new host with two instances).

use std::sync::LazyLock;
use std::time::Duration;

use proptest::prelude::*;
use wasync_harness::concurrent::Call;
use wasync_harness::wasmtime::component::Val;
use wasync_harness::{ErrorKind, Harness, Loaded, WasiOptions};

static HARNESS: LazyLock<Harness> = LazyLock::new(|| Harness::new().expect("engine"));
static ROGUE: LazyLock<Loaded> = LazyLock::new(|| HARNESS.compile(test_programs::ROGUE).unwrap());
static GOOD: LazyLock<Loaded> =
    LazyLock::new(|| HARNESS.compile(test_programs::MODE_TESTS_C).unwrap());

const SLOW: &str = "examples:wasync/slow";

/// What the test does to the rogue instance, one step at a time.
#[derive(Debug, Clone)]
enum Action {
    /// Starts a call of `job-start(how)`.
    Start(u32),
    /// Awaits a started call for up to `ms`.
    Await(usize, u64),
    /// Drops (cancels) a started call.
    Cancel(usize),
    /// Lets the host run for `ms`.
    Pause(u64),
}

/// One (op, a, b) triple of the guest's script; ids stay small so that
/// reported ids often name calls in flight.
fn op() -> impl Strategy<Value = [u32; 3]> {
    // Weighted towards what breaks the protocol (calls left pending, park
    // lists, reports) over traps, so that scripts get somewhere first.
    prop_oneof![
        3 => (0..20u32).prop_map(|ms| [0, ms, 0]),
        2 => (0..8u32).prop_map(|i| [1, i, 0]),
        3 => (0..16u32).prop_map(|mask| [2, mask, 0]),
        3 => (0..6u32, prop_oneof![Just(u32::MAX), 0..6u32]).prop_map(|(a, b)| [3, a, b]),
        1 => Just([4, 0, 0]),
        4 => (0..6u32, prop_oneof![3 => Just(0u32), 1 => Just(1u32)]).prop_map(|(v, ok)| [5, v, ok]),
    ]
}

fn script() -> impl Strategy<Value = Vec<Vec<u32>>> {
    prop::collection::vec(prop::collection::vec(op(), 1..5), 0..12).prop_map(|entries| {
        entries
            .into_iter()
            .map(|ops| ops.into_iter().flatten().collect())
            .collect()
    })
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        4 => (0..6u32).prop_map(Action::Start),
        3 => (0..8usize, 0..10u64).prop_map(|(i, ms)| Action::Await(i, ms)),
        2 => (0..8usize).prop_map(Action::Cancel),
        1 => (0..10u64).prop_map(Action::Pause),
    ]
}

/// Fails unless `err` is one of the typed ways a misbehaving guest fails.
fn assert_typed(err: &wasync_harness::Error) {
    assert!(
        matches!(
            err.kind(),
            ErrorKind::Protocol | ErrorKind::Trap | ErrorKind::InstanceDead | ErrorKind::Cancelled
        ),
        "an untyped error: {err:?}"
    );
}

async fn run_case(script: Vec<Vec<u32>>, actions: Vec<Action>) {
    let mut host = HARNESS.concurrent(&WasiOptions::captured()).unwrap();
    let good = host.add("good", &GOOD, &[]).await.unwrap();
    let rogue = host.add("rogue", &ROGUE, &[]).await.unwrap();
    let d = host.start();
    // A call in the good instance that spans the whole case.
    let spanning = tokio::spawn(
        d.call_concurrent_wave(good, &format!("{SLOW}#sleep-for(60)"))
            .unwrap(),
    );
    let script = Val::List(
        script
            .into_iter()
            .map(|e| Val::List(e.into_iter().map(Val::U32).collect()))
            .collect(),
    );
    d.call_concurrent(rogue, "load-script", vec![script])
        .unwrap()
        .await
        .unwrap();
    let mut calls: Vec<Option<Call<Vec<Val>>>> = Vec::new();
    for action in actions {
        match action {
            Action::Start(how) => match d.call_concurrent(rogue, "job", vec![Val::U32(how)]) {
                Ok(call) => calls.push(Some(call)),
                Err(e) => assert_typed(&e),
            },
            Action::Await(i, ms) => {
                let n = calls.len().max(1);
                let Some(slot) = calls.get_mut(i % n) else {
                    continue;
                };
                if let Some(call) = slot.as_mut() {
                    match tokio::time::timeout(Duration::from_millis(ms), call).await {
                        Ok(Ok(_)) => *slot = None,
                        Ok(Err(e)) => {
                            assert_typed(&e);
                            *slot = None;
                        }
                        Err(_) => {}
                    }
                }
            }
            Action::Cancel(i) => {
                let n = calls.len().max(1);
                if let Some(slot) = calls.get_mut(i % n) {
                    *slot = None;
                }
            }
            Action::Pause(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
        }
    }
    drop(calls);
    // The good instance served its calls, and the loop is alive with
    // nothing left in flight: every rogue call settled.
    assert_eq!(spanning.await.unwrap().unwrap(), [Val::U32(60)]);
    let echo = d
        .call_concurrent_wave(good, &format!("{SLOW}#echo(\"ok\")"))
        .unwrap()
        .await
        .unwrap();
    assert_eq!(echo, [Val::String("ok".into())]);
    let stats = d.stats().await.expect("the event loop survived");
    assert_eq!(stats.pending_calls, 0, "{stats:?}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn a_guest_that_speaks_the_abi_at_random_never_breaks_the_host(
        script in script(),
        actions in prop::collection::vec(action(), 0..16),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(run_case(script, actions));
    }
}
