//! Finds the guests: the `cdylib` members of the `guest-examples/`
//! workspace and what their `[package.metadata.wasync]` tables ask for, as
//! `cargo metadata` reports them (one call serves this and the WIT
//! vendoring).

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::{BuildError, tools};

pub use wasync_lower::Mode;

/// One guest crate and how to build it.
#[derive(Debug, Clone)]
pub struct GuestSpec {
    /// The crate name, which is also the base name of its artifacts.
    pub name: String,
    /// The crate's folder.
    pub dir: PathBuf,
    /// Built with `cargo component build` (wasip1 plus the adapter).
    pub cargo_component: bool,
    /// The modes to build; mode C builds enable the crate's `concurrent`
    /// feature, mode N builds its `native` feature.
    pub modes: Vec<Mode>,
    /// For cargo-component guests: the world to lower into `wit-lowered/`.
    pub lower_world: Option<String>,
    /// The `async func` WIT folder that world comes from (relative to the
    /// guest's folder).
    pub wit: PathBuf,
    /// For a command (a crate with a binary and no `cdylib`): the binary's
    /// name. Its component exports `wasi:cli/run`.
    pub bin: Option<String>,
    /// Also build the library's unit tests for wasm, as the command
    /// `<name>-tests.wasm` (`[package.metadata.wasync] wasm-tests = true`).
    pub wasm_tests: bool,
}

impl GuestSpec {
    /// The file cargo writes into `<target>/<triple>/release/`: a
    /// binary keeps its name, a library's dashes become underscores.
    pub fn output_file(&self) -> String {
        match &self.bin {
            Some(bin) => format!("{bin}.wasm"),
            None => format!("{}.wasm", self.name.replace('-', "_")),
        }
    }

    /// `name` for mode S, `name-c` for mode C, `name-n` for mode N.
    pub fn artifact_name(&self, mode: Mode) -> String {
        match mode {
            Mode::Standard => self.name.clone(),
            Mode::Concurrent => format!("{}-c", self.name),
            Mode::Native => format!("{}-n", self.name),
        }
    }
}

/// `cargo metadata` of the guest workspace, resolved for the guests'
/// target.
pub struct Metadata {
    manifest: PathBuf,
    json: Value,
}

impl Metadata {
    /// Runs `cargo metadata` on the workspace at `root`.
    pub fn read(root: &Path) -> Result<Metadata, BuildError> {
        let manifest = root.join("Cargo.toml");
        let mut cmd = tools::cargo();
        cmd.args([
            "metadata",
            "--format-version",
            "1",
            "--filter-platform",
            "wasm32-wasip2",
        ])
        .arg("--manifest-path")
        .arg(&manifest);
        let out = tools::run_captured(&mut cmd)?;
        let bad = |message: String| BuildError::Manifest {
            path: manifest.clone(),
            message,
        };
        if !out.status.success() {
            return Err(bad(format!(
                "`cargo metadata` failed:\n{}",
                tools::output_text(&out)
            )));
        }
        let json = serde_json::from_slice(&out.stdout)
            .map_err(|e| bad(format!("`cargo metadata` printed bad JSON: {e}")))?;
        Ok(Metadata { manifest, json })
    }

    /// Every package of the dependency graph.
    pub fn packages(&self) -> impl Iterator<Item = &Value> {
        self.json["packages"].as_array().into_iter().flatten()
    }

    fn bad(&self, message: String) -> BuildError {
        BuildError::Manifest {
            path: self.manifest.clone(),
            message,
        }
    }
}

/// Lists the guests of the workspace, in the order cargo lists its members.
pub fn discover(meta: &Metadata) -> Result<Vec<GuestSpec>, BuildError> {
    let members: Vec<&str> = meta.json["workspace_members"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let mut guests = Vec::new();
    for id in members {
        let package = meta
            .packages()
            .find(|p| p["id"] == id)
            .ok_or_else(|| meta.bad(format!("member {id} is not among the packages")))?;
        if let Some(g) = guest(meta, package)? {
            guests.push(g);
        }
    }
    Ok(guests)
}

fn guest(meta: &Metadata, package: &Value) -> Result<Option<GuestSpec>, BuildError> {
    // `cdylib` crates and binaries (commands) become components; the rest
    // are libraries the guests share.
    let targets = || package["targets"].as_array().into_iter().flatten();
    let has_kind = |t: &Value, kind: &str| {
        t["crate_types"]
            .as_array()
            .is_some_and(|types| types.iter().any(|c| c == kind))
    };
    let cdylib = targets().any(|t| has_kind(t, "cdylib"));
    let bin = targets()
        .find(|t| has_kind(t, "bin"))
        .and_then(|t| t["name"].as_str())
        .map(str::to_owned);
    if !cdylib && bin.is_none() {
        return Ok(None);
    }
    let bin = if cdylib { None } else { bin };
    let name = package["name"]
        .as_str()
        .ok_or_else(|| meta.bad("a package without a name".into()))?
        .to_owned();
    let dir = package["manifest_path"]
        .as_str()
        .and_then(|m| Path::new(m).parent())
        .ok_or_else(|| meta.bad(format!("`{name}` has no manifest path")))?
        .to_owned();
    let bad = |message: String| BuildError::Manifest {
        path: dir.join("Cargo.toml"),
        message,
    };
    let wasync = &package["metadata"]["wasync"];
    let modes = match &wasync["modes"] {
        Value::Null => vec![Mode::Standard],
        Value::Array(list) => list
            .iter()
            .map(|m| {
                m.as_str().and_then(|m| m.parse().ok()).ok_or_else(|| {
                    bad(format!(
                        "unknown mode {m} in `modes`; expected \"S\", \"C\" or \"N\""
                    ))
                })
            })
            .collect::<Result<_, _>>()?,
        _ => {
            return Err(bad(
                "`modes` must be a list such as [\"S\", \"C\", \"N\"]".into()
            ));
        }
    };
    Ok(Some(GuestSpec {
        cargo_component: wasync["cargo-component"].as_bool().unwrap_or(false),
        lower_world: wasync["lower-world"].as_str().map(str::to_owned),
        wit: dir.join(wasync["wit"].as_str().unwrap_or("wit")),
        modes,
        name,
        dir,
        bin,
        wasm_tests: wasync["wasm-tests"].as_bool().unwrap_or(false),
    }))
}
