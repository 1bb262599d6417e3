//! The guests the demo and the benchmarks run, built through the guest
//! pipeline (`wasync-build`) first, so that both commands work on a fresh
//! clone.

use std::path::PathBuf;

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
        let mut pipeline = Pipeline::for_this_repo();
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
