//! The demo's data: an English word list, one lowercase word per line,
//! sorted, written once into `target/data/word-list/words.txt`.
//!
//! It comes from the npm package `word-list` (274,000 words, from the
//! atebits Words list), pinned to one version. A machine without Node.js or
//! without a path to the npm registry still gets a list, from the crates.io
//! crate `random_word` (178,187 English words) that this crate already
//! depends on, so the two README commands need nothing beyond crates.io.
//! The benchmark figures in `docs/benchmarks.md` were taken with the npm
//! list; `words.source` beside the list says which one is in use.

use std::path::{Path, PathBuf};
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

    /// Writes the word list unless it is there: from npm if it can, else
    /// from the `random_word` crate.
    pub fn fetch_word_list(&self) -> Result<PathBuf, BuildError> {
        let dir = self.word_list_dir();
        if dir.join("words.txt").exists() {
            return Ok(dir);
        }
        self.say(format_args!(
            "fetching the word list ({WORD_LIST_PACKAGE}) from the npm registry"
        ));
        let source = match npm_word_list(&dir) {
            Ok(()) => WORD_LIST_PACKAGE.to_string(),
            Err(why) => {
                self.say(format_args!(
                    "{why}; using the English list of the crate random_word instead"
                ));
                write_crate_word_list(&dir)?;
                "crates.io random_word (en)".to_string()
            }
        };
        let path = dir.join("words.source");
        std::fs::write(&path, source + "\n").map_err(|error| BuildError::Io { path, error })?;
        Ok(dir)
    }
}

fn io_error(path: PathBuf) -> impl FnOnce(std::io::Error) -> BuildError {
    move |error| BuildError::Io { path, error }
}

/// Fetches and unpacks the pinned npm package into `dir`.
fn npm_word_list(dir: &Path) -> Result<(), BuildError> {
    std::fs::create_dir_all(dir).map_err(io_error(dir.to_path_buf()))?;
    let words = dir.join("words.txt");
    let mut pack = Command::new("npm");
    pack.args(["pack", WORD_LIST_PACKAGE, "--silent", "--pack-destination"])
        .arg(dir);
    let out = tools::run_captured(&mut pack)?;
    if !out.status.success() {
        return Err(BuildError::Install {
            what: format!("the npm package {WORD_LIST_PACKAGE}"),
            output: tools::output_text(&out),
        });
    }
    let tarball = dir.join(format!("{}.tgz", WORD_LIST_PACKAGE.replace('@', "-")));
    let mut untar = Command::new("tar");
    untar.arg("-xzf").arg(&tarball).arg("-C").arg(dir);
    let out = tools::run_captured(&mut untar)?;
    if !out.status.success() {
        return Err(BuildError::Install {
            what: format!("unpacking {}", tarball.display()),
            output: tools::output_text(&out),
        });
    }
    std::fs::rename(dir.join("package").join("words.txt"), &words).map_err(io_error(words))?;
    Ok(())
}

/// Writes `random_word`'s English list into `dir`, in the npm list's shape:
/// lowercase, sorted, one word per line. Written to a temporary name first
/// so an interrupted run never leaves half a list behind.
pub(crate) fn write_crate_word_list(dir: &Path) -> Result<(), BuildError> {
    std::fs::create_dir_all(dir).map_err(io_error(dir.to_path_buf()))?;
    let mut words: Vec<String> = random_word::all(random_word::Lang::En)
        .iter()
        .map(|w| w.to_lowercase())
        .collect();
    words.sort_unstable();
    words.dedup();
    let mut text = words.join("\n");
    text.push('\n');
    let partial = dir.join("words.txt.partial");
    std::fs::write(&partial, text).map_err(io_error(partial.clone()))?;
    let words = dir.join("words.txt");
    std::fs::rename(&partial, &words).map_err(io_error(words))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crate_word_list_is_sorted_lowercase_and_large() {
        let dir = std::env::temp_dir().join(format!("wasync-words-{}", std::process::id()));
        write_crate_word_list(&dir).unwrap();
        let text = std::fs::read_to_string(dir.join("words.txt")).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let words: Vec<&str> = text.lines().collect();
        assert!(words.len() > 100_000, "{} words", words.len());
        assert!(words.windows(2).all(|w| w[0] < w[1]));
        assert!(
            words
                .iter()
                .all(|w| !w.is_empty() && *w == w.to_lowercase())
        );
        assert!(words.binary_search(&"water").is_ok());
    }
}
