//! Mode S: async exports that run each call to completion on any WASI 0.2
//! host, and static composition with wac-graph.

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use wasync_harness::wasmtime::component::Val;
use wasync_harness::{ErrorKind, Harness, Instance, Loaded, WasiOptions, results_to_wave};

static HARNESS: LazyLock<Harness> = LazyLock::new(|| Harness::new().expect("engine"));
static MODE_TESTS: LazyLock<Loaded> =
    LazyLock::new(|| HARNESS.load(test_programs::MODE_TESTS).unwrap());

const SLOW: &str = "examples:wasync/slow";

async fn mode_tests() -> Instance {
    HARNESS
        .instantiate(&MODE_TESTS, &WasiOptions::captured())
        .await
        .unwrap()
}

async fn wave(inst: &mut Instance, call: &str) -> String {
    let out = inst.call_wave(call).await.unwrap();
    results_to_wave(&out).unwrap()
}

#[tokio::test]
async fn an_async_export_spawns_sleeps_times_out_and_joins() {
    let mut g = mode_tests().await;
    // Margins of a second and more either side of the deadline, so that a
    // loaded machine cannot move a task across it.
    let out = wave(&mut g, &format!("{SLOW}#fan-out([5, 30, 3000], 1000)")).await;
    assert_eq!(
        out,
        r#"{finished: [5, 30], timed-out: 1, joined: "left+right"}"#
    );
    // The timed-out task was dropped with its timer: nothing is left.
    let stats = &g.call(&format!("{SLOW}#stats"), &[]).await.unwrap()[0];
    let Val::Record(fields) = stats else {
        panic!("{stats:?}")
    };
    let get = |n: &str| fields.iter().find(|(k, _)| k == n).unwrap().1.clone();
    assert_eq!(get("live-timers"), Val::U32(0));
    assert_eq!(get("registered-pollables"), Val::U32(0));
}

#[tokio::test]
async fn a_sleeping_export_returns_its_value_after_the_sleep() {
    let mut g = mode_tests().await;
    let start = Instant::now();
    assert_eq!(wave(&mut g, &format!("{SLOW}#sleep-for(30)")).await, "30");
    assert!(start.elapsed() >= Duration::from_millis(30));
}

#[tokio::test]
async fn a_task_spawned_in_one_call_is_done_when_a_later_call_returns() {
    let mut g = mode_tests().await;
    wave(&mut g, &format!("{SLOW}#spawn-later(10)")).await;
    assert_eq!(
        wave(&mut g, &format!("{SLOW}#counter()")).await,
        "0",
        "nothing runs between calls"
    );
    // This call drives the runtime for 60 ms, long enough for the task.
    wave(&mut g, &format!("{SLOW}#sleep-for(60)")).await;
    assert_eq!(wave(&mut g, &format!("{SLOW}#counter()")).await, "1");
}

#[tokio::test]
async fn a_panic_in_async_author_code_is_a_clean_trap() {
    let mut g = mode_tests().await;
    let err = g
        .call_wave(&format!("{SLOW}#boom(\"no more\")"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Trap);
    let wasync_harness::Error::Trap { panic, export, .. } = &err else {
        unreachable!()
    };
    assert_eq!(panic.as_deref(), Some("no more"));
    assert_eq!(export, &format!("{SLOW}#boom"));
}

#[test]
fn a_mode_s_component_imports_nothing_of_wasync() {
    let engine = HARNESS.engine();
    for path in [
        test_programs::MODE_TESTS,
        test_programs::COMPOSE_FRONTEND,
        test_programs::COMPOSE_BACKEND,
    ] {
        let loaded = HARNESS.compile(path).unwrap();
        let ty = loaded.component().component_type();
        let imports: Vec<String> = ty.imports(engine).map(|(n, _)| n.to_owned()).collect();
        assert!(
            !imports.iter().any(|i| i.starts_with("wasync:")),
            "{path}: {imports:?}"
        );
        let exports: Vec<String> = ty.exports(engine).map(|(n, _)| n.to_owned()).collect();
        assert!(
            !exports.iter().any(|e| e.starts_with("wasync:")),
            "{path}: {exports:?}"
        );
    }
    // The same source in mode C speaks the ABI.
    let c = HARNESS.compile(test_programs::MODE_TESTS_C).unwrap();
    let ty = c.component().component_type();
    assert!(
        ty.imports(engine)
            .any(|(n, _)| n == "wasync:abi/host@0.1.0")
    );
    assert!(
        ty.exports(engine)
            .any(|(n, _)| n == "wasync:abi/guest@0.1.0")
    );
}

/// A host with nothing of ours: wasmtime-wasi's p2 linker alone.
mod plain {
    use wasmtime::component::{Component, Linker, ResourceTable, Val};
    use wasmtime::{Engine, Store};
    use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
    use wasync_harness::wasmtime;

    struct State {
        wasi: WasiCtx,
        table: ResourceTable,
    }

    impl WasiView for State {
        fn ctx(&mut self) -> WasiCtxView<'_> {
            WasiCtxView {
                ctx: &mut self.wasi,
                table: &mut self.table,
            }
        }
    }

    /// Calls `iface#func` of the component in `bytes` under a plain
    /// wasmtime-wasi host.
    pub async fn call(bytes: &[u8], iface: &str, func: &str, args: &[Val]) -> Vec<Val> {
        let engine = Engine::default();
        let component = Component::new(&engine, bytes).unwrap();
        let mut linker = Linker::<State>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).unwrap();
        let mut store = Store::new(
            &engine,
            State {
                wasi: WasiCtx::builder().build(),
                table: ResourceTable::new(),
            },
        );
        let instance = linker
            .instantiate_async(&mut store, &component)
            .await
            .unwrap();
        let iface = instance.get_export_index(&mut store, None, iface).unwrap();
        let func_idx = instance
            .get_export_index(&mut store, Some(&iface), func)
            .unwrap();
        let f = instance.get_func(&mut store, func_idx).unwrap();
        let mut results = vec![Val::Bool(false); f.ty(&store).results().len()];
        f.call_async(&mut store, args, &mut results).await.unwrap();
        results
    }
}

#[tokio::test]
async fn a_mode_s_component_runs_under_a_plain_wasmtime_wasi_host() {
    let bytes = std::fs::read(test_programs::MODE_TESTS).unwrap();
    let out = plain::call(
        &bytes,
        SLOW,
        "fan-out",
        &[Val::List(vec![Val::U32(3), Val::U32(3000)]), Val::U32(1000)],
    )
    .await;
    assert_eq!(
        results_to_wave(&out).unwrap(),
        r#"{finished: [3], timed-out: 1, joined: "left+right"}"#
    );
}

#[tokio::test]
async fn a_static_composition_awaits_the_imported_async_function() {
    let bytes = wasync_harness::compose::compose(
        test_programs::COMPOSE_FRONTEND.as_ref(),
        &[test_programs::COMPOSE_BACKEND.parse().unwrap()],
    )
    .unwrap();
    let start = Instant::now();
    let out = plain::call(
        &bytes,
        "examples:wasync/frontend",
        "relay",
        &[Val::String("quiet".into()), Val::U32(40)],
    )
    .await;
    assert_eq!(out, [Val::String("[QUIET]".into())]);
    // The frontend's call waited for the backend's whole sleep: in mode S
    // a call into A runs A, then B, then A again, start to finish.
    assert!(start.elapsed() >= Duration::from_millis(40));
}

#[tokio::test]
async fn calls_into_a_static_composition_serialise() {
    let bytes = wasync_harness::compose::compose(
        test_programs::COMPOSE_FRONTEND.as_ref(),
        &[test_programs::COMPOSE_BACKEND.parse().unwrap()],
    )
    .unwrap();
    let loaded = HARNESS.compile_bytes("frontend+backend", &bytes).unwrap();
    // A host that overlaps whatever the component lets it: a mode S
    // component exports plain functions, so each call runs to its end.
    let mut host = HARNESS.concurrent(&WasiOptions::captured()).unwrap();
    let ab = host.add("frontend+backend", &loaded, &[]).await.unwrap();
    let d = host.start();
    d.record_trace(true);
    let relay = tokio::spawn(
        d.call_concurrent_wave(ab, r#"examples:wasync/frontend#relay("slow", 200)"#)
            .unwrap(),
    );
    tokio::time::sleep(Duration::from_millis(20)).await;
    let ping = d
        .call_concurrent_wave(ab, "examples:wasync/frontend#ping()")
        .unwrap()
        .await
        .unwrap();
    assert_eq!(ping, [Val::String("pong".into())]);
    assert!(relay.is_finished(), "ping ran while the relay waited on B");
    assert_eq!(
        relay.await.unwrap().unwrap(),
        [Val::String("[SLOW]".into())]
    );
    let trace = d.trace();
    assert_eq!(trace.len(), 2, "{trace:?}");
    assert!(!trace[0].overlaps(&trace[1]), "{trace:?}");
}

#[tokio::test]
async fn a_chain_of_three_composes_and_runs() {
    let bytes = wasync_harness::compose::compose_chain(&[
        test_programs::COMPOSE_FRONTEND.into(),
        test_programs::COMPOSE_MIDDLE.into(),
        test_programs::COMPOSE_BACKEND.into(),
    ])
    .unwrap();
    let out = plain::call(
        &bytes,
        "examples:wasync/frontend",
        "relay",
        &[Val::String("far".into()), Val::U32(5)],
    )
    .await;
    assert_eq!(out, [Val::String("[FAR (via middle)]".into())]);
}

#[test]
fn composing_without_a_matching_plug_is_a_clear_error() {
    let err = wasync_harness::compose::compose(
        test_programs::COMPOSE_FRONTEND.as_ref(),
        &[test_programs::HELLO.parse().unwrap()],
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Compose);
    assert!(err.to_string().contains("matches an import"), "{err}");
}
