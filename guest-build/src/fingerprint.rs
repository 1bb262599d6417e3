//! Decides whether a guest must be rebuilt: a hash over every file that can
//! change its output.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::Path;

use crate::{BuildError, GuestSpec, Mode};

/// Folders and files inside the watched trees that are outputs, not inputs.
fn skipped(name: &str) -> bool {
    matches!(name, "target" | "wit-lowered" | "bindings.rs" | ".git") || name.starts_with('.')
}

fn hash_tree(path: &Path, h: &mut DefaultHasher) -> Result<(), BuildError> {
    let io = |error| BuildError::Io {
        path: path.to_owned(),
        error,
    };
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        // A watched path that does not exist (an optional folder) hashes as
        // absent, so creating it later triggers a rebuild.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            "absent".hash(h);
            return Ok(());
        }
        Err(e) => return Err(io(e)),
    };
    if meta.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(path)
            .map_err(io)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        entries.sort();
        for entry in entries {
            let name = entry.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if skipped(name) {
                continue;
            }
            name.hash(h);
            hash_tree(&entry, h)?;
        }
    } else {
        std::fs::read(path).map_err(io)?.hash(h);
    }
    Ok(())
}

/// The inputs of one guest build, as a hex string for its stamp file: the
/// guest's own folder, the guest workspace's manifest and lock file, the SDK
/// crates it compiles in, the repository's WIT, and the mode.
pub fn inputs(repo: &Path, guest: &GuestSpec, mode: Mode) -> Result<String, BuildError> {
    let mut h = DefaultHasher::new();
    mode.hash(&mut h);
    hash_tree(&guest.dir, &mut h)?;
    for shared in [
        "guest-examples/Cargo.toml",
        "guest-examples/Cargo.lock",
        "guest-examples/common",
        "sdk",
        "macros",
        "lower",
        "wit",
        "rust-toolchain.toml",
    ] {
        shared.hash(&mut h);
        hash_tree(&repo.join(shared), &mut h)?;
    }
    Ok(format!("{:016x}", h.finish()))
}
