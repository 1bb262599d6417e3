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
            r#"examples:wasync/frontend#relay("a", 1000)"#,
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
    // The ping started after the relay and ended before it (the relay's
    // backend sleeps a second: the ping's margin).
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

/// Every line of a `--json` benchmark is an object with these fields. It
/// runs the guests `cargo test` built (the test profile), which are up to
/// date: the benchmark builds nothing.
fn json_lines(args: &[&str], fields: &[&str]) -> Vec<serde_json::Value> {
    let out = harness()
        .args(["--guest-profile", "test"])
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
            "p99_lateness_ms",
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
        .args(["--guest-profile", "test"])
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
    for mode in ["plain", "S", "C", "N", "wit-bindgen"] {
        assert!(
            rows.iter().any(|r| r["bench"] == "call-overhead"
                && r["mode"] == mode
                && r.get("ns_per_call").is_some()),
            "no call-overhead row for {mode}"
        );
    }
    for mode in ["C", "S", "N", "wit-bindgen"] {
        assert!(
            rows.iter().any(|r| {
                r["bench"] == "calls"
                    && r["mode"] == mode
                    && [
                        "calls",
                        "sleep_ms",
                        "wall_ms",
                        "peak_rss_mb",
                        "rss_growth_mb",
                    ]
                    .iter()
                    .all(|f| r.get(f).is_some())
            }),
            "no calls row for {mode}"
        );
    }
    // The host counts the native guests' `wait-until`s: wasync's one timer
    // against bare wit-bindgen's one per sleeping call.
    let overlapping = |mode: &str| {
        rows.iter()
            .find(|r| r["bench"] == "calls" && r["mode"] == mode && r["calls"] == 100)
            .unwrap_or_else(|| panic!("no row of 100 {mode} calls"))
    };
    assert_eq!(overlapping("N")["max_outstanding_wait_untils"], 1);
    assert_eq!(overlapping("wit-bindgen")["wait_untils"], 100);
    assert!(overlapping("C").get("wait_untils").is_none());
}

#[test]
fn bench_timers_prints_json_lines_with_the_wait_untils_the_host_saw() {
    let rows = json_lines(
        &["bench", "timers", "--quick", "--json"],
        &[
            "bench",
            "runtime",
            "n",
            "spread_ms",
            "finished",
            "wall_ms",
            "mean_lateness_ms",
            "p99_lateness_ms",
            "max_lateness_ms",
            "early",
        ],
    );
    let runtimes: Vec<&str> = rows.iter().filter_map(|r| r["runtime"].as_str()).collect();
    assert_eq!(runtimes, ["wasync-N", "wit-bindgen", "wasync-C"]);
    for r in &rows {
        assert_eq!(r["bench"], "timers");
        assert_eq!(r["finished"], true, "{r}");
        assert_eq!(r["early"], 0, "{r}");
    }
    // wasync keeps every timer behind one `wait-until`; bare wit-bindgen
    // starts one per timer. Mode C waits on WASI 0.2 pollables: no count.
    let n = rows[0]["n"].as_u64().unwrap();
    assert_eq!(rows[0]["max_outstanding_wait_untils"], 1, "{}", rows[0]);
    assert_eq!(rows[1]["wait_untils"].as_u64(), Some(n), "{}", rows[1]);
    assert!(rows[2].get("wait_untils").is_none());
}

#[test]
fn bench_autocomplete_prints_json_lines() {
    let rows = json_lines(
        &["bench", "autocomplete", "--quick", "--json"],
        &["bench", "mode", "calls", "wall_ms", "p50_ms", "p99_ms"],
    );
    let modes: Vec<&str> = rows.iter().filter_map(|r| r["mode"].as_str()).collect();
    assert_eq!(modes, ["C", "N", "S", "S-per-request"]);
}

#[test]
fn bench_http_prints_json_lines_for_modes_s_and_n() {
    let rows = json_lines(
        &[
            "bench",
            "http",
            "--json",
            "--requests",
            "6",
            "--concurrency",
            "2",
        ],
        &[
            "bench",
            "mode",
            "host",
            "requests",
            "concurrency",
            "p50_ms",
            "p99_ms",
            "rps",
            "instances",
        ],
    );
    let runs: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r["mode"].as_str().unwrap(), r["host"].as_str().unwrap()))
        .collect();
    // The stock CLI's rows need it installed, which the guest pipeline
    // did.
    let expected: &[(&str, &str)] = &[
        ("S", "harness"),
        ("N", "harness"),
        ("S", "wasmtime-serve"),
        ("N", "wasmtime-serve"),
    ];
    assert_eq!(runs, expected);
    for row in &rows {
        assert_eq!(row["requests"], 6, "{row}");
        assert!(row["instances"].as_u64().unwrap() >= 1, "{row}");
    }
}

#[test]
fn the_demo_runs_every_mode_and_writes_its_timeline() {
    let svg = tempfile::tempdir().unwrap().keep().join("timeline.svg");
    harness()
        .args([
            "--guest-profile",
            "test",
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
                .and(predicate::str::contains("mode N:"))
                .and(predicate::str::contains("faster than in mode S")),
        );
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg"));
    for mode in ["S", "C", "N"] {
        assert!(
            text.contains(&format!("mode {mode}:")),
            "no panel of mode {mode}"
        );
    }
    assert!(text.contains("every mode on one time axis"));
    // 3 users x 2 keystrokes in each of 3 modes: every call once in the
    // shared panel and once in its mode's panel.
    assert_eq!(text.matches("<rect x=").count(), 36);
}

/// The `turns` field of a `stats()` result printed in WAVE.
fn turns(wave: &str) -> u64 {
    let rest = wave.split("turns: ").nth(1).expect("a turns field");
    rest.split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn call_repeat_makes_the_call_that_many_times_on_one_instance() {
    // Every entry of a mode C instance runs one turn of its runtime after
    // its body, so each earlier `stats()` call shows in the last one's
    // `turns`.
    let stats = |repeat: &str| {
        let out = harness()
            .args([
                "call",
                &wasm("mode-tests-c"),
                "examples:wasync/slow#stats()",
            ])
            .args(["--repeat", repeat])
            .assert()
            .success();
        turns(&String::from_utf8_lossy(&out.get_output().stdout))
    };
    let once = stats("1");
    assert_eq!(stats("4"), once + 3, "three more calls, three more turns");
    // A mode S component repeats on its one plain instance.
    harness()
        .args(["call", test_programs::HELLO, r#"greet("world")"#])
        .args(["--repeat", "3"])
        .assert()
        .success()
        .stdout("\"hello, world\"\n");
    fails_with(
        &[
            "call",
            test_programs::HELLO,
            r#"greet("x")"#,
            "--repeat",
            "0",
        ],
        "--repeat",
    );
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

#[test]
fn run_gives_a_command_the_process_stdio_and_arguments_and_takes_its_exit_status() {
    harness()
        .args(["run", test_programs::JOBS, "--", "--deadline-ms", "500"])
        .write_stdin("b 20\na 10\nnever 60000\n")
        .assert()
        .success()
        .stdout("a done after 10 ms\nb done after 20 ms\n2 done, 1 cut off\n");
    // `main` returned `Err`: the command's status is the process's.
    harness()
        .args(["run", test_programs::JOBS])
        .write_stdin("not a job\n")
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "line 1: expected `NAME MILLISECONDS`",
        ));
}

#[test]
fn run_and_serve_refuse_components_of_the_wrong_kind() {
    fails_with(&["run", test_programs::HELLO], "wasi:cli/run#run");
    fails_with(
        &["serve", test_programs::JOBS, "--addr", "127.0.0.1:0"],
        "wasi:http/incoming-handler#handle (0.2) or wasi:http/handler#handle (0.3)",
    );
}

/// `wasync-harness serve` killed on drop, with the address it printed.
struct Serving {
    child: std::process::Child,
    addr: std::net::SocketAddr,
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(component: &str) -> Serving {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wasync-harness"))
        .args(["serve", component, "--addr", "127.0.0.1:0"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = std::io::BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("`serve` exited before it listened")
            .unwrap();
        if let Some(rest) = line.strip_prefix("serving http://") {
            break rest.split('/').next().unwrap().parse().unwrap();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    Serving { child, addr }
}

#[test]
fn serve_serves_a_mode_n_service_as_it_serves_mode_s() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    for component in [test_programs::HTTP_SERVICE, test_programs::HTTP_SERVICE_N] {
        let serving = serve(component);
        rt.block_on(async {
            let get = |path: &'static str| {
                wasync_harness::http_client::fetch(serving.addr, "GET", path, Default::default())
            };
            let hello = get("/hello").await.unwrap();
            assert_eq!(
                (hello.status, hello.text().as_str()),
                (200, "hello from wasync\n")
            );
            let slept = get("/sleep?ms=5").await.unwrap();
            assert_eq!((slept.status, slept.text().as_str()), (200, "slept 5 ms\n"));
        });
    }
}

#[test]
fn a_guest_over_a_limit_flag_is_stopped_with_one_clear_line() {
    fails_with(
        &[
            "call",
            &wasm("mode-tests"),
            "examples:wasync/slow#spin(0, 0)",
            "--call-timeout",
            "200ms",
        ],
        "went over its call timeout of 200ms",
    );
    fails_with(
        &[
            "call",
            &wasm("mode-tests-c"),
            "examples:wasync/slow#hog(0, 0)",
            "--max-memory",
            "16MiB",
        ],
        "went over its memory limit of 16 MiB",
    );
}

#[test]
fn network_access_is_loopback_only_when_asked_so() {
    harness()
        .args(["run", test_programs::NET_CLIENT, "--network", "loopback"])
        .args(["--", "lookup", "localhost"])
        .assert()
        .success()
        .stdout(predicate::str::contains("127.0.0.1").or(predicate::str::contains("::1")));
    harness()
        .args(["run", test_programs::NET_CLIENT, "--network", "loopback"])
        .args(["--", "tcp", "192.0.2.1:9", "x"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("the host denied network access"));
}

#[test]
fn bad_limit_values_are_rejected_by_name() {
    for (flag, value, needle) in [
        ("--max-memory", "lots", "expected a size"),
        ("--call-timeout", "2", "needs a unit"),
        ("--max-calls", "0", "at least 1"),
        ("--fuel", "five", "expected a whole number"),
    ] {
        harness()
            .args(["call", test_programs::HELLO, "greet(\"x\")", flag, value])
            .assert()
            .failure()
            .stderr(predicate::str::contains(flag).and(predicate::str::contains(needle)));
    }
}

#[test]
fn bench_soak_quick_ends_where_it_started() {
    let rows = json_lines(
        &["bench", "soak", "--quick", "--json"],
        &[
            "bench",
            "calls",
            "rss_start_mib",
            "rss_end_mib",
            "host_table_end",
            "live_tasks_end",
            "live_timers_end",
        ],
    );
    let r = &rows[0];
    assert_eq!(r["bench"], "soak");
    assert_eq!(r["calls"], 5_000, "{r}");
    assert!(r["cancelled"].as_u64().unwrap() > 0, "{r}");
    assert_eq!(r["host_table_end"], r["host_table_start"], "{r}");
    assert_eq!(
        (&r["live_tasks_end"], &r["live_timers_end"]),
        (&0.into(), &0.into()),
        "{r}"
    );
}

/// With `WASYNC_PERFMAP=1`, perf can name guest functions: the harness's
/// engine writes `/tmp/perf-<pid>.map` with the guest's compiled code.
#[test]
fn a_perf_map_names_the_guests_functions_when_the_environment_asks() {
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("wasync-harness"))
        .args(["call", test_programs::HELLO, r#"greet("world")"#])
        .env(wasync_harness::PERFMAP_ENV, "1")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let map = std::path::PathBuf::from(format!("/tmp/perf-{}.map", child.id()));
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let text = std::fs::read_to_string(&map).unwrap();
    std::fs::remove_file(&map).unwrap();
    assert!(
        text.lines().any(|l| l.contains("greet")),
        "no line of {} names `greet`:\n{}",
        map.display(),
        text.lines().take(20).collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn a_bad_perf_map_setting_is_one_clear_line() {
    harness()
        .env(wasync_harness::PERFMAP_ENV, "yes")
        .args(["call", test_programs::HELLO, r#"greet("world")"#])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "WASYNC_PERFMAP=yes: expected 1 (write a perf map) or 0",
        ));
}
