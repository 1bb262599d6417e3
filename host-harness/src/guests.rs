//! The guests the demo and the benchmarks run, built through the guest
//! pipeline (`wasync-build`) first, so that both commands work on a fresh
//! clone.

use std::path::{Path, PathBuf};

use wasync_build::{Artifact, GuestProfile, Pipeline, Progress};

use crate::error::{Error, Result};

/// Every guest of this repository, built.
pub struct Guests {
    pipeline: Pipeline,
    artifacts: Vec<Artifact>,
}

impl Guests {
    /// Runs the pipeline in `profile`: installs what is missing, rebuilds
    /// what changed. With `progress`, it prints a line per step.
    pub fn build(profile: GuestProfile, progress: bool) -> Result<Guests> {
        let Some(repo) = find_checkout() else {
            return Err(Error::Config(
                "demo and bench build this repository's guests, and no checkout of wasync \
                 was found (in WASYNC_REPO, this folder or one above it); run them from a \
                 clone (`cargo run --release -p wasync-harness -- demo`) or set WASYNC_REPO"
                    .into(),
            ));
        };
        let mut pipeline = Pipeline::new(repo);
        pipeline.profile = profile;
        if progress {
            pipeline.progress = Progress::Lines;
        }
        let artifacts = pipeline.run().map_err(build_error)?;
        Ok(Guests {
            pipeline,
            artifacts,
        })
    }

    /// The component of guest `name` (`<crate>` or `<crate>-c`).
    pub fn path(&self, name: &str) -> Result<PathBuf> {
        self.artifacts
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.path.clone())
            .ok_or_else(|| Error::Config(format!("the guest pipeline built no `{name}`")))
    }

    /// The pipeline, for its folders (components, the word list).
    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }
}

/// The wasync checkout whose guests demo and bench build.
///
/// An installed binary must not trust the folder it was compiled in: a
/// `cargo install --git` checkout outlives the install, and would hand the
/// binary a copy of the sources nobody asked for. So the checkout is, in
/// this order: `WASYNC_REPO`; the folder this binary was built in, when it
/// runs from that folder's `target` (`cargo run`, `cargo test`); the
/// nearest folder at or above the current one that is a checkout.
fn find_checkout() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("WASYNC_REPO") {
        return Some(PathBuf::from(dir)).filter(|d| is_checkout(d));
    }
    let built_in = Pipeline::for_this_repo().repo;
    let exe = std::env::current_exe().and_then(|e| e.canonicalize());
    if let (Ok(exe), Ok(repo)) = (exe, built_in.canonicalize())
        && exe.starts_with(repo.join("target"))
        && is_checkout(&repo)
    {
        return Some(repo);
    }
    let cwd = std::env::current_dir().ok()?;
    cwd.ancestors()
        .find(|d| is_checkout(d))
        .map(Path::to_path_buf)
}

/// Whether `dir` holds a wasync checkout: the guests and the harness.
fn is_checkout(dir: &Path) -> bool {
    dir.join("guest-examples").join("Cargo.toml").is_file()
        && dir.join("host-harness").join("Cargo.toml").is_file()
}

/// A failed guest build, as the harness's error: its message carries the
/// compiler's output, and [`is_build_error`] recognises it.
pub fn build_error(e: wasync_build::BuildError) -> Error {
    Error::Other(anyhow::Error::new(e))
}

/// Whether `e` is a failed guest build (its whole message is worth
/// printing: it holds the compiler's output).
pub fn is_build_error(e: &Error) -> bool {
    matches!(e, Error::Other(inner) if inner.downcast_ref::<wasync_build::BuildError>().is_some())
}
