//! Decides whether a guest must be rebuilt: a hash over every file that can
//! change its output.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use crate::{BuildError, GuestSpec, Mode};

/// What every guest build reads besides the guest's own folder, relative
/// to the repository: the guest workspace's manifest and lock file and its
/// shared library, the SDK crates guests compile in, the WIT, the
/// toolchain.
pub const SHARED_INPUTS: &[&str] = &[
    "guest-examples/Cargo.toml",
    "guest-examples/Cargo.lock",
    "guest-examples/common",
    "sdk",
    "macros",
    "lower",
    "wit",
    "rust-toolchain.toml",
];

/// Folders and files inside the watched trees that are outputs, not inputs.
fn skipped(name: &str) -> bool {
    matches!(name, "target" | "wit-lowered" | "bindings.rs") || name.starts_with('.')
}

/// Appends every input file under `path` (or `path` itself) to `files`. A
/// path that does not exist adds nothing.
pub fn list_tree(path: &Path, files: &mut Vec<PathBuf>) -> Result<(), BuildError> {
    let io = |error| BuildError::Io {
        path: path.to_owned(),
        error,
    };
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(e)),
    };
    if !meta.is_dir() {
        files.push(path.to_owned());
        return Ok(());
    }
    for entry in std::fs::read_dir(path).map_err(io)? {
        let entry = entry.map_err(io)?.path();
        let name = entry.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !skipped(name) {
            list_tree(&entry, files)?;
        }
    }
    Ok(())
}

/// Hashes the files under `root`: their paths relative to it (so renames
/// count) and their contents.
fn hash_tree(root: &Path, h: &mut DefaultHasher) -> Result<(), BuildError> {
    let mut files = Vec::new();
    list_tree(root, &mut files)?;
    files.sort();
    files.len().hash(h);
    for file in files {
        file.strip_prefix(root).unwrap_or(&file).hash(h);
        std::fs::read(&file)
            .map_err(|error| BuildError::Io {
                path: file.clone(),
                error,
            })?
            .hash(h);
    }
    Ok(())
}

/// The inputs of one guest build, as a hex string for its stamp file: the
/// guest's own folder, the [`SHARED_INPUTS`], and the mode.
pub fn inputs(repo: &Path, guest: &GuestSpec, mode: Mode) -> Result<String, BuildError> {
    let mut h = DefaultHasher::new();
    mode.hash(&mut h);
    hash_tree(&guest.dir, &mut h)?;
    for shared in SHARED_INPUTS {
        shared.hash(&mut h);
        hash_tree(&repo.join(shared), &mut h)?;
    }
    Ok(format!("{:016x}", h.finish()))
}
