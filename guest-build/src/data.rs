//! The demo's data, fetched through its package manager: the English word
//! list of the npm package `word-list` (274,000 words, from the atebits
//! Words list), pinned to one version and downloaded once into
//! `target/data/`.

use std::path::PathBuf;
use std::process::Command;

use crate::{BuildError, Pipeline, tools};

/// The pinned npm package.
pub const WORD_LIST_PACKAGE: &str = "word-list@4.1.0";

impl Pipeline {
    /// The folder holding `words.txt`, one lowercase word per line, sorted.
    pub fn word_list_dir(&self) -> PathBuf {
        self.target_dir
            .parent()
            .unwrap_or(&self.target_dir)
            .join("data")
            .join("word-list")
    }

    /// Downloads the word list with `npm pack` unless it is there.
    pub fn fetch_word_list(&self) -> Result<PathBuf, BuildError> {
        let dir = self.word_list_dir();
        let words = dir.join("words.txt");
        if words.exists() {
            return Ok(dir);
        }
        self.say(format_args!(
            "fetching the word list ({WORD_LIST_PACKAGE}) from the npm registry"
        ));
        let io = |path: PathBuf| move |error| BuildError::Io { path, error };
        std::fs::create_dir_all(&dir).map_err(io(dir.clone()))?;
        let mut pack = Command::new("npm");
        pack.args(["pack", WORD_LIST_PACKAGE, "--silent", "--pack-destination"])
            .arg(&dir);
        let out = tools::run_captured(&mut pack)?;
        if !out.status.success() {
            return Err(BuildError::Install {
                what: format!("the npm package {WORD_LIST_PACKAGE}"),
                output: tools::output_text(&out),
            });
        }
        let tarball = dir.join(format!("{}.tgz", WORD_LIST_PACKAGE.replace('@', "-")));
        let mut untar = Command::new("tar");
        untar.arg("-xzf").arg(&tarball).arg("-C").arg(&dir);
        let out = tools::run_captured(&mut untar)?;
        if !out.status.success() {
            return Err(BuildError::Install {
                what: format!("unpacking {}", tarball.display()),
                output: tools::output_text(&out),
            });
        }
        std::fs::rename(dir.join("package").join("words.txt"), &words)
            .map_err(io(words.clone()))?;
        Ok(dir)
    }
}
