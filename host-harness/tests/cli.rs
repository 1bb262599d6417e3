//! The `wasync-harness` binary, run for real.

use assert_cmd::Command;
use predicates::prelude::*;

fn harness() -> Command {
    Command::cargo_bin("wasync-harness").unwrap()
}

#[test]
fn call_prints_the_result_in_wave() {
    harness()
        .args(["call", test_programs::HELLO, r#"greet("world")"#])
        .assert()
        .success()
        .stdout("\"hello, world\"\n");
}

#[test]
fn call_passes_dirs_and_env_through() {
    let dir = tempfile::tempdir().unwrap();
    let mount = format!("{}::/data", dir.path().display());
    harness()
        .args(["call", test_programs::HELLO, "preopens()", "--dir", &mount])
        .assert()
        .success()
        .stdout("[\"/data\"]\n");
    harness()
        .args(["call", test_programs::HELLO, "env-vars()", "--env", "A=1"])
        .assert()
        .success()
        .stdout("[(\"A\", \"1\")]\n");
}

#[test]
fn wit_prints_imports_and_exports() {
    harness()
        .args(["wit", test_programs::CC_GREETER])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "export greet: func(name: string) -> greeting;",
        ))
        .stdout(predicate::str::contains("record greeting"));
}

/// Each error is one line on stderr naming the cause, with a failing exit.
fn fails_with(args: &[&str], needle: &str) {
    let out = harness().args(args).assert().failure().get_output().clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    let error_lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(error_lines.len(), 1, "{stderr}");
    assert!(error_lines[0].contains(needle), "{stderr}");
}

#[test]
fn errors_are_one_clear_line() {
    fails_with(&["call", "/no/such.wasm", "f()"], "no such file");
    fails_with(&["call", "Cargo.toml", "f()"], "not a WebAssembly file");
    fails_with(
        &["call", test_programs::HELLO, "nope()"],
        "no export `nope`",
    );
    fails_with(
        &["call", test_programs::HELLO, "greet(1, 2)"],
        "bad arguments for `greet`",
    );
    fails_with(
        &["call", test_programs::HELLO, "greet("],
        "cannot parse the call",
    );
    fails_with(
        &["call", test_programs::HELLO, r#"boom("bang")"#],
        "guest panicked: bang",
    );
}

#[test]
fn a_bad_flag_value_is_rejected_by_name() {
    harness()
        .args([
            "call",
            test_programs::HELLO,
            "greet(\"x\")",
            "--env",
            "NOEQUALS",
        ])
        .assert()
        .failure()
        .stderr(
            predicate::str::contains("--env").and(predicate::str::contains("expected KEY=VALUE")),
        );
}

#[test]
fn help_lists_every_subcommand() {
    harness()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("call").and(predicate::str::contains("wit")));
}

fn wasm(name: &str) -> String {
    test_programs::path(name).unwrap().to_owned()
}

#[test]
fn compose_writes_a_static_composition_that_runs() {
    let out = tempfile::tempdir().unwrap().keep().join("ab.wasm");
    harness()
        .args([
            "compose",
            &wasm("compose-frontend"),
            "--plug",
            &wasm("compose-backend"),
            "-o",
        ])
        .arg(&out)
        .assert()
        .success()
        .stdout(predicate::str::contains("wrote"));
    harness()
        .arg("call")
        .arg(&out)
        .arg(r#"examples:wasync/frontend#relay("cli", 1)"#)
        .assert()
        .success()
        .stdout("\"[CLI]\"\n");
}

#[test]
fn compose_concurrent_runs_overlapping_calls_and_writes_a_trace() {
    let trace = tempfile::NamedTempFile::new().unwrap();
    harness()
        .args(["compose", &wasm("compose-frontend-c"), "--plug"])
        .arg(format!(
            "examples:wasync/backend={}",
            wasm("compose-backend-c")
        ))
        .args([
            "--concurrent",
            "--call",
            r#"examples:wasync/frontend#relay("a", 100)"#,
        ])
        .args(["--call", "examples:wasync/frontend#ping()", "--trace"])
        .arg(trace.path())
        .assert()
        .success()
        .stdout(
            predicate::str::contains(r#"= "[A]""#).and(predicate::str::contains(r#"= "pong""#)),
        );
    let events: serde_json::Value =
        serde_json::from_slice(&std::fs::read(trace.path()).unwrap()).unwrap();
    let events = events.as_array().unwrap();
    let (external, forwarded): (Vec<_>, Vec<_>) =
        events.iter().partition(|e| e["caller"].is_null());
    assert_eq!(external.len(), 2, "{events:?}");
    // The ping started after the relay and ended before it.
    assert!(
        external[1]["end_us"].as_u64() < external[0]["end_us"].as_u64(),
        "{events:?}"
    );
    // The relay's call into the backend, which the host forwarded.
    assert_eq!(forwarded.len(), 1, "{events:?}");
    assert_eq!(forwarded[0]["instance"], "compose-backend-c");
    assert_eq!(forwarded[0]["caller"], "compose-frontend-c");
}

#[test]
fn compose_concurrent_links_a_chain() {
    harness()
        .args(["compose", &wasm("compose-frontend-c")])
        .args(["--plug", &wasm("compose-middle-c")])
        .args(["--plug", &wasm("compose-backend-c")])
        .args([
            "--chain",
            "--concurrent",
            "--call",
            r#"examples:wasync/frontend#relay("far", 5)"#,
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains(r#"= "[FAR (via middle)]""#));
}

#[test]
fn lower_prints_each_mode() {
    let wit = format!("{}/../wit", env!("CARGO_MANIFEST_DIR"));
    harness()
        .args(["lower", &wit, "--world", "compose-frontend", "--mode", "S"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "relay: func(text: string, ms: u32) -> string;",
        ));
    harness()
        .args(["lower", &wit, "--world", "compose-frontend", "--mode", "C"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains(
                "relay-start: func(text: string, ms: u32) -> result<string, u32>;",
            )
            .and(predicate::str::contains("import wasync:abi/host@0.1.0;")),
        );
    harness()
        .args(["lower", &wit, "--world", "compose-frontend", "--mode", "Z"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("unknown mode `Z`"));
}

/// Every line of a `--json` benchmark is an object with these fields.
fn json_lines(args: &[&str], fields: &[&str]) -> Vec<serde_json::Value> {
    let out = harness()
        .args(args)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let rows: Vec<serde_json::Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    assert!(!rows.is_empty());
    for row in &rows {
        for f in fields {
            assert!(row.get(f).is_some(), "{row} lacks `{f}`");
        }
    }
    rows
}

#[test]
fn bench_runtime_prints_json_lines() {
    let rows = json_lines(
        &[
            "bench",
            "runtime",
            "--quick",
            "--json",
            "--storm-limit",
            "2",
        ],
        &["bench", "runtime"],
    );
    let timers: Vec<_> = rows.iter().filter(|r| r["bench"] == "timers").collect();
    assert_eq!(timers.len(), 2);
    for t in timers {
        for f in [
            "n",
            "finished",
            "wall_ms",
            "mean_lateness_ms",
            "max_lateness_ms",
        ] {
            assert!(t.get(f).is_some(), "{t} lacks {f}");
        }
    }
    assert!(
        rows.iter()
            .any(|r| r["bench"] == "idle" && r.get("ns_per_run").is_some() && r.get("m").is_some())
    );
    assert!(
        rows.iter()
            .any(|r| r["bench"] == "spawn" && r.get("ns_per_task").is_some())
    );
    // wasync's spawn row carries its ratio to wstd's time in the same run.
    assert!(rows.iter().any(|r| r["bench"] == "spawn"
        && r["runtime"] == "wasync"
        && r["vs_wstd"].as_f64().is_some_and(|x| x > 0.0)));
    assert!(rows.iter().any(|r| r["bench"] == "poll-turn"));
}

#[test]
fn bench_calls_prints_json_lines_saves_them_and_compares_with_a_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("run.jsonl");
    // A baseline in which the plain call took 1 ns: this run is far worse.
    let baseline = dir.path().join("baseline.jsonl");
    std::fs::write(
        &baseline,
        "{\"meta\":{\"cores\":2}}\n{\"bench\":\"call-overhead\",\"mode\":\"plain\",\"concurrency_support\":false,\"ns_per_call\":1}\n",
    )
    .unwrap();
    let out = harness()
        .args(["bench", "calls", "--quick", "--json", "--save"])
        .arg(&saved)
        .arg("--baseline")
        .arg(&baseline)
        .assert()
        .success()
        .get_output()
        .clone();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    // The saved run is the rows printed, after a line describing the machine.
    let stored = std::fs::read_to_string(&saved).unwrap();
    let mut stored = stored.lines();
    assert!(stored.next().unwrap().starts_with("{\"meta\":"));
    assert_eq!(
        stored.collect::<Vec<_>>(),
        stdout.lines().collect::<Vec<_>>()
    );
    // The comparison goes to stderr, and flags the plain call.
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("1 figures compared, 1 worse than the baseline by more than 1.25x"),
        "{stderr}"
    );
    assert!(stderr.contains("WORSE"), "{stderr}");
    for mode in ["plain", "S", "C"] {
        assert!(rows.iter().any(|r| r["bench"] == "call-overhead"
            && r["mode"] == mode
            && r.get("ns_per_call").is_some()));
    }
    for mode in ["C", "S"] {
        assert!(rows.iter().any(|r| {
            r["bench"] == "calls"
                && r["mode"] == mode
                && ["calls", "sleep_ms", "wall_ms"]
                    .iter()
                    .all(|f| r.get(f).is_some())
        }));
    }
}

#[test]
fn bench_autocomplete_prints_json_lines() {
    let rows = json_lines(
        &["bench", "autocomplete", "--quick", "--json"],
        &["bench", "mode", "calls", "wall_ms", "p50_ms", "p99_ms"],
    );
    let modes: Vec<&str> = rows.iter().filter_map(|r| r["mode"].as_str()).collect();
    assert_eq!(modes, ["C", "S", "S-per-request"]);
}

#[test]
fn the_demo_runs_both_modes_and_writes_its_timeline() {
    let svg = tempfile::tempdir().unwrap().keep().join("timeline.svg");
    harness()
        .args([
            "demo",
            "--users",
            "3",
            "--keystrokes",
            "2",
            "--slow-ms",
            "60",
            "--timeout-ms",
            "30",
            "--svg",
        ])
        .arg(&svg)
        .assert()
        .success()
        .stdout(
            predicate::str::contains("mode S:")
                .and(predicate::str::contains("mode C:"))
                .and(predicate::str::contains("faster than in mode S")),
        );
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg") && text.contains("mode S:") && text.contains("mode C:"));
    // One lane per call: 3 users x 2 keystrokes, in each mode.
    assert_eq!(text.matches("<rect x=").count(), 12);
}

#[test]
fn call_runs_a_mode_c_component_in_a_wasync_host() {
    harness()
        .args([
            "call",
            &wasm("mode-tests-c"),
            "examples:wasync/slow#sleep-for(5)",
        ])
        .assert()
        .success()
        .stdout("5\n");
}
