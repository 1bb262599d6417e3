//! The host library as an embedder uses it: store data of one's own, one's
//! own imports next to wasync's, typed calls, and a bounded number of calls
//! in flight. The guests are real mode C components from the repository's
//! guest pipeline.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use wasmtime::component::{Component, Linker, ResourceTable, Val};
use wasmtime::{Config, Engine};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasync_host::{
    Concurrent, Driver, ErrorKind, HostConfig, InstanceId, WasyncCtx, WasyncCtxView, WasyncView,
};

#[path = "../examples/embedder.rs"]
#[allow(dead_code)]
mod embedder;

struct State {
    wasi: WasiCtx,
    wasync: WasyncCtx,
    table: ResourceTable,
    /// Held by every store, to see when the host drops its instances.
    _alive: Arc<()>,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasyncView for State {
    fn wasync(&mut self) -> WasyncCtxView<'_> {
        WasyncCtxView {
            ctx: &mut self.wasync,
            table: &mut self.table,
        }
    }
}

static ENGINE: LazyLock<Engine> = LazyLock::new(|| Engine::new(&Config::new()).unwrap());

static MODE_TESTS: LazyLock<Component> =
    LazyLock::new(|| Component::from_file(&ENGINE, test_programs::MODE_TESTS_C).unwrap());

/// Mode N components need wasmtime's concurrency support: an engine of
/// their own, as `Concurrent::with_native` advises.
static NATIVE_ENGINE: LazyLock<Engine> = LazyLock::new(|| {
    let mut config = Config::new();
    config.concurrency_support(true);
    Engine::new(&config).unwrap()
});

static MODE_TESTS_N: LazyLock<Component> =
    LazyLock::new(|| Component::from_file(&NATIVE_ENGINE, test_programs::MODE_TESTS_N).unwrap());

const SLOW: &str = "examples:wasync/slow";

async fn host(config: HostConfig) -> (Driver<State>, InstanceId) {
    host_with(config, Arc::new(())).await
}

async fn host_with(config: HostConfig, alive: Arc<()>) -> (Driver<State>, InstanceId) {
    let mut linker = Linker::new(&ENGINE);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).unwrap();
    let mut host = Concurrent::new(&ENGINE, &linker, move |_| {
        Ok(State {
            wasi: WasiCtxBuilder::new().build(),
            wasync: WasyncCtx::default(),
            table: ResourceTable::new(),
            _alive: alive.clone(),
        })
    })
    .unwrap()
    .with_config(config);
    let id = host.add("mode-tests", &MODE_TESTS, &[]).await.unwrap();
    (host.start(), id)
}

#[tokio::test]
async fn the_example_embedder_serves_overlapping_calls_with_its_own_import() {
    let (results, _wall) = embedder::run(test_programs::EMBEDDED_C).await.unwrap();
    // Submitted as 300, 100 and 200 ms: they finish shortest first only if
    // they overlap in the one instance.
    assert_eq!(results, ["1 is one", "2 is two", "3 is three"]);
}

#[tokio::test]
async fn typed_calls_pass_rust_values_to_plain_and_async_exports() {
    let (d, g) = host(HostConfig::default()).await;
    let plain = d
        .typed::<(String,), (String,)>(g, &format!("{SLOW}#echo-plain"))
        .await
        .unwrap();
    assert_eq!(
        plain.call_concurrent(("a".into(),)).unwrap().await.unwrap(),
        ("a".to_owned(),)
    );
    // Finishes inside its start.
    let echo = d
        .typed::<(String,), (String,)>(g, &format!("{SLOW}#echo"))
        .await
        .unwrap();
    assert_eq!(
        echo.call_concurrent(("b".into(),)).unwrap().await.unwrap(),
        ("b".to_owned(),)
    );
    // Returns to the host, and is finished later.
    let sleep = d
        .typed::<(u32,), (u32,)>(g, &format!("{SLOW}#sleep-for"))
        .await
        .unwrap();
    let (a, b) = futures::join!(
        sleep.call_concurrent((30,)).unwrap(),
        sleep.call_concurrent((10,)).unwrap()
    );
    assert_eq!((a.unwrap(), b.unwrap()), ((30,), (10,)));
    // No results at all.
    let later = d
        .typed::<(u32,), ()>(g, &format!("{SLOW}#spawn-later"))
        .await
        .unwrap();
    later.call_concurrent((1,)).unwrap().await.unwrap();
}

#[tokio::test]
async fn a_typed_handle_of_the_wrong_types_is_a_clear_error() {
    let (d, g) = host(HostConfig::default()).await;
    let err = d
        .typed::<(u32,), (String,)>(g, &format!("{SLOW}#echo"))
        .await
        .err()
        .unwrap();
    assert_eq!(err.kind(), ErrorKind::BadArguments);
    assert!(
        err.to_string().contains("does not match the export's type"),
        "{err}"
    );
    let err = d.typed::<(), ()>(g, "nope").await.err().unwrap();
    assert_eq!(err.kind(), ErrorKind::MissingExport);
}

#[tokio::test]
async fn a_full_host_refuses_a_call_with_a_typed_error_and_recovers() {
    let (d, g) = host(HostConfig { max_calls: 2 }).await;
    let sleep = format!("{SLOW}#sleep-for");
    let first = d
        .call_concurrent(g, &sleep, vec![Val::U32(60_000)])
        .unwrap();
    let _second = d
        .call_concurrent(g, &sleep, vec![Val::U32(60_000)])
        .unwrap();
    let err = d
        .call_concurrent(g, &sleep, vec![Val::U32(1)])
        .err()
        .unwrap();
    assert_eq!(err.kind(), ErrorKind::Busy);
    assert!(
        err.to_string().contains("2 calls are already in flight"),
        "{err}"
    );
    assert_eq!(d.calls_in_flight(), 2);
    // Dropping a call cancels it and frees its place.
    drop(first);
    let out = d
        .call_concurrent(g, &sleep, vec![Val::U32(1)])
        .unwrap()
        .await
        .unwrap();
    assert_eq!(out, [Val::U32(1)]);
}

#[tokio::test]
async fn an_idle_host_drops_its_instances_once_every_driver_is_gone() {
    let alive = Arc::new(());
    let (d, g) = host_with(HostConfig::default(), alive.clone()).await;
    // Calls that finish in their start leave the loop idle, its state
    // lent out for the next caller to run its call in place.
    for text in ["a", "b"] {
        let out = d
            .call_concurrent(g, &format!("{SLOW}#echo"), vec![Val::String(text.into())])
            .unwrap()
            .await
            .unwrap();
        assert_eq!(out, [Val::String(text.into())]);
    }
    assert_eq!(Arc::strong_count(&alive), 2, "the one instance's store");
    drop(d);
    // The loop ends and drops the store; 30 s is the margin for a loaded
    // machine, not a timing.
    let mut waited = Duration::ZERO;
    while Arc::strong_count(&alive) != 1 {
        assert!(
            waited < Duration::from_secs(30),
            "the instances were never dropped"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
        waited += Duration::from_millis(10);
    }
}

#[tokio::test]
async fn shutdown_returns_once_the_host_has_dropped_every_instance() {
    let alive = Arc::new(());
    let (d, g) = host_with(HostConfig::default(), alive.clone()).await;
    let other = d.clone();
    let sleep = format!("{SLOW}#sleep-for");
    // A call still in flight when its driver shuts down settles first.
    let call = other
        .call_concurrent(g, &sleep, vec![Val::U32(20)])
        .unwrap();
    let waiter = tokio::spawn(async move {
        let out = call.await.unwrap();
        drop(other);
        out
    });
    d.shutdown().await;
    assert_eq!(waiter.await.unwrap(), [Val::U32(20)]);
    assert_eq!(
        Arc::strong_count(&alive),
        1,
        "shutdown returned while the host still held the store"
    );
}

#[test]
fn calls_fail_with_a_clear_error_once_the_loop_task_s_runtime_is_gone() {
    let runtime = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    };
    let alive = Arc::new(());
    let first = runtime();
    let (d, g, queued) = first.block_on(async {
        let (d, g) = host_with(HostConfig::default(), alive.clone()).await;
        // Sent, never polled on this runtime: it waits in the queue.
        let queued = d
            .call_concurrent(g, &format!("{SLOW}#echo"), vec![Val::String("q".into())])
            .unwrap();
        (d, g, queued)
    });
    // Drops the loop task, which never ran.
    drop(first);
    assert_eq!(
        Arc::strong_count(&alive),
        1,
        "the stopped loop still holds the store"
    );
    runtime().block_on(async {
        let err = queued.await.unwrap_err();
        assert!(err.to_string().contains("has stopped"), "{err}");
        let err = d
            .call_concurrent(g, &format!("{SLOW}#echo"), vec![Val::String("x".into())])
            .err()
            .unwrap();
        assert!(err.to_string().contains("has stopped"), "{err}");
        assert_eq!(d.calls_in_flight(), 0, "a refused call keeps no place");
    });
}

#[tokio::test]
async fn shutdown_ends_a_mode_n_instance_with_its_calls_in_flight() {
    let alive = Arc::new(());
    let mut native_linker = Linker::new(&NATIVE_ENGINE);
    // Mode N guests import WASI 0.2 too (`println!` goes through it).
    wasmtime_wasi::p2::add_to_linker_async(&mut native_linker).unwrap();
    wasmtime_wasi::p3::add_to_linker(&mut native_linker).unwrap();
    let store_alive = alive.clone();
    let mut host = Concurrent::new(&ENGINE, &Linker::new(&ENGINE), move |_| {
        Ok(State {
            wasi: WasiCtxBuilder::new().build(),
            wasync: WasyncCtx::default(),
            table: ResourceTable::new(),
            _alive: store_alive.clone(),
        })
    })
    .unwrap()
    .with_native(&NATIVE_ENGINE, &native_linker);
    let n = host.add("mode-tests-n", &MODE_TESTS_N, &[]).await.unwrap();
    let d = host.start();
    // A sleep far longer than the test may take: shutdown must not wait
    // for it (wasmtime 48 cannot cancel one mode N call; the instance ends
    // with all of them).
    let call = d
        .call_concurrent(n, &format!("{SLOW}#sleep-for"), vec![Val::U32(3_600_000)])
        .unwrap();
    let waiter = tokio::spawn(call);
    // Wait until the call is in the guest (polled with a margin for a
    // loaded machine; nothing is timed).
    let mut polls = 0;
    while d.stats().await.unwrap().pending_calls == 0 {
        polls += 1;
        assert!(polls < 3_000, "the call never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::timeout(Duration::from_secs(60), d.shutdown())
        .await
        .expect("shutdown waited for a call in flight in a mode N instance");
    assert_eq!(
        Arc::strong_count(&alive),
        1,
        "shutdown returned while the host still held the mode N store"
    );
    let err = waiter.await.unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Other, "{err}");
}

/// A component that speaks the wasync ABI (it exports `wake` and
/// `cancel`) but whose async export `f` breaks it: `f-start` returns
/// nothing instead of a `result<_, u32>`.
const START_WITHOUT_RESULT: &str = r#"
(component
  (core module $m
    (memory (export "memory") 1)
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) i32.const 8)
    (func (export "wake") (param i32 i32))
    (func (export "cancel") (param i32))
    (func (export "f-start"))
    (func (export "f-finish") (param i32)))
  (core instance $i (instantiate $m))
  (func $wake (param "ready" (list u32))
    (canon lift (core func $i "wake") (memory (core memory $i "memory"))
      (realloc (core func $i "realloc"))))
  (func $cancel (param "call-id" u32) (canon lift (core func $i "cancel")))
  (instance $guest (export "wake" (func $wake)) (export "cancel" (func $cancel)))
  (export "wasync:abi/guest@0.1.0" (instance $guest))
  (func (export "f-start") (canon lift (core func $i "f-start")))
  (func (export "f-finish") (param "call-id" u32) (canon lift (core func $i "f-finish"))))
"#;

/// The same, but `f-start` is right and `f-finish` takes no call id.
fn finish_without_id() -> String {
    START_WITHOUT_RESULT
        .replace(
            r#"(func (export "f-start"))"#,
            r#"(func (export "f-start") (result i32) i32.const 16)"#,
        )
        .replace(
            r#"(func (export "f-start") (canon lift (core func $i "f-start")))"#,
            r#"(func (export "f-start") (result (result (error u32)))
    (canon lift (core func $i "f-start") (memory (core memory $i "memory"))))"#,
        )
        .replace(
            r#"(func (export "f-finish") (param i32))"#,
            r#"(func (export "f-finish"))"#,
        )
        .replace(
            r#"(func (export "f-finish") (param "call-id" u32) (canon lift"#,
            r#"(func (export "f-finish") (canon lift"#,
        )
}

/// A component with an `f-start`/`f-finish` pair of the ABI's shape but
/// without the wasync ABI's guest interface: a mode S component, to the
/// host, so nothing could finish a call of the pair. `f-start` returns
/// `ok`.
const PAIR_WITHOUT_ABI: &str = r#"
(component
  (core module $m
    (memory (export "memory") 1)
    (func (export "f-start") (result i32) i32.const 16)
    (func (export "f-finish") (param i32)))
  (core instance $i (instantiate $m))
  (func (export "f-start") (result (result (error u32)))
    (canon lift (core func $i "f-start") (memory (core memory $i "memory"))))
  (func (export "f-finish") (param "call-id" u32) (canon lift (core func $i "f-finish"))))
"#;

#[tokio::test]
async fn an_async_pair_without_the_guest_abi_is_callable_by_its_halves_only() {
    let component = Component::new(&ENGINE, wat::parse_str(PAIR_WITHOUT_ABI).unwrap()).unwrap();
    let mut host = bare_host();
    let id = host.add("pair", &component, &[]).await.unwrap();
    let driver = host.start();
    // Refused when made or when awaited: either is a typed error that
    // lists what can be called.
    let err = match driver.call_concurrent(id, "f", vec![]) {
        Err(e) => e,
        Ok(call) => call.await.unwrap_err(),
    };
    assert_eq!(err.kind(), ErrorKind::MissingExport, "{err}");
    let message = err.to_string();
    assert!(
        message.contains("f-start") && message.contains("f-finish"),
        "{message}"
    );
    assert_eq!(driver.calls_in_flight(), 0);
    // The halves are plain functions, and the refusal cost the instance
    // nothing.
    let out = driver
        .call_concurrent(id, "f-start", vec![])
        .unwrap()
        .await
        .unwrap();
    assert_eq!(out, vec![Val::Result(Ok(None))]);
}

/// A mode C host whose stores need nothing of the test's.
fn bare_host() -> Concurrent<State> {
    let mut linker = Linker::new(&ENGINE);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).unwrap();
    Concurrent::new(&ENGINE, &linker, |_| {
        Ok(State {
            wasi: WasiCtxBuilder::new().build(),
            wasync: WasyncCtx::default(),
            table: ResourceTable::new(),
            _alive: Arc::new(()),
        })
    })
    .unwrap()
}

#[tokio::test]
async fn an_async_export_whose_finish_breaks_the_abi_is_refused_when_added() {
    let component = Component::new(&ENGINE, wat::parse_str(finish_without_id()).unwrap()).unwrap();
    let err = bare_host().add("bad", &component, &[]).await.err().unwrap();
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");
    let message = err.to_string();
    assert!(
        message.contains("`f-finish` takes ()") && message.contains("one u32"),
        "{message}"
    );
}

#[tokio::test]
async fn an_async_export_that_breaks_the_abi_is_refused_when_added() {
    let component = Component::new(&ENGINE, wat::parse_str(START_WITHOUT_RESULT).unwrap()).unwrap();
    let mut host = bare_host();
    let err = host.add("bad", &component, &[]).await.err().unwrap();
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");
    let message = err.to_string();
    assert!(
        message.contains("`f-start`") && message.contains("result<_, u32>"),
        "{message}"
    );
    // The host is unharmed: a good component still joins it and answers.
    let good = host.add("mode-tests", &MODE_TESTS, &[]).await.unwrap();
    let driver = host.start();
    let out = driver
        .call_concurrent(
            good,
            &format!("{SLOW}#echo"),
            vec![Val::String("ok".into())],
        )
        .unwrap()
        .await
        .unwrap();
    assert_eq!(out, vec![Val::String("ok".into())]);
}
