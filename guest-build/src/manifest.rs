//! Finds the guests: the members of `guest-examples/Cargo.toml` and what
//! their `[package.metadata.wasync]` tables ask for.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::BuildError;

/// How a guest's async exports are lowered. See the README's "Modes".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Mode S: plain 0.2 exports that run each call to completion.
    Standard,
    /// Mode C: exports return when they would wait; the host drives them.
    Concurrent,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Standard => "S",
            Mode::Concurrent => "C",
        })
    }
}

/// One guest crate and how to build it.
#[derive(Debug, Clone)]
pub struct GuestSpec {
    /// The crate name, which is also the base name of its artifacts.
    pub name: String,
    pub dir: PathBuf,
    /// Built with `cargo component build` (wasip1 plus the adapter).
    pub cargo_component: bool,
    /// The modes to build; mode C builds enable the crate's `concurrent`
    /// feature.
    pub modes: Vec<Mode>,
    /// For cargo-component guests: the world to lower into `wit-lowered/`.
    pub lower_world: Option<String>,
    /// The `async func` WIT folder that world comes from (relative to the
    /// guest's folder).
    pub wit: PathBuf,
}

impl GuestSpec {
    /// `name` for mode S, `name-c` for mode C.
    pub fn artifact_name(&self, mode: Mode) -> String {
        match mode {
            Mode::Standard => self.name.clone(),
            Mode::Concurrent => format!("{}-c", self.name),
        }
    }
}

fn read_toml(path: &Path) -> Result<toml::Table, BuildError> {
    let text = std::fs::read_to_string(path).map_err(|error| BuildError::Io {
        path: path.to_owned(),
        error,
    })?;
    text.parse::<toml::Table>()
        .map_err(|e| BuildError::Manifest {
            path: path.to_owned(),
            message: e.to_string(),
        })
}

/// Lists the guests in the workspace at `root`, in manifest order.
pub fn discover(root: &Path) -> Result<Vec<GuestSpec>, BuildError> {
    let manifest = root.join("Cargo.toml");
    let table = read_toml(&manifest)?;
    let bad = |message: &str| BuildError::Manifest {
        path: manifest.clone(),
        message: message.to_owned(),
    };
    let members = table
        .get("workspace")
        .and_then(|w| w.get("members"))
        .and_then(|m| m.as_array())
        .ok_or_else(|| bad("expected a [workspace] with a `members` list"))?;
    let mut guests = Vec::new();
    for member in members {
        let member = member
            .as_str()
            .ok_or_else(|| bad("workspace members must be strings"))?;
        // Only `cdylib` crates become components; the rest are libraries
        // the guests share.
        if let Some(g) = guest(&root.join(member))? {
            guests.push(g);
        }
    }
    Ok(guests)
}

fn guest(dir: &Path) -> Result<Option<GuestSpec>, BuildError> {
    let path = dir.join("Cargo.toml");
    let table = read_toml(&path)?;
    let cdylib = table
        .get("lib")
        .and_then(|l| l.get("crate-type"))
        .and_then(|t| t.as_array())
        .is_some_and(|types| types.iter().any(|t| t.as_str() == Some("cdylib")));
    if !cdylib {
        return Ok(None);
    }
    let bad = |message: String| BuildError::Manifest {
        path: path.clone(),
        message,
    };
    let package = table
        .get("package")
        .ok_or_else(|| bad("no [package] table".into()))?;
    let name = package
        .get("name")
        .and_then(|n| n.as_str())
        .ok_or_else(|| bad("no package name".into()))?
        .to_owned();
    let meta = package.get("metadata").and_then(|m| m.get("wasync"));
    let cargo_component = meta
        .and_then(|m| m.get("cargo-component"))
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    let lower_world = meta
        .and_then(|m| m.get("lower-world"))
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    let wit = dir.join(
        meta.and_then(|m| m.get("wit"))
            .and_then(|v| v.as_str())
            .unwrap_or("wit"),
    );
    let modes = match meta.and_then(|m| m.get("modes")) {
        None => vec![Mode::Standard],
        Some(list) => {
            let list = list
                .as_array()
                .ok_or_else(|| bad("`modes` must be a list such as [\"S\", \"C\"]".into()))?;
            let mut modes = Vec::new();
            for m in list {
                modes.push(match m.as_str() {
                    Some("S") => Mode::Standard,
                    Some("C") => Mode::Concurrent,
                    other => {
                        return Err(bad(format!(
                            "unknown mode {other:?} in `modes`; expected \"S\" or \"C\""
                        )));
                    }
                });
            }
            modes
        }
    };
    Ok(Some(GuestSpec {
        name,
        dir: dir.to_owned(),
        cargo_component,
        modes,
        lower_world,
        wit,
    }))
}
