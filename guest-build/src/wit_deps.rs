//! Vendors the WASI WIT into the git-ignored `wit/deps/` from the `wasip2`
//! crate the guests are pinned to, so every WIT consumer (wit-bindgen,
//! `wasync::generate!`, cargo-component, the lowering) resolves WASI from
//! local paths and agrees on its version.

use std::path::{Path, PathBuf};

use crate::manifest::Metadata;
use crate::{BuildError, Pipeline};

/// The crate whose packaged `wit/deps/` folder we copy.
const WIT_CRATE: &str = "wasip2";

/// Finds `wasip2`'s source folder among the guest workspace's packages,
/// exactly the version its `Cargo.lock` pins.
fn wit_crate_dir(meta: &Metadata) -> Result<PathBuf, BuildError> {
    let mut found: Vec<(String, PathBuf)> = meta
        .packages()
        .filter(|p| p["name"] == WIT_CRATE)
        .filter_map(|p| {
            let manifest = PathBuf::from(p["manifest_path"].as_str()?);
            Some((
                p["version"].as_str()?.to_owned(),
                manifest.parent()?.to_owned(),
            ))
        })
        .collect();
    // Several major versions can be in the graph (wstd pins an older one);
    // the newest is the one the SDK uses.
    found.sort_by_key(|a| version_key(&a.0));
    found.pop().map(|(_, dir)| dir).ok_or_else(|| {
        BuildError::WitDeps(format!("no `{WIT_CRATE}` crate in the guest workspace"))
    })
}

fn version_key(v: &str) -> Vec<u64> {
    v.split(['.', '+', '-'])
        .map_while(|p| p.parse().ok())
        .collect()
}

/// Writes `contents` to `path` unless it already holds exactly that, so
/// that cargo's change detection does not see spurious edits.
pub fn write_if_changed(path: &Path, contents: &[u8]) -> Result<(), BuildError> {
    if std::fs::read(path).is_ok_and(|old| old == contents) {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|error| BuildError::Io {
            path: parent.to_owned(),
            error,
        })?;
    }
    std::fs::write(path, contents).map_err(|error| BuildError::Io {
        path: path.to_owned(),
        error,
    })
}

/// Copies every `wit/deps/<pkg>.wit` of the pinned crate to
/// `<repo>/wit/deps/<pkg>/<pkg>.wit`: one folder per package, the layout
/// both wit-parser and cargo-component accept as a local dependency.
pub fn vendor(p: &Pipeline, meta: &Metadata) -> Result<(), BuildError> {
    let src = wit_crate_dir(meta)?.join("wit").join("deps");
    let entries = std::fs::read_dir(&src).map_err(|error| BuildError::Io {
        path: src.clone(),
        error,
    })?;
    let dest = p.repo.join("wit").join("deps");
    let mut copied = 0;
    for entry in entries {
        let entry = entry.map_err(|error| BuildError::Io {
            path: src.clone(),
            error,
        })?;
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "wit") {
            continue;
        }
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        let text = std::fs::read(&path).map_err(|error| BuildError::Io {
            path: path.clone(),
            error,
        })?;
        write_if_changed(&dest.join(stem).join(format!("{stem}.wit")), &text)?;
        copied += 1;
    }
    if copied == 0 {
        return Err(BuildError::WitDeps(format!(
            "{} holds no .wit files",
            src.display()
        )));
    }
    Ok(())
}
