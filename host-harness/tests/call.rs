//! Calling real guests through the harness: results, WASI capabilities,
//! and every way a call can go wrong.

use std::sync::LazyLock;

use wasync_harness::wasmtime::component::Val;
use wasync_harness::{
    DirMount, ErrorKind, Harness, Instance, Loaded, WasiOptions, results_to_wave,
};

static HARNESS: LazyLock<Harness> = LazyLock::new(|| Harness::new().expect("engine"));
static HELLO: LazyLock<Loaded> = LazyLock::new(|| HARNESS.load(test_programs::HELLO).unwrap());

async fn hello(opts: WasiOptions) -> Instance {
    HARNESS.instantiate(&HELLO, &opts).await.unwrap()
}

fn s(v: &str) -> Val {
    Val::String(v.into())
}

#[tokio::test]
async fn greet_returns_the_greeting() {
    let mut inst = hello(WasiOptions::captured()).await;
    let out = inst.call("greet", &[s("world")]).await.unwrap();
    assert_eq!(out, [s("hello, world")]);
}

#[tokio::test]
async fn nap_sleeps_at_least_as_long_as_asked() {
    let mut inst = hello(WasiOptions::captured()).await;
    let out = inst.call_wave("nap(30)").await.unwrap();
    let [Val::U64(ns)] = out[..] else {
        panic!("unexpected {out:?}")
    };
    assert!(ns >= 30_000_000, "slept only {ns} ns");
}

#[tokio::test]
async fn a_cargo_component_guest_returns_a_record() {
    let loaded = HARNESS.load(test_programs::CC_GREETER).unwrap();
    let mut inst = HARNESS
        .instantiate(&loaded, &WasiOptions::captured())
        .await
        .unwrap();
    let out = inst.call_wave(r#"greet("Ada")"#).await.unwrap();
    assert_eq!(
        results_to_wave(&out).unwrap(),
        r#"{text: "greetings, Ada", vowels: 2}"#
    );
}

#[tokio::test]
async fn output_is_captured_per_stream() {
    let mut inst = hello(WasiOptions::captured()).await;
    inst.call("say", &[s("pipes work")]).await.unwrap();
    assert_eq!(inst.stdout().text(), "pipes work\n");
    assert_eq!(inst.stderr().text(), "pipes work\n");
}

#[tokio::test]
async fn a_guest_gets_no_environment_or_directories_by_default() {
    let mut inst = hello(WasiOptions::captured()).await;
    assert_eq!(
        inst.call("env-vars", &[]).await.unwrap(),
        [Val::List(vec![])]
    );
    assert_eq!(
        inst.call("preopens", &[]).await.unwrap(),
        [Val::List(vec![])]
    );
}

#[tokio::test]
async fn configured_environment_and_directories_are_visible() {
    let dir = tempfile::tempdir().unwrap();
    let opts = WasiOptions {
        env: vec![("COLOUR".into(), "teal".into())],
        dirs: vec![DirMount {
            host: dir.path().to_owned(),
            guest: "/data".into(),
            read_only: true,
        }],
        ..WasiOptions::captured()
    };
    let mut inst = hello(opts).await;
    assert_eq!(
        inst.call("env-vars", &[]).await.unwrap(),
        [Val::List(vec![Val::Tuple(vec![s("COLOUR"), s("teal")])])]
    );
    assert_eq!(
        inst.call("preopens", &[]).await.unwrap(),
        [Val::List(vec![s("/data")])]
    );
}

#[tokio::test]
async fn the_network_is_closed_unless_configured() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = Val::U16(listener.local_addr().unwrap().port());

    let mut closed = hello(WasiOptions::captured()).await;
    let out = closed
        .call("connect", std::slice::from_ref(&port))
        .await
        .unwrap();
    let [Val::Result(Err(Some(reason)))] = &out[..] else {
        panic!("connecting without network succeeded: {out:?}")
    };
    assert!(
        format!("{reason:?}").contains("access-denied"),
        "{reason:?}"
    );

    let mut open = hello(WasiOptions {
        network: wasync_harness::NetworkAccess::Any,
        ..WasiOptions::captured()
    })
    .await;
    let out = open.call("connect", &[port]).await.unwrap();
    assert_eq!(out, [Val::Result(Ok(None))]);
}

#[tokio::test]
async fn a_missing_export_lists_the_real_ones() {
    let mut inst = hello(WasiOptions::captured()).await;
    let err = inst.call("grete", &[s("x")]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::MissingExport);
    let msg = err.to_string();
    assert!(msg.contains("`grete`") && msg.contains("greet"), "{msg}");
}

#[tokio::test]
async fn the_wrong_number_of_arguments_is_bad_input() {
    let mut inst = hello(WasiOptions::captured()).await;
    let err = inst.call("greet", &[]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BadArguments);
    assert!(
        err.to_string()
            .contains("expected 1 argument(s) (name: string), got 0"),
        "{err}"
    );
}

#[tokio::test]
async fn the_wrong_argument_type_is_bad_input() {
    let mut inst = hello(WasiOptions::captured()).await;
    let err = inst.call("greet", &[Val::U32(7)]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BadArguments);
    assert!(
        err.to_string().contains("name: expected string, got u32"),
        "{err}"
    );

    let err = inst.call_wave("nap(\"soon\")").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BadArguments);
    assert!(err.to_string().contains("takes (ms: u32)"), "{err}");
    // Bad input never poisons the instance.
    assert_eq!(
        inst.call("greet", &[s("again")]).await.unwrap(),
        [s("hello, again")]
    );
}

#[tokio::test]
async fn malformed_wave_is_a_syntax_error() {
    let mut inst = hello(WasiOptions::captured()).await;
    let err = inst.call_wave("greet(\"unterminated)").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BadCallSyntax);
}

#[tokio::test]
async fn a_trap_carries_the_panic_message_and_backtrace_and_kills_the_instance() {
    let mut inst = hello(WasiOptions::captured()).await;
    let err = inst
        .call("boom", &[s("the roof is on fire")])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Trap);
    let wasync_harness::Error::Trap {
        export,
        message,
        panic,
        backtrace,
    } = &err
    else {
        panic!("unexpected {err:?}")
    };
    assert_eq!(export, "boom");
    assert!(message.contains("unreachable"), "{message}");
    assert_eq!(panic.as_deref(), Some("the roof is on fire"));
    assert!(backtrace.contains("boom"), "{backtrace}");

    let again = inst.call("greet", &[s("x")]).await.unwrap_err();
    assert_eq!(again.kind(), ErrorKind::InstanceDead);
}
