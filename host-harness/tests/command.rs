//! Commands: `#[wasync::main]` exports `wasi:cli/run`, which the harness
//! runs with stdin, arguments and captured output, and so does the stock
//! `wasmtime run`.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::LazyLock;

use wasync_harness::{ErrorKind, Harness, Stdin, WasiOptions};

static HARNESS: LazyLock<Harness> = LazyLock::new(|| Harness::new().expect("engine"));

/// Three 600 ms jobs and one that would take a minute, under a 1500 ms
/// deadline: run one after another, only two would finish in time.
const JOBS: &str = "a 600\nnever 60000\nb 600\n\nc 600\n";
const DEADLINE: &[&str] = &["--deadline-ms", "1500"];
/// `jobs` in modes S, C and N (stdin and stdout over `wasi:cli` 0.3).
const JOBS_ALL: [&str; 3] = [
    test_programs::JOBS,
    test_programs::JOBS_C,
    test_programs::JOBS_N,
];

fn options(stdin: &str, args: &[&str]) -> WasiOptions {
    WasiOptions {
        stdin: Stdin::Bytes(stdin.as_bytes().to_vec()),
        args: std::iter::once("jobs")
            .chain(args.iter().copied())
            .map(str::to_owned)
            .collect(),
        ..WasiOptions::captured()
    }
}

fn sorted_lines(text: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort_unstable();
    lines
}

/// What `jobs` prints for [`JOBS`]: the three jobs (in the order they
/// finished, which for equal sleeps is any), then the summary.
fn check_jobs_output(stdout: &str) {
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    assert_eq!(
        sorted_lines(&lines[..3].join("\n")),
        [
            "a done after 600 ms",
            "b done after 600 ms",
            "c done after 600 ms"
        ],
        "{stdout}"
    );
    assert_eq!(lines[3], "3 done, 1 cut off", "{stdout}");
}

#[tokio::test]
async fn a_command_reads_stdin_runs_its_jobs_at_once_and_cuts_off_the_late_one() {
    for path in JOBS_ALL {
        let loaded = HARNESS.load(path).unwrap();
        let exit = HARNESS
            .run_command(&loaded, &options(JOBS, DEADLINE))
            .await
            .unwrap();
        assert!(exit.success(), "{path}: {exit:?}");
        check_jobs_output(&exit.stdout.text());
    }
}

#[tokio::test]
async fn jobs_are_printed_in_the_order_they_finish() {
    for path in [test_programs::JOBS, test_programs::JOBS_N] {
        let loaded = HARNESS.load(path).unwrap();
        let exit = HARNESS
            .run_command(&loaded, &options("slow 400\nquick 20\nmiddle 150\n", &[]))
            .await
            .unwrap();
        assert_eq!(
            exit.stdout.text(),
            "quick done after 20 ms\nmiddle done after 150 ms\nslow done after 400 ms\n3 done, 0 cut off\n",
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_main_that_returns_err_exits_with_status_1_and_its_error_on_stderr() {
    for path in [test_programs::JOBS, test_programs::JOBS_N] {
        let loaded = HARNESS.load(path).unwrap();
        let exit = HARNESS
            .run_command(&loaded, &options("ok 10\nbroken\n", &[]))
            .await
            .unwrap();
        assert_eq!(exit.status, 1, "{path}: {exit:?}");
        assert_eq!(exit.stdout.text(), "", "{path}: no job started");
        let stderr = exit.stderr.text();
        assert!(
            stderr.contains("line 2: expected `NAME MILLISECONDS`, got `broken`"),
            "{path}: {stderr}"
        );
    }
}

#[tokio::test]
async fn a_component_without_wasi_cli_run_is_not_a_command() {
    let loaded = HARNESS.load(test_programs::HELLO).unwrap();
    let err = HARNESS
        .run_command(&loaded, &WasiOptions::captured())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::MissingExport);
    assert!(err.to_string().contains("wasi:cli/run#run"), "{err}");
}

/// Runs `wasmtime run` on `component` with `stdin`; returns (status,
/// stdout, stderr).
fn wasmtime_run(
    wasmtime: &std::path::Path,
    component: &str,
    args: &[&str],
    stdin: &str,
) -> (i32, String, String) {
    let mut child = Command::new(wasmtime)
        .arg("run")
        .arg(component)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_command_runs_under_the_stock_wasmtime_cli_as_under_the_harness() {
    let Some(wasmtime) = common::wasmtime_or_skip("the_command_runs_under_the_stock_wasmtime_cli")
    else {
        return;
    };
    for path in JOBS_ALL {
        let (status, stdout, stderr) = wasmtime_run(&wasmtime, path, DEADLINE, JOBS);
        assert_eq!(status, 0, "{path}: {stderr}");
        check_jobs_output(&stdout);
    }
    for path in [test_programs::JOBS, test_programs::JOBS_N] {
        let (status, stdout, stderr) = wasmtime_run(&wasmtime, path, &[], "ok 10\nbroken\n");
        assert_eq!((status, stdout.as_str()), (1, ""), "{path}: {stderr}");
        assert!(stderr.contains("line 2: expected"), "{path}: {stderr}");
    }
}

/// `sleepers` in modes S, C and N: one task per argument; each prints its
/// name as it wakes (sleeps far apart, so the order is certain).
const SLEEPERS: &[&str] = &["slow:800", "quick:10", "middle:400"];
const SLEEPERS_OUT: &str = "quick\nmiddle\nslow\n3 woke\n";
const SLEEPERS_ALL: [&str; 3] = [
    test_programs::SLEEPERS,
    test_programs::SLEEPERS_C,
    test_programs::SLEEPERS_N,
];

fn sleepers_options(args: &[&str]) -> WasiOptions {
    WasiOptions {
        args: std::iter::once("sleepers")
            .chain(args.iter().copied())
            .map(str::to_owned)
            .collect(),
        ..WasiOptions::captured()
    }
}

#[tokio::test]
async fn a_command_runs_alike_in_every_mode_under_the_harness_mode_n_through_wasi_cli_run_0_3() {
    for path in SLEEPERS_ALL {
        let loaded = HARNESS.load(path).unwrap();
        let exit = HARNESS
            .run_command(&loaded, &sleepers_options(SLEEPERS))
            .await
            .unwrap();
        assert!(exit.success(), "{path}: {exit:?}");
        assert_eq!(exit.stdout.text(), SLEEPERS_OUT, "{path}");
    }
}

#[tokio::test]
async fn a_mode_n_main_that_returns_err_exits_with_status_1_and_its_error_on_stderr() {
    let loaded = HARNESS.load(test_programs::SLEEPERS_N).unwrap();
    assert!(loaded.is_native());
    let exit = HARNESS
        .run_command(&loaded, &sleepers_options(&["fine:10", "broken"]))
        .await
        .unwrap();
    assert_eq!(exit.status, 1, "{exit:?}");
    assert_eq!(exit.stdout.text(), "", "no sleeper started");
    assert_eq!(
        exit.stderr.text(),
        "Error: \"`broken` is not NAME:MILLISECONDS\"\n"
    );
}

#[test]
fn a_mode_n_command_runs_under_the_stock_wasmtime_cli_as_in_modes_s_and_c() {
    let Some(wasmtime) = common::wasmtime_or_skip(
        "a_mode_n_command_runs_under_the_stock_wasmtime_cli_as_in_modes_s_and_c",
    ) else {
        return;
    };
    for path in SLEEPERS_ALL {
        let (status, stdout, stderr) = wasmtime_run(&wasmtime, path, SLEEPERS, "");
        assert_eq!(status, 0, "{path}: {stderr}");
        assert_eq!(stdout, SLEEPERS_OUT, "{path}");
    }
    let (status, stdout, stderr) =
        wasmtime_run(&wasmtime, test_programs::SLEEPERS_N, &["broken"], "");
    assert_eq!((status, stdout.as_str()), (1, ""), "{stderr}");
    assert!(
        stderr.contains("Error: \"`broken` is not NAME:MILLISECONDS\""),
        "{stderr}"
    );
}

/// `#[wasync::test]` on wasm: the pipeline builds the `jobs` library's
/// tests for `wasm32-wasip2` as a command, and it runs them on the real
/// host (the same tests run natively on the simulated host with `cargo
/// test` in `guest-examples/jobs`).
#[tokio::test]
async fn wasync_tests_built_for_wasm_run_under_the_harness() {
    let loaded = HARNESS.load(test_programs::JOBS_TESTS).unwrap();
    let exit = HARNESS
        .run_command(&loaded, &options("", &[]))
        .await
        .unwrap();
    let out = exit.stdout.text();
    assert!(exit.success(), "{exit:?}");
    assert!(
        out.contains("test tests::jobs_finish_shortest_first_and_the_late_one_is_cut_off_at_the_deadline ... ok"),
        "{out}"
    );
    assert!(out.contains("test result: ok. 2 passed; 0 failed"), "{out}");
}
