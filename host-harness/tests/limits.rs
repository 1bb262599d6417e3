//! Guest limits, in modes S and C: a guest that goes over one is stopped
//! with an error naming the limit, and everything else carries on: the
//! host, the other instances and their callers' calls.

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use wasync_harness::concurrent::{Concurrent, Driver, InstanceId};
use wasync_harness::wasmtime::component::Val;
use wasync_harness::{
    Error, ErrorKind, Harness, HarnessConfig, Limit, Limits, Loaded, WasiOptions,
};

/// One engine that can enforce every limit.
static HARNESS: LazyLock<Harness> = LazyLock::new(|| {
    Harness::with_config(HarnessConfig {
        time_limits: true,
        fuel: true,
        ..HarnessConfig::default()
    })
    .expect("engine")
});
static MODE_S: LazyLock<Loaded> =
    LazyLock::new(|| HARNESS.load(test_programs::MODE_TESTS).unwrap());
static MODE_C: LazyLock<Loaded> =
    LazyLock::new(|| HARNESS.compile(test_programs::MODE_TESTS_C).unwrap());

const SLOW: &str = "examples:wasync/slow";
const MEMORY: Limits = Limits {
    max_memory: Some(32 << 20),
    ..Limits::NONE
};
const TIMEOUT: Limits = Limits {
    call_timeout: Some(Duration::from_millis(200)),
    ..Limits::NONE
};
const FUEL: Limits = Limits {
    fuel: Some(50_000_000),
    ..Limits::NONE
};

/// Asserts that `err` is a breach of `limit` by `instance`.
fn assert_breach(err: &Error, limit: Limit, stopped: bool) {
    match err {
        Error::Limit {
            limit: l,
            stopped: s,
            ..
        } => {
            assert_eq!((*l, *s), (limit, stopped), "{err}");
            assert!(err.to_string().contains(&limit.to_string()), "{err}");
        }
        _ => panic!("expected a breach of the {limit}, got: {err}"),
    }
}

async fn mode_s(limits: Limits) -> wasync_harness::Instance {
    HARNESS
        .instantiate_with_limits(&MODE_S, &WasiOptions::captured(), limits)
        .await
        .unwrap()
}

async fn call_s(inst: &mut wasync_harness::Instance, call: &str) -> wasync_harness::Result<Val> {
    Ok(inst.call_wave(&format!("{SLOW}#{call}")).await?.remove(0))
}

/// A limited instance breaches `limit` with `call`, in mode S; a second,
/// unlimited instance of the same component carries on.
async fn mode_s_breach(limits: Limits, call: &str, limit: Limit) {
    let mut limited = mode_s(limits).await;
    let mut free = mode_s(Limits::NONE).await;
    let err = call_s(&mut limited, call).await.unwrap_err();
    assert_breach(&err, limit, true);
    let again = call_s(&mut limited, "echo(\"x\")").await.unwrap_err();
    assert_eq!(again.kind(), ErrorKind::InstanceDead, "{again}");
    assert!(again.to_string().contains(&limit.to_string()), "{again}");
    assert_eq!(
        call_s(&mut free, "echo(\"still here\")").await.unwrap(),
        Val::String("still here".into())
    );
}

#[tokio::test]
async fn a_mode_s_guest_that_allocates_without_end_is_stopped_at_its_memory_limit() {
    // Under the limit, allocating works.
    let mut inst = mode_s(MEMORY).await;
    assert_eq!(call_s(&mut inst, "hog(0, 4)").await.unwrap(), Val::U32(4));
    let limit = Limit::Memory {
        max_bytes: 32 << 20,
    };
    mode_s_breach(MEMORY, "hog(0, 0)", limit).await;
}

#[tokio::test]
async fn a_mode_s_guest_that_loops_without_yielding_is_stopped_at_its_call_timeout() {
    let started = Instant::now();
    let limit = Limit::CallTimeout {
        timeout: Duration::from_millis(200),
    };
    mode_s_breach(TIMEOUT, "spin(0, 0)", limit).await;
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[tokio::test]
async fn a_mode_s_call_blocked_in_the_host_past_its_call_timeout_is_stopped() {
    let limit = Limit::CallTimeout {
        timeout: Duration::from_millis(200),
    };
    mode_s_breach(TIMEOUT, "sleep-for(600000)", limit).await;
}

#[tokio::test]
async fn a_mode_s_guest_that_burns_its_fuel_is_stopped() {
    let mut inst = mode_s(FUEL).await;
    // Each call gets the whole budget again.
    for _ in 0..3 {
        assert!(call_s(&mut inst, "spin(0, 1000)").await.is_ok());
    }
    mode_s_breach(FUEL, "spin(0, 0)", Limit::Fuel { fuel: 50_000_000 }).await;
}

#[tokio::test]
async fn a_limit_the_engine_cannot_enforce_is_a_config_error() {
    let plain = Harness::new().unwrap();
    let empty = wat::parse_str("(component)").unwrap();
    let loaded = plain.compile_bytes("empty.wasm", &empty).unwrap();
    for limits in [TIMEOUT, FUEL] {
        let err = plain
            .instantiate_with_limits(&loaded, &WasiOptions::captured(), limits)
            .await
            .err()
            .unwrap();
        assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    }
}

/// A mode C host in which the instance called `limited` has `limits`, and
/// every other none.
fn limiting(limited: &'static str, limits: Limits) -> Concurrent {
    HARNESS
        .concurrent_with_limits(&WasiOptions::captured(), move |name| {
            if name == limited {
                limits
            } else {
                Limits::NONE
            }
        })
        .unwrap()
}

const ONE_CALL: Limits = Limits {
    max_calls: Some(1),
    ..Limits::NONE
};

/// A mode C host with a limited instance `hog` and an unlimited one
/// `good`, both of `mode-tests-c`.
async fn pair(limits: Limits) -> (Driver, InstanceId, InstanceId) {
    let mut host = limiting("hog", limits);
    let hog = host.add("hog", &MODE_C, &[]).await.unwrap();
    let good = host.add("good", &MODE_C, &[]).await.unwrap();
    (host.start(), hog, good)
}

async fn call_c(d: &Driver, inst: InstanceId, call: &str) -> wasync_harness::Result<Val> {
    Ok(d.call_concurrent_wave(inst, &format!("{SLOW}#{call}"))?
        .await?
        .remove(0))
}

/// `hog` breaches `limit` with `call` while it and `good` each have a call
/// in flight: hog's fails with the limit too, good's finishes, and both the
/// host and good take new calls.
async fn mode_c_breach(limits: Limits, call: &str, limit: Limit) {
    let (d, hog, good) = pair(limits).await;
    let hog_waiting = d
        .call_concurrent_wave(hog, &format!("{SLOW}#sleep-for(600000)"))
        .unwrap();
    let good_waiting = tokio::spawn(
        d.call_concurrent_wave(good, &format!("{SLOW}#sleep-for(300)"))
            .unwrap(),
    );
    let err = call_c(&d, hog, call).await.unwrap_err();
    assert_breach(&err, limit, true);
    assert_breach(&hog_waiting.await.unwrap_err(), limit, true);
    let again = call_c(&d, hog, "echo(\"x\")").await.unwrap_err();
    assert_eq!(again.kind(), ErrorKind::InstanceDead, "{again}");
    assert_eq!(good_waiting.await.unwrap().unwrap(), [Val::U32(300)]);
    assert_eq!(
        call_c(&d, good, "echo(\"still here\")").await.unwrap(),
        Val::String("still here".into())
    );
    let stats = d.stats().await.unwrap();
    assert_eq!(stats.pending_calls, 0, "{stats:?}");
}

#[tokio::test]
async fn a_mode_c_guest_that_allocates_without_end_is_stopped_at_its_memory_limit() {
    let limit = Limit::Memory {
        max_bytes: 32 << 20,
    };
    mode_c_breach(MEMORY, "hog(0, 0)", limit).await;
    // The same when the allocation runs in a later entry (a wake), which no
    // call owns.
    mode_c_breach(MEMORY, "hog(20, 0)", limit).await;
}

#[tokio::test]
async fn a_mode_c_guest_that_loops_without_yielding_is_stopped_at_its_call_timeout() {
    let limit = Limit::CallTimeout {
        timeout: Duration::from_millis(200),
    };
    mode_c_breach(TIMEOUT, "spin(0, 0)", limit).await;
    mode_c_breach(TIMEOUT, "spin(20, 0)", limit).await;
}

#[tokio::test]
async fn a_mode_c_guest_that_burns_its_fuel_is_stopped() {
    mode_c_breach(FUEL, "spin(0, 0)", Limit::Fuel { fuel: 50_000_000 }).await;
}

#[tokio::test]
async fn a_mode_c_call_in_flight_past_its_timeout_is_cancelled_and_the_instance_lives() {
    let (d, hog, good) = pair(TIMEOUT).await;
    let good_long = tokio::spawn(
        d.call_concurrent_wave(good, &format!("{SLOW}#sleep-for(400)"))
            .unwrap(),
    );
    let started = Instant::now();
    let err = call_c(&d, hog, "sleep-for(600000)").await.unwrap_err();
    let limit = Limit::CallTimeout {
        timeout: Duration::from_millis(200),
    };
    assert_breach(&err, limit, false);
    assert!(started.elapsed() >= Duration::from_millis(200));
    // Cancelled in the guest: its timer is gone, and it serves on.
    let stats = call_c(&d, hog, "stats()").await.unwrap();
    let Val::Record(fields) = stats else {
        panic!("{stats:?}")
    };
    let timers = fields.iter().find(|(n, _)| n == "live-timers").unwrap();
    assert_eq!(timers.1, Val::U32(0));
    assert_eq!(call_c(&d, hog, "sleep-for(5)").await.unwrap(), Val::U32(5));
    // Calls shorter than the timeout are not touched.
    assert_eq!(good_long.await.unwrap().unwrap(), [Val::U32(400)]);
}

#[tokio::test]
async fn a_mode_c_instance_refuses_a_call_over_its_limit_and_takes_one_when_a_place_frees() {
    let limits = Limits {
        max_calls: Some(2),
        ..Limits::NONE
    };
    let (d, hog, good) = pair(limits).await;
    let sleep = |inst| {
        d.call_concurrent_wave(inst, &format!("{SLOW}#sleep-for(600000)"))
            .unwrap()
    };
    let first = sleep(hog);
    let _second = sleep(hog);
    let err = d
        .call_concurrent_wave(hog, &format!("{SLOW}#echo(\"x\")"))
        .err()
        .unwrap();
    assert_breach(&err, Limit::Calls { max: 2 }, false);
    // Other instances take calls as before.
    let _elsewhere = [sleep(good), sleep(good), sleep(good)];
    assert_eq!(
        call_c(&d, good, "echo(\"y\")").await.unwrap(),
        Val::String("y".into())
    );
    // Cancelling one makes a place.
    drop(first);
    d.stats().await.unwrap();
    assert_eq!(
        call_c(&d, hog, "echo(\"z\")").await.unwrap(),
        Val::String("z".into())
    );
}

#[tokio::test]
async fn a_mode_s_instance_in_a_host_counts_queued_calls_against_its_limit() {
    let mut host = limiting("mode-s", ONE_CALL);
    let s = host.add("mode-s", &MODE_S, &[]).await.unwrap();
    let d = host.start();
    let first = d
        .call_concurrent_wave(s, &format!("{SLOW}#sleep-for(50)"))
        .unwrap();
    let err = d
        .call_concurrent_wave(s, &format!("{SLOW}#echo(\"x\")"))
        .err()
        .unwrap();
    assert_breach(&err, Limit::Calls { max: 1 }, false);
    assert_eq!(first.await.unwrap(), [Val::U32(50)]);
    assert_eq!(
        call_c(&d, s, "echo(\"x\")").await.unwrap(),
        Val::String("x".into())
    );
}

#[tokio::test]
async fn calls_from_a_linked_instance_wait_for_a_place_instead_of_failing() {
    let mut host = limiting("backend", ONE_CALL);
    let back = host
        .add(
            "backend",
            &HARNESS.compile(test_programs::COMPOSE_BACKEND_C).unwrap(),
            &[],
        )
        .await
        .unwrap();
    let front = host
        .add(
            "frontend",
            &HARNESS.compile(test_programs::COMPOSE_FRONTEND_C).unwrap(),
            &[("examples:wasync/backend", back)],
        )
        .await
        .unwrap();
    let d = host.start();
    d.record_trace(true);
    let relays: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|t| {
            d.call_concurrent_wave(
                front,
                &format!(r#"examples:wasync/frontend#relay("{t}", 30)"#),
            )
            .unwrap()
        })
        .collect();
    let out = futures::future::join_all(relays).await;
    let texts: Vec<Val> = out.into_iter().map(|r| r.unwrap().remove(0)).collect();
    assert_eq!(texts, ["[A]", "[B]", "[C]"].map(|t| Val::String(t.into())));
    // The backend served them one at a time.
    let served: Vec<_> = d
        .trace()
        .into_iter()
        .filter(|t| t.instance == "backend")
        .collect();
    assert_eq!(served.len(), 3, "{served:?}");
    for (i, a) in served.iter().enumerate() {
        for b in &served[i + 1..] {
            assert!(!a.overlaps(b), "{a:?} {b:?}");
        }
    }
}
