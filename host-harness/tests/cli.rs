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
