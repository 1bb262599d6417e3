//! The guest build pipeline: the one step that turns `guest-examples/` into
//! `.wasm` files for the tests, the demo and the benchmarks.
//!
//! Ground rules:
//! - Guests build in one of two [`GuestProfile`]s: fully optimised
//!   (`release`) for the demo and the benchmarks, quick to rebuild
//!   (`guest-test`) for the tests. Each profile has its own folder of
//!   components and stamps, so neither rebuilds the other's.
//! - Plain guests build with `cargo build --target wasm32-wasip2`; guests
//!   whose manifest says `[package.metadata.wasync] cargo-component = true`
//!   build with `cargo component build`, which targets wasip1 plus its
//!   adapter, in modes S and C. Mode N builds always use plain `cargo
//!   build` with the crate's `native` feature: cargo-component 0.21.1
//!   cannot link the component model's async intrinsics.
//! - One cargo invocation builds every guest of one mode and one tool, so
//!   cargo compiles them side by side and the SDK once per mode; the modes
//!   build at the same time, each in its own cargo target folder (their
//!   feature sets differ). See `lanes.rs`.
//! - Missing tools are installed, never assumed: the wasm targets through
//!   `rustup target add`, cargo-component through
//!   `cargo install --locked cargo-component@0.21.1`.
//! - No WIT is vendored: the WASI and wasync WIT that guests and the
//!   lowering need ships inside `wasync-lower`, copied at its build time
//!   from the pinned `wasip2` crate, so nothing resolves WIT over the
//!   network.
//! - A guest is rebuilt only when one of its inputs changed: the stamp next
//!   to each artifact records a hash of every input file.
//! - A guest that fails to build fails the whole step, and the error carries
//!   the compiler's output.
//!
//! The pipeline runs from `test-programs/build.rs` (for `cargo test`) and from
//! `wasync-harness demo`; both call [`Pipeline::run`].

mod data;
mod fingerprint;
mod lanes;
mod manifest;
mod profile;
mod stock_hosts;
mod tools;

use std::fmt;
use std::path::{Path, PathBuf};

pub use data::WORD_LIST_PACKAGE;
pub use manifest::{GuestSpec, Mode};
pub use profile::{GuestProfile, UnknownProfile};
pub use stock_hosts::{JCO_VERSION, WASMTIME_CLI_VERSION};
pub use tools::cargo;

/// The cargo-component release the pipeline installs and expects.
pub const CARGO_COMPONENT_VERSION: &str = "0.21.1";

/// Everything that can stop the pipeline. Each variant says what to do next.
#[derive(Debug)]
pub enum BuildError {
    /// A command could not be started at all (not installed, not on `PATH`).
    Spawn {
        /// The command, as it would be typed.
        command: String,
        /// Why it could not be started.
        error: std::io::Error,
    },
    /// A tool install step failed; `output` is what the tool printed.
    Install {
        /// The tool.
        what: String,
        /// What the install step printed.
        output: String,
    },
    /// A guest failed to compile; `output` is cargo's and rustc's output.
    Guest {
        /// The guest crate.
        guest: String,
        /// The mode it was built for.
        mode: Mode,
        /// What cargo and rustc printed.
        output: String,
    },
    /// A manifest or metadata file could not be read or understood.
    Manifest {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// Reading or writing a file failed.
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        error: std::io::Error,
    },
    /// Lowering the world of a cargo-component guest failed.
    Lower {
        /// The guest crate.
        guest: String,
        /// wasync-lower's error.
        message: String,
    },
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::Spawn { command, error } => {
                write!(f, "could not run `{command}`: {error}")
            }
            BuildError::Install { what, output } => {
                write!(f, "installing {what} failed:\n{output}")
            }
            BuildError::Guest {
                guest,
                mode,
                output,
            } => {
                write!(
                    f,
                    "guest `{guest}` (mode {mode}) failed to build:\n{output}"
                )
            }
            BuildError::Manifest { path, message } => {
                write!(f, "{}: {message}", path.display())
            }
            BuildError::Io { path, error } => write!(f, "{}: {error}", path.display()),
            BuildError::Lower { guest, message } => {
                write!(f, "lowering the WIT of guest `{guest}` failed: {message}")
            }
        }
    }
}

impl std::error::Error for BuildError {}

/// One built guest: its name as the tests know it and the `.wasm` path.
#[derive(Debug, Clone)]
pub struct Artifact {
    /// `<crate name>` for mode S builds, `<crate name>-c` for mode C builds,
    /// `<crate name>-n` for mode N builds.
    pub name: String,
    /// The guest crate it was built from.
    pub guest: String,
    /// The mode it was built for.
    pub mode: Mode,
    /// Where the component is.
    pub path: PathBuf,
    /// Whether this run compiled it (false when the stamp was still fresh).
    pub rebuilt: bool,
}

/// How the pipeline reports progress. Build scripts stay quiet (cargo hides
/// their stderr unless they fail); the demo prints a line per guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Print nothing (build scripts, tests).
    Quiet,
    /// Print a line per guest built.
    Lines,
}

/// The pipeline's configuration.
#[derive(Debug, Clone)]
pub struct Pipeline {
    /// The repository root (the folder holding `guest-examples/` and `wit/`).
    pub repo: PathBuf,
    /// Where guests are compiled and where the final `.wasm` files land.
    pub target_dir: PathBuf,
    /// How much the pipeline prints.
    pub progress: Progress,
    /// Only build these guests (crate names); empty means all of them.
    pub only: Vec<String>,
    /// Fully optimised (the default) or quick to rebuild (the tests').
    pub profile: GuestProfile,
}

impl Pipeline {
    /// A pipeline for the repository at `repo`, building into
    /// `<repo>/target/guests`.
    pub fn new(repo: impl Into<PathBuf>) -> Pipeline {
        let repo = repo.into();
        Pipeline {
            target_dir: repo.join("target").join("guests"),
            repo,
            progress: Progress::Quiet,
            only: Vec::new(),
            profile: GuestProfile::Release,
        }
    }

    /// The repository this crate was compiled from. Used by the build script
    /// and the harness, which both live in the same repository.
    pub fn for_this_repo() -> Pipeline {
        let here = Path::new(env!("CARGO_MANIFEST_DIR"));
        Pipeline::new(here.parent().unwrap_or(here))
    }

    /// The folder the final `.wasm` files of this pipeline's profile are
    /// copied to: `wasm/` for release builds, `wasm-test/` for test builds.
    pub fn wasm_dir(&self) -> PathBuf {
        self.target_dir.join(self.profile.wasm_folder())
    }

    /// The path a guest's artifact has once built (it may not exist yet).
    pub fn artifact_path(&self, name: &str) -> PathBuf {
        self.wasm_dir().join(format!("{name}.wasm"))
    }

    /// Runs every step and returns the artifacts.
    pub fn run(&self) -> Result<Vec<Artifact>, BuildError> {
        tools::ensure_wasm_targets(self)?;
        let meta = manifest::Metadata::read(&self.guests_root())?;
        let guests = self.selected(&meta)?;
        if guests.iter().any(|g| g.cargo_component) {
            tools::ensure_cargo_component(self)?;
        }
        self.fetch_word_list()?;
        self.build_all(&guests)
    }

    fn guests_root(&self) -> PathBuf {
        self.repo.join("guest-examples")
    }

    /// The guests to build: all of them, or those `only` names.
    fn selected(&self, meta: &manifest::Metadata) -> Result<Vec<GuestSpec>, BuildError> {
        let mut guests = manifest::discover(meta)?;
        if !self.only.is_empty() {
            guests.retain(|g| self.only.contains(&g.name));
        }
        Ok(guests)
    }

    /// Builds each guest in each of its modes, unless its stamp is fresh.
    fn build_all(&self, guests: &[GuestSpec]) -> Result<Vec<Artifact>, BuildError> {
        std::fs::create_dir_all(self.wasm_dir()).map_err(|error| BuildError::Io {
            path: self.wasm_dir(),
            error,
        })?;
        let mut jobs = Vec::new();
        for guest in guests {
            for &mode in &guest.modes {
                jobs.push(self.job(guest, mode)?);
            }
        }
        lanes::build_stale(self, &jobs)?;
        let mut artifacts: Vec<Artifact> = jobs
            .into_iter()
            .map(|job| Artifact {
                path: self.artifact_path(&job.name),
                rebuilt: !job.fresh,
                name: job.name,
                guest: job.guest.name.clone(),
                mode: job.mode,
            })
            .collect();
        for guest in guests.iter().filter(|g| g.wasm_tests) {
            artifacts.push(self.build_tests(guest)?);
        }
        Ok(artifacts)
    }

    /// One guest in one mode, with whether its stamp is still fresh.
    fn job<'g>(&self, guest: &'g GuestSpec, mode: Mode) -> Result<lanes::Job<'g>, BuildError> {
        let name = guest.artifact_name(mode);
        let inputs = fingerprint::inputs(&self.repo, guest, mode)?;
        let fresh = self.artifact_path(&name).exists()
            && std::fs::read_to_string(self.stamp_path(&name))
                .is_ok_and(|old| old.trim() == inputs);
        Ok(lanes::Job {
            guest,
            mode,
            name,
            inputs,
            fresh,
        })
    }

    /// The stamp beside an artifact: the hash of the inputs it was built
    /// from.
    fn stamp_path(&self, name: &str) -> PathBuf {
        self.wasm_dir().join(format!("{name}.stamp"))
    }

    /// Every file the guest builds read, for a build script's
    /// `cargo:rerun-if-changed` lines. Files, not folders: cargo would scan
    /// a folder whole, outputs such as cargo-component's `bindings.rs`
    /// included, and see a change after every build.
    pub fn watched_files(&self) -> Result<Vec<PathBuf>, BuildError> {
        let mut files = Vec::new();
        fingerprint::list_tree(&self.guests_root(), &mut files)?;
        for shared in fingerprint::SHARED_INPUTS {
            fingerprint::list_tree(&self.repo.join(shared), &mut files)?;
        }
        files.sort();
        files.dedup();
        Ok(files)
    }

    /// Builds the guest's unit tests for wasm (`cargo test --no-run`): a
    /// command whose `wasi:cli/run` runs them, `<name>-tests.wasm`.
    fn build_tests(&self, guest: &GuestSpec) -> Result<Artifact, BuildError> {
        let mode = Mode::Standard;
        let inputs = format!("{}-tests", fingerprint::inputs(&self.repo, guest, mode)?);
        let name = format!("{}-tests", guest.name);
        self.build_artifact(guest, mode, name, inputs, || self.compile_tests(guest))
    }

    /// Copies what `compile` built to the artifact `name`, unless its stamp
    /// says `inputs` have not changed since the last build.
    fn build_artifact(
        &self,
        guest: &GuestSpec,
        mode: Mode,
        name: String,
        inputs: String,
        compile: impl FnOnce() -> Result<PathBuf, BuildError>,
    ) -> Result<Artifact, BuildError> {
        let dest = self.artifact_path(&name);
        let stamp = self.wasm_dir().join(format!("{name}.stamp"));
        let fresh =
            dest.exists() && std::fs::read_to_string(&stamp).is_ok_and(|old| old.trim() == inputs);
        if fresh {
            return Ok(Artifact {
                name,
                guest: guest.name.clone(),
                mode,
                path: dest,
                rebuilt: false,
            });
        }
        self.say(format_args!("building guest {name}"));
        let built = compile()?;
        std::fs::copy(&built, &dest).map_err(|error| BuildError::Io {
            path: built.clone(),
            error,
        })?;
        std::fs::write(&stamp, &inputs).map_err(|error| BuildError::Io {
            path: stamp.clone(),
            error,
        })?;
        Ok(Artifact {
            name,
            guest: guest.name.clone(),
            mode,
            path: dest,
            rebuilt: true,
        })
    }

    /// Writes `world`, lowered for `mode`, to the guest's `wit-lowered/`
    /// folder, where its cargo-component metadata points.
    fn write_lowered(&self, guest: &GuestSpec, world: &str, mode: Mode) -> Result<(), BuildError> {
        let fail = |message: String| BuildError::Lower {
            guest: guest.name.clone(),
            message,
        };
        let (mut resolve, lowering) = wasync_lower::load_and_lower(&guest.wit, Some(world), mode)
            .map_err(|e| fail(format!("{e:#}")))?;
        // cargo-component manifests list the ABI's folder among their
        // dependencies whatever the mode: give mode S the same folders.
        wasync_lower::add_abi(&mut resolve).map_err(|e| fail(format!("{e:#}")))?;
        let out = guest.dir.join("wit-lowered");
        wasync_lower::write_dir(&resolve, lowering.world, &out).map_err(|e| fail(format!("{e:#}")))
    }

    /// Compiles the guest's library unit tests for `wasm32-wasip2` and
    /// returns the test executable cargo reports.
    fn compile_tests(&self, guest: &GuestSpec) -> Result<PathBuf, BuildError> {
        let mut cmd = tools::cargo();
        cmd.args([
            "test",
            "--profile",
            self.profile.cargo_profile(),
            "--no-run",
            "--lib",
            "--target",
            "wasm32-wasip2",
            "--message-format=json",
        ]);
        cmd.arg("--manifest-path").arg(guest.dir.join("Cargo.toml"));
        // Apart from the lanes: `cargo test` builds other feature sets.
        cmd.arg("--target-dir").arg(self.target_dir.join("tests"));
        let output = tools::run_captured(&mut cmd)?;
        let failed = |output: String| BuildError::Guest {
            guest: format!("{} (tests)", guest.name),
            mode: Mode::Standard,
            output,
        };
        if !output.status.success() {
            return Err(failed(tools::output_text(&output)));
        }
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|m| m["reason"] == "compiler-artifact" && m["profile"]["test"] == true)
            .find_map(|m| m["executable"].as_str().map(PathBuf::from))
            .ok_or_else(|| failed("`cargo test --no-run` reported no test executable".into()))
    }

    pub(crate) fn say(&self, msg: fmt::Arguments<'_>) {
        if self.progress == Progress::Lines {
            eprintln!("  {msg}");
        }
    }
}

/// Whether `guest` builds with cargo-component in `mode` (never in mode N).
pub(crate) fn uses_cargo_component(guest: &GuestSpec, mode: Mode) -> bool {
    guest.cargo_component && mode != Mode::Native
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A repository holding one guest with no dependencies, and the
    /// toolchain pin, in a fresh temporary folder.
    fn tiny_repo(tag: &str) -> PathBuf {
        let repo =
            std::env::temp_dir().join(format!("wasync-pipeline-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&repo);
        let guest = repo.join("guest-examples").join("tiny");
        std::fs::create_dir_all(guest.join("src")).unwrap();
        let real = Pipeline::for_this_repo().repo;
        std::fs::copy(
            real.join("rust-toolchain.toml"),
            repo.join("rust-toolchain.toml"),
        )
        .unwrap();
        std::fs::write(
            repo.join("guest-examples").join("Cargo.toml"),
            "[workspace]\nmembers = [\"tiny\"]\nresolver = \"2\"\n",
        )
        .unwrap();
        std::fs::write(
            guest.join("Cargo.toml"),
            "[package]\nname = \"tiny\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[lib]\ncrate-type = [\"cdylib\"]\n",
        )
        .unwrap();
        set_source(&repo, "pub extern \"C\" fn answer() -> i32 { 42 }\n");
        repo
    }

    fn set_source(repo: &Path, text: &str) {
        let lib = repo.join("guest-examples/tiny/src/lib.rs");
        std::fs::write(lib, format!("#[unsafe(no_mangle)]\n{text}")).unwrap();
    }

    #[test]
    fn a_guest_is_rebuilt_only_when_an_input_changed() {
        let repo = tiny_repo("stamps");
        let p = Pipeline::new(&repo);
        tools::ensure_wasm_targets(&p).unwrap();
        let meta = manifest::Metadata::read(&p.guests_root()).unwrap();
        let guests = p.selected(&meta).unwrap();
        assert_eq!(guests.len(), 1);
        let build = || p.build_all(&guests).unwrap().remove(0);

        let first = build();
        assert!(first.rebuilt);
        let bytes = std::fs::read(&first.path).unwrap();
        // A component: the wasm magic, then the component layer's version.
        assert_eq!(&bytes[..8], b"\0asm\x0d\0\x01\0");

        assert!(!build().rebuilt, "nothing changed");
        // Writing the same text again changes the file's time, not its
        // contents: still fresh.
        set_source(&repo, "pub extern \"C\" fn answer() -> i32 { 42 }\n");
        assert!(!build().rebuilt, "same contents");
        set_source(&repo, "pub extern \"C\" fn answer() -> i32 { 43 }\n");
        assert!(build().rebuilt, "the source changed");
        std::fs::remove_dir_all(&repo).unwrap();
    }

    #[test]
    fn a_guest_that_fails_to_compile_fails_the_step_with_the_compilers_message() {
        let repo = tiny_repo("broken");
        let p = Pipeline::new(&repo);
        tools::ensure_wasm_targets(&p).unwrap();
        set_source(
            &repo,
            "pub extern \"C\" fn answer() -> i32 { \"not a number\" }\n",
        );
        let meta = manifest::Metadata::read(&p.guests_root()).unwrap();
        let guests = p.selected(&meta).unwrap();
        let err = p.build_all(&guests).unwrap_err();
        let BuildError::Guest { guest, output, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(guest, "tiny");
        assert!(
            output.contains("error[E0308]: mismatched types"),
            "{output}"
        );
        assert!(output.contains("src/lib.rs"), "{output}");
        assert!(err.to_string().contains("error[E0308]"), "{err}");
        assert!(!p.artifact_path("tiny").exists());
        std::fs::remove_dir_all(&repo).unwrap();
    }
}
