//! Bundles the WASI WIT that wasync ships: copies the `wit/deps/*.wit`
//! files of the pinned `wasip2` crate (a build-dependency of this crate, so
//! cargo has already downloaded it) into `OUT_DIR`, and writes
//! `shipped.rs`, which embeds them with `include_str!`.
//!
//! The repository holds only WIT we wrote (`wit/abi.wit`); WASI's own WIT
//! comes from the crate that the SDK's bindings are generated from, so the
//! two can never disagree (`tests/shipped.rs` checks the pins match).
//!
//! The crate's source is looked up where cargo puts sources: next to this
//! crate (the registry's source folder, or a `cargo vendor` folder), then in
//! `$CARGO_HOME/registry/src/*/`. `WASYNC_WASIP2_DIR` overrides both.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The crate whose packaged WIT is shipped, and its exact version: the same
/// `=` pin as in `[build-dependencies]` and in the SDK's `[dependencies]`.
const WASIP2: (&str, &str) = ("wasip2", "2.0.1+wasi-0.2.12");

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=WASYNC_WASIP2_DIR");
    println!("cargo:rerun-if-env-changed=CARGO_HOME");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let (name, version) = WASIP2;
    let src = match find_crate(name, version) {
        Ok(dir) => dir.join("wit").join("deps"),
        Err(searched) => {
            eprintln!(
                "error: wasync-lower ships the WASI WIT of its build-dependency `{name} ={version}`, \
                 but could not find that crate's source. Looked in:\n{searched}\
                 Set WASYNC_WASIP2_DIR to the folder of `{name}-{version}` (the one holding `wit/`)."
            );
            std::process::exit(1);
        }
    };
    let dest = out.join("wasi-p2");
    std::fs::create_dir_all(&dest).expect("OUT_DIR is writable");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&src)
        .unwrap_or_else(|e| panic!("{}: {e}", src.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "wit"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} holds no .wit files", src.display());
    let mut rs = String::new();
    writeln!(
        rs,
        "/// The version of the `{name}` crate the WASI 0.2 WIT comes from.\n\
         pub const WASIP2_VERSION: &str = {version:?};\n\
         /// The WASI 0.2 packages, one WIT file each, from the `{name}` crate.\n\
         pub const WASI_P2: &[(&str, &str)] = &["
    )
    .unwrap();
    for file in &files {
        let file_name = file.file_name().unwrap().to_string_lossy().into_owned();
        let copy = dest.join(&file_name);
        std::fs::copy(file, &copy).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        writeln!(
            rs,
            "    ({file_name:?}, include_str!({:?})),",
            copy.display().to_string()
        )
        .unwrap();
    }
    rs.push_str("];\n");
    std::fs::write(out.join("shipped.rs"), rs).expect("OUT_DIR is writable");
}

/// The source folder of crate `name` at exactly `version`, or the list of
/// places searched.
fn find_crate(name: &str, version: &str) -> Result<PathBuf, String> {
    let mut searched = String::new();
    let mut candidates = Vec::new();
    if let Some(dir) = std::env::var_os("WASYNC_WASIP2_DIR") {
        candidates.push(PathBuf::from(dir));
    }
    let here = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    if let Some(parent) = here.parent() {
        candidates.push(parent.join(format!("{name}-{version}")));
        candidates.push(parent.join(name));
    }
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")));
    if let Some(home) = cargo_home {
        let registry = home.join("registry").join("src");
        let mut indexes: Vec<PathBuf> = std::fs::read_dir(&registry)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        indexes.sort();
        if indexes.is_empty() {
            candidates.push(registry.join("<index>").join(format!("{name}-{version}")));
        }
        for index in indexes {
            candidates.push(index.join(format!("{name}-{version}")));
        }
    }
    for dir in candidates {
        if has_version(&dir, version) {
            return Ok(dir);
        }
        let _ = writeln!(searched, "  {}", dir.display());
    }
    Err(searched)
}

/// Whether `dir` holds a crate manifest of exactly `version` and a `wit/`.
fn has_version(dir: &Path, version: &str) -> bool {
    let Ok(manifest) = std::fs::read_to_string(dir.join("Cargo.toml")) else {
        return false;
    };
    let wanted = format!("version = \"{version}\"");
    dir.join("wit").is_dir() && manifest.lines().any(|l| l.trim() == wanted)
}
