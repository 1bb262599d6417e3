//! Running cargo, rustup and cargo-component, and installing what is missing.

use std::process::{Command, Output, Stdio};

use crate::{BuildError, CARGO_COMPONENT_VERSION, Pipeline, Progress};

/// Removes from `cmd` the variables of this process that must not reach a
/// nested build (see [`leaks`]).
fn scrub(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        if key.to_str().is_some_and(leaks) {
            cmd.env_remove(key);
        }
    }
}

/// Whether variable `key` must not leak into a nested build: it belongs to
/// the outer build (cargo sets it for build scripts and tests, or it holds
/// flags for the outer build's compiler), and would point the nested build
/// at the outer one's target, flags or output folder. The user's own settings for
/// every build (cargo's home, its jobserver, incremental compilation,
/// terminal, registries, network) pass through.
fn leaks(key: &str) -> bool {
    let keep = matches!(
        key,
        "CARGO_HOME"
            | "CARGO_MAKEFLAGS"
            | "CARGO_INCREMENTAL"
            | "CARGO_TERM_COLOR"
            | "CARGO_TERM_PROGRESS_WHEN"
    ) || key.starts_with("CARGO_REGISTRIES_")
        || key.starts_with("CARGO_NET_")
        || key.starts_with("CARGO_HTTP_");
    let outer_build = key.starts_with("CARGO_")
        || matches!(
            key,
            "RUSTFLAGS"
                | "RUSTDOCFLAGS"
                | "RUSTC"
                | "RUSTDOC"
                | "RUSTC_WRAPPER"
                | "RUSTC_WORKSPACE_WRAPPER"
                | "RUSTC_LINKER"
                | "OUT_DIR"
                | "TARGET"
                | "HOST"
                | "PROFILE"
                | "OPT_LEVEL"
                | "DEBUG"
                | "NUM_JOBS"
        );
    outer_build && !keep
}

/// A `cargo` command with the environment cleaned for a nested build.
pub fn cargo() -> Command {
    // Prefer the rustup proxy on PATH, so `RUSTUP_TOOLCHAIN` (set by the
    // outer cargo) keeps the nested build on the same toolchain and
    // `cargo component` finds its subcommand binary.
    let mut cmd = Command::new("cargo");
    scrub(&mut cmd);
    cmd
}

/// Runs `cmd` and captures its output; failing to start it is an error.
pub fn run_captured(cmd: &mut Command) -> Result<Output, BuildError> {
    cmd.stdin(Stdio::null())
        .output()
        .map_err(|error| BuildError::Spawn {
            command: describe(cmd),
            error,
        })
}

fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        s.push(' ');
        s.push_str(&arg.to_string_lossy());
    }
    s
}

/// stdout and stderr of a finished command, for error messages.
pub fn output_text(output: &Output) -> String {
    let mut text = String::from_utf8_lossy(&output.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !stdout.trim().is_empty() {
        text.push('\n');
        text.push_str(&stdout);
    }
    text
}

/// The wasm targets every build needs: wasip2 for plain guests, wasip1 for
/// cargo-component (which adds the preview1 adapter itself).
const TARGETS: [&str; 2] = ["wasm32-wasip2", "wasm32-wasip1"];

fn target_installed(triple: &str) -> bool {
    let mut cmd = Command::new("rustc");
    scrub(&mut cmd);
    cmd.args(["--print", "target-libdir", "--target", triple]);
    match cmd.output() {
        Ok(out) if out.status.success() => {
            let dir = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            std::path::Path::new(&dir).join("libstd.rlib").exists()
                || std::fs::read_dir(&dir).is_ok_and(|mut entries| {
                    entries.any(|e| {
                        e.is_ok_and(|e| e.file_name().to_string_lossy().starts_with("libstd-"))
                    })
                })
        }
        _ => false,
    }
}

/// Adds the wasm targets to the active toolchain when they are missing.
pub fn ensure_wasm_targets(p: &Pipeline) -> Result<(), BuildError> {
    let missing: Vec<&str> = TARGETS
        .into_iter()
        .filter(|t| !target_installed(t))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    p.say(format_args!(
        "installing rust targets {}",
        missing.join(", ")
    ));
    let mut cmd = Command::new("rustup");
    scrub(&mut cmd);
    cmd.args(["target", "add"]).args(&missing);
    if let Ok(toolchain) = std::env::var("RUSTUP_TOOLCHAIN") {
        cmd.args(["--toolchain", &toolchain]);
    }
    let out = run_captured(&mut cmd)?;
    if !out.status.success() {
        return Err(BuildError::Install {
            what: format!("the rust targets {}", missing.join(", ")),
            output: output_text(&out),
        });
    }
    Ok(())
}

fn cargo_component_version() -> Option<String> {
    let out = cargo().args(["component", "--version"]).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Installs cargo-component at the pinned version unless it is there.
pub fn ensure_cargo_component(p: &Pipeline) -> Result<(), BuildError> {
    if let Some(version) = cargo_component_version()
        && version.contains(CARGO_COMPONENT_VERSION)
    {
        return Ok(());
    }
    p.say(format_args!(
        "installing cargo-component {CARGO_COMPONENT_VERSION} (takes several minutes, once)"
    ));
    let mut cmd = cargo();
    cmd.args([
        "install",
        "--locked",
        &format!("cargo-component@{CARGO_COMPONENT_VERSION}"),
    ]);
    if p.progress == Progress::Quiet {
        cmd.arg("--quiet");
    }
    let out = run_captured(&mut cmd)?;
    if !out.status.success() {
        return Err(BuildError::Install {
            what: format!("cargo-component {CARGO_COMPONENT_VERSION}"),
            output: output_text(&out),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::leaks;

    #[test]
    fn the_outer_builds_target_and_flags_do_not_reach_a_nested_build() {
        for key in [
            "CARGO_TARGET_DIR",
            "CARGO_MANIFEST_DIR",
            "CARGO_ENCODED_RUSTFLAGS",
            "RUSTFLAGS",
            "OUT_DIR",
            "TARGET",
        ] {
            assert!(leaks(key), "{key}");
        }
    }

    #[test]
    fn the_users_settings_for_every_build_reach_a_nested_build() {
        // CI turns incremental compilation off for its clean clone: the
        // nested builds (the guests, the user-path crates) must follow, or
        // they write gigabytes of incremental state nobody reads.
        for key in [
            "CARGO_HOME",
            "CARGO_MAKEFLAGS",
            "CARGO_INCREMENTAL",
            "CARGO_TERM_COLOR",
            "CARGO_NET_OFFLINE",
            "CARGO_REGISTRIES_CRATES_IO_PROTOCOL",
            "PATH",
            "HOME",
        ] {
            assert!(!leaks(key), "{key}");
        }
    }
}
