//! What a user of wasync does, from an empty folder outside this
//! repository: a crate that depends on wasync by git, a cargo-component
//! project, and an installed `wasync-harness`. Each builds from scratch
//! with the user's own commands (`wasync-harness new`, `cargo build`,
//! `cargo component build`, `cargo install`), and the components it makes
//! are checked in the harness.
//!
//! The dependency is a git snapshot of this checkout (its tracked files and
//! the new ones git does not ignore, as they are now), so a file that only
//! exists in a developer's tree, or that the repository's guest pipeline
//! writes, cannot make it pass.
//!
//! These tests build whole crates, so they are kept out of the
//! edit-and-test loop: CI runs them (`.ci/run`) with
//! `cargo test -p wasync-harness --features user-path --test user_path`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::LazyLock;

use wasync_harness::{Harness, WasiOptions, results_to_wave};

static HARNESS: LazyLock<Harness> = LazyLock::new(|| Harness::new().expect("engine"));

/// This checkout.
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// Where the user crates of these tests build: one folder, so that reruns
/// only rebuild what changed.
fn target_dir(what: &str) -> PathBuf {
    repo().join("target").join("user-path").join(what)
}

/// A fresh, empty folder outside the repository.
fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wasync-user-path-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `cmd` in `dir` and returns its stdout; a failure shows everything
/// it printed.
fn run(cmd: &mut Command, dir: &Path) -> String {
    cmd.current_dir(dir);
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    if !out.status.success() {
        report_now(cmd, &out);
        panic!(
            "{cmd:?} in {} failed:\n{}\n{}",
            dir.display(),
            text(&out.stdout),
            text(&out.stderr)
        );
    }
    text(&out.stdout)
}

/// Writes a failed command's status and the end of its stderr straight to
/// this process's stderr, past the test harness's capture. A CI log that
/// keeps only the lines around `FAILED` then still says why: the panic
/// message, with the whole output of a failed `cargo install`, comes
/// hundreds of lines later.
fn report_now(cmd: &Command, out: &std::process::Output) {
    use std::io::Write;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    let tail = lines[lines.len().saturating_sub(20)..].join("\n");
    let program = cmd.get_program().to_string_lossy();
    let args: Vec<_> = cmd.get_args().map(|a| a.to_string_lossy()).collect();
    // Ignored: if stderr itself is gone, the panic below still reports.
    let _ = writeln!(
        std::io::stderr(),
        "user_path: `{program} {}` failed ({}); the end of its stderr:\n{tail}",
        args.join(" "),
        out.status
    );
}

fn git(dir: &Path, args: &[&str]) -> String {
    run(
        Command::new("git")
            .args([
                "-c",
                "user.name=wasync",
                "-c",
                "user.email=wasync@localhost",
            ])
            .args(args),
        dir,
    )
}

/// A git repository holding this checkout as it is now: tracked files and
/// new files git does not ignore. Returns its folder.
fn snapshot(tag: &str) -> PathBuf {
    let dest = scratch(&format!("{tag}-repo"));
    let listed = git(
        &repo(),
        &[
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ],
    );
    for file in listed.split('\0').filter(|f| !f.is_empty()) {
        let from = repo().join(file);
        // A tracked file deleted in the working tree is not part of it.
        if !from.is_file() {
            continue;
        }
        let to = dest.join(file);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&from, &to).unwrap();
    }
    git(&dest, &["init", "-q"]);
    git(&dest, &["add", "-A"]);
    git(&dest, &["commit", "-q", "-m", "snapshot"]);
    dest
}

fn file_url(dir: &Path) -> String {
    format!("file://{}", dir.display())
}

/// The `wasync-harness` binary of this build.
fn harness_bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_wasync-harness"))
}

/// `cargo`, cleaned of what the outer `cargo test` set, building into
/// `target`.
fn cargo(target: &Path) -> Command {
    let mut cmd = wasync_build::cargo();
    cmd.env("CARGO_TARGET_DIR", target);
    cmd
}

/// Builds the crate in `dir` for wasm32-wasip2 in one mode (S without a
/// feature, C with `concurrent`, N with `native`) and copies the component
/// out, named for the mode.
fn build_mode(dir: &Path, crate_name: &str, feature: Option<&str>) -> PathBuf {
    let target = target_dir("crates");
    let mut cmd = cargo(&target);
    cmd.args(["build", "--target", "wasm32-wasip2"]);
    if let Some(feature) = feature {
        cmd.args(["--features", feature]);
    }
    run(&mut cmd, dir);
    let built = target
        .join("wasm32-wasip2/debug")
        .join(format!("{}.wasm", crate_name.replace('-', "_")));
    let out = dir.join(format!("{crate_name}-{}.wasm", feature.unwrap_or("s")));
    std::fs::copy(&built, &out).unwrap();
    out
}

/// Calls `calls` (WAVE) one after another on a mode S instance, and all at
/// once on a mode C or N instance; returns both lists of results in WAVE.
async fn results_in_both_modes(s: &Path, c: &Path, calls: &[&str]) -> (Vec<String>, Vec<String>) {
    let loaded_s = HARNESS.load(s).unwrap();
    let mut inst = HARNESS
        .instantiate(&loaded_s, &WasiOptions::captured())
        .await
        .unwrap();
    let mut in_s = Vec::new();
    for call in calls {
        in_s.push(results_to_wave(&inst.call_wave(call).await.unwrap()).unwrap());
    }
    let loaded_c = HARNESS.compile(c).unwrap();
    let mut host = HARNESS.concurrent(&WasiOptions::captured()).unwrap();
    let id = host.add("user-crate", &loaded_c, &[]).await.unwrap();
    let driver = host.start();
    let pending: Vec<_> = calls
        .iter()
        .map(|call| driver.call_concurrent_wave(id, call).unwrap())
        .collect();
    let in_c = futures::future::join_all(pending)
        .await
        .into_iter()
        .map(|r| results_to_wave(&r.unwrap()).unwrap())
        .collect();
    (in_s, in_c)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_crate_depending_on_wasync_by_git_gives_the_same_results_in_modes_s_c_and_n() {
    let snap = snapshot("git-dep");
    let home = scratch("git-dep-user");
    let out = run(
        harness_bin().args(["new", "fan-demo", "--wasync-git", &file_url(&snap)]),
        &home,
    );
    assert!(out.contains("wrote fan-demo"), "{out}");
    let dir = home.join("fan-demo");
    let s = build_mode(&dir, "fan-demo", None);
    let c = build_mode(&dir, "fan-demo", Some("concurrent"));
    let n = build_mode(&dir, "fan-demo", Some("native"));
    // Spawned tasks, a deadline that aborts the slow one, and a timeout.
    let calls = [
        "fan-out([300, 5, 10000, 30], 1000)",
        r#"echo-within("quick", 5, 2000)"#,
        r#"echo-within("slow", 10000, 50)"#,
    ];
    let (in_s, in_c) = results_in_both_modes(&s, &c, &calls).await;
    assert_eq!(in_s, [r#"[5, 30, 300]"#, r#""quick""#, r#""timed out""#]);
    assert_eq!(in_c, in_s, "mode C gives mode S's results");
    // Mode N, overlapping in one instance on the harness's WASI 0.3 host.
    let (_, in_n) = results_in_both_modes(&s, &n, &calls).await;
    assert_eq!(in_n, in_s, "mode N gives mode S's results");
    std::fs::remove_dir_all(home).unwrap();
    std::fs::remove_dir_all(snap).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cargo_component_project_uses_wasync_after_one_lower_command() {
    let home = scratch("cargo-component");
    run(
        wasync_build::cargo().args(["component", "new", "--lib", "cc-user"]),
        &home,
    );
    let dir = home.join("cc-user");
    // What the user writes: an `async func`, the wasync dependency, and
    // the manifest lines that point cargo-component at the lowered world.
    std::fs::write(
        dir.join("wit/world.wit"),
        "package component:cc-user;\n\nworld example {\n    export hello-world: async func(ms: u32) -> string;\n}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("src/lib.rs"),
        r#"mod wasync_bindings {
    wasync::generate!({ world: "example" });
}

struct Component;

#[wasync::async_export]
impl wasync_bindings::Guest for Component {
    async fn hello_world(ms: u32) -> String {
        wasync::time::sleep(std::time::Duration::from_millis(ms.into())).await;
        format!("hello after {ms} ms")
    }
}

wasync_bindings::export!(Component with_types_in wasync_bindings);
"#,
    )
    .unwrap();
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    let sdk = repo().join("sdk");
    let mut lines: Vec<String> = manifest
        .lines()
        .filter(|l| !l.starts_with("wit-bindgen-rt"))
        .map(str::to_owned)
        .collect();
    let deps = lines.iter().position(|l| l == "[dependencies]").unwrap();
    lines.insert(
        deps + 1,
        format!("wasync = {{ path = {:?} }}", sdk.display().to_string()),
    );
    let mut manifest = lines.join("\n");
    manifest.push_str(
        r#"

[features]
concurrent = ["wasync/concurrent"]

[package.metadata.component.target]
path = "wit-lowered"
world = "example"

[package.metadata.component.target.dependencies]
"wasi:io" = { path = "wit-lowered/deps/wasi-io" }
"wasync:abi" = { path = "wit-lowered/deps/wasync-abi" }
"#,
    );
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();

    let target = target_dir("cargo-component");
    let mut built = Vec::new();
    for (mode, features) in [("S", None), ("C", Some("concurrent"))] {
        // The one command, after each change of the WIT or the mode.
        run(
            harness_bin().args([
                "lower",
                "wit",
                "--world",
                "example",
                "--mode",
                mode,
                "--out",
                "wit-lowered",
            ]),
            &dir,
        );
        let mut cmd = cargo(&target);
        cmd.args(["component", "build"]);
        if let Some(f) = features {
            cmd.args(["--features", f]);
        }
        run(&mut cmd, &dir);
        let out = dir.join(format!("cc-user-{mode}.wasm"));
        std::fs::copy(target.join("wasm32-wasip1/debug/cc_user.wasm"), &out).unwrap();
        built.push(out);
    }
    let calls = ["hello-world(5)", "hello-world(1)"];
    let (in_s, in_c) = results_in_both_modes(&built[0], &built[1], &calls).await;
    assert_eq!(in_s, [r#""hello after 5 ms""#, r#""hello after 1 ms""#]);
    assert_eq!(in_c, in_s);
    let speaks = wasync_harness::concurrent::speaks_wasync_abi(
        &HARNESS,
        &HARNESS.compile(&built[1]).unwrap(),
    );
    assert!(speaks, "the mode C build speaks the wasync ABI");
    std::fs::remove_dir_all(home).unwrap();
}

/// Runs `bench calls` with the installed `bin` in `dir`, outside any
/// checkout: it fails, and says why.
fn refuses_demo_and_bench(bin: &Path, dir: &Path) {
    let refused = Command::new(bin)
        .args(["bench", "calls", "--quick"])
        .env_remove("WASYNC_REPO")
        .current_dir(dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success(),
        "bench ran outside a checkout: {stderr}"
    );
    assert!(
        stderr.contains("no checkout of wasync was found"),
        "{stderr}"
    );
}

#[test]
fn an_installed_harness_works_without_a_source_checkout() {
    // Installed from a snapshot that is deleted afterwards: the binary can
    // rely on nothing of the source it was built from.
    let snap = snapshot("install");
    // By git, as `cargo install --git <url> wasync-harness` does.
    let by_git = scratch("install-git");
    run(
        cargo(&target_dir("install"))
            .args([
                "install",
                "--locked",
                "--debug",
                "--git",
                &file_url(&snap),
                "wasync-harness",
                "--root",
            ])
            .arg(&by_git),
        &by_git,
    );
    let version = run(
        Command::new(by_git.join("bin/wasync-harness")).arg("--version"),
        &by_git,
    );
    assert!(version.starts_with("wasync-harness "), "{version}");
    // cargo keeps the git checkout it built from: the binary must still not
    // treat it as the user's checkout.
    refuses_demo_and_bench(&by_git.join("bin/wasync-harness"), &by_git);
    std::fs::remove_dir_all(&by_git).unwrap();
    let root = scratch("install-root");
    run(
        cargo(&target_dir("install"))
            .args([
                "install",
                "--locked",
                "--debug",
                "--path",
                "host-harness",
                "--root",
            ])
            .arg(&root),
        &snap,
    );
    std::fs::remove_dir_all(&snap).unwrap();
    let bin = root.join("bin").join("wasync-harness");
    let home = scratch("install-user");
    let sh = |args: &[&str]| run(Command::new(&bin).args(args), &home);

    // new + lower on the scaffold: no checkout needed.
    sh(&[
        "new",
        "tiny",
        "--wasync-git",
        "https://example.com/wasync.git",
    ]);
    let lowered = sh(&["lower", "tiny/wit", "--mode", "C"]);
    assert!(
        lowered.contains(
            "fan-out-start: func(delays-ms: list<u32>, timeout-ms: u32) -> result<list<u32>, u32>"
        ),
        "{lowered}"
    );
    // call, wit and compose on components built elsewhere.
    let hello = test_programs::HELLO;
    assert_eq!(
        sh(&["call", hello, r#"greet("user")"#]).trim(),
        r#""hello, user""#
    );
    assert!(sh(&["wit", hello]).contains("export greet: func(name: string) -> string;"));
    let composed = home.join("app.wasm");
    sh(&[
        "compose",
        test_programs::COMPOSE_FRONTEND,
        "--plug",
        test_programs::COMPOSE_BACKEND,
        "-o",
        composed.to_str().unwrap(),
    ]);
    let out = sh(&[
        "call",
        composed.to_str().unwrap(),
        r#"examples:wasync/frontend#relay("hi", 1)"#,
    ]);
    assert_eq!(out.trim(), r#""[HI]""#);
    // The repository's own demo and benchmarks need its checkout, and say so.
    refuses_demo_and_bench(&bin, &home);
    std::fs::remove_dir_all(home).unwrap();
    std::fs::remove_dir_all(root).unwrap();
}
