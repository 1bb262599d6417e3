//! The WIT wasync ships: it parses, it is in step with the pinned crates,
//! and it fills in what an author's WIT lacks without overriding what it
//! has.

use std::path::{Path, PathBuf};

use wasync_lower::{
    ABI_PACKAGE, Mode, Origin, WASI_IO, WASI_IO_POLL_INTERFACE, add_abi, load, shipped,
};
use wit_parser::Resolve;

#[test]
fn every_shipped_package_parses_and_resolves_against_the_others() {
    for package in shipped::all() {
        let name = package.name().to_string();
        let loaded = load(&[], Some(package.source)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let names: Vec<String> = loaded
            .resolve
            .package_names
            .keys()
            .map(|n| n.to_string())
            .collect();
        assert!(names.contains(&name), "{name}: {names:?}");
    }
    let mut resolve = Resolve::default();
    add_abi(&mut resolve).unwrap();
    let names: Vec<String> = resolve
        .package_names
        .keys()
        .map(|n| n.to_string())
        .collect();
    assert!(names.contains(&ABI_PACKAGE.to_owned()), "{names:?}");
    assert!(names.contains(&WASI_IO.to_owned()), "{names:?}");
}

#[test]
fn the_abi_names_the_wasi_io_that_wasync_ships() {
    let io = shipped::find(WASI_IO).expect("wasync ships the wasi:io the ABI names");
    assert_eq!(io.name().to_string(), WASI_IO);
    assert!(shipped::ABI_WIT.contains(&format!("use {}.{{pollable}}", WASI_IO_POLL_INTERFACE)));
    // The version of wasi:io is the WASI release of the pinned wasip2 crate.
    let wasi_release = shipped::WASIP2_VERSION.split("+wasi-").nth(1).unwrap();
    assert_eq!(WASI_IO, format!("wasi:io@{wasi_release}"));
}

/// The crate manifests that pin `wasip2`, read from the repository when the
/// tests run in it (a packaged crate has no siblings to compare with).
fn repo_manifest(relative: &str) -> Option<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative);
    std::fs::read_to_string(path).ok()
}

#[test]
fn the_sdk_and_this_crate_pin_the_same_wasip2_release() {
    let pin = format!(
        "\"={}\"",
        shipped::WASIP2_VERSION.split('+').next().unwrap()
    );
    let own =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    assert!(
        own.contains(&format!("wasip2 = {{ version = {pin}")),
        "lower/Cargo.toml must pin wasip2 {pin}"
    );
    let Some(sdk) = repo_manifest("sdk/Cargo.toml") else {
        return;
    };
    assert!(
        sdk.lines()
            .any(|l| l.starts_with("wasip2") && l.contains(&pin)),
        "sdk/Cargo.toml must pin wasip2 {pin}, the release whose WIT wasync-lower ships"
    );
}

#[test]
fn a_world_that_imports_wasi_without_deps_gets_the_shipped_packages() {
    let loaded = load(
        &[],
        Some(
            "package demo:app;
             world app {
                 import wasi:http/outgoing-handler@0.2.12;
                 import wasi:filesystem/preopens@0.2.12;
                 export run: async func() -> u32;
             }",
        ),
    )
    .unwrap();
    let names: Vec<String> = loaded
        .resolve
        .package_names
        .keys()
        .map(|n| n.to_string())
        .collect();
    for needed in [
        "wasi:http@0.2.12",
        "wasi:io@0.2.12",
        "wasi:clocks@0.2.12",
        "wasi:filesystem@0.2.12",
    ] {
        assert!(names.contains(&needed.to_owned()), "{needed} in {names:?}");
    }
}

#[test]
fn only_the_packages_a_world_needs_are_added() {
    let loaded = load(
        &[],
        Some("package demo:app; world app { import wasi:clocks/monotonic-clock@0.2.12; }"),
    )
    .unwrap();
    let mut names: Vec<String> = loaded
        .resolve
        .package_names
        .keys()
        .map(|n| n.to_string())
        .collect();
    names.sort();
    assert_eq!(names, ["demo:app", "wasi:clocks@0.2.12", "wasi:io@0.2.12"]);
}

#[test]
fn a_version_wasync_does_not_ship_is_named_with_what_to_do() {
    let err = load(
        &[],
        Some("package demo:app; world app { import wasi:http/types@0.2.0; }"),
    )
    .unwrap_err();
    assert_eq!(err.origin, Origin::Inline);
    let msg = err.to_string();
    assert!(msg.contains("`wasi:http@0.2.0`"), "{msg}");
    assert!(msg.contains("wasync ships wasi:http@0.2.12"), "{msg}");
    assert!(msg.contains("deps/"), "{msg}");
}

fn temp_wit(tag: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wasync-lower-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

#[test]
fn the_authors_own_deps_win_over_the_shipped_packages() {
    // A deliberately different wasi:clocks: if it were replaced by the
    // shipped one, `only-mine` would not exist.
    let dir = temp_wit(
        "own-deps",
        &[
            (
                "app.wit",
                "package demo:app; world app { import wasi:clocks/only-mine@0.2.12; }",
            ),
            (
                "deps/clocks/clocks.wit",
                "package wasi:clocks@0.2.12; interface only-mine { now: func() -> u64; }",
            ),
        ],
    );
    let loaded = load(std::slice::from_ref(&dir), None).unwrap();
    assert!(
        loaded
            .files
            .iter()
            .any(|f| f.ends_with("deps/clocks/clocks.wit"))
    );
    let world = loaded
        .resolve
        .select_world(&loaded.packages, Some("app"))
        .unwrap();
    let printed = wasync_lower::print_world(&loaded.resolve, world).unwrap();
    assert!(printed.contains("only-mine"), "{printed}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_mode_c_world_lowers_from_a_folder_with_no_deps() {
    let dir = temp_wit(
        "no-deps",
        &[(
            "app.wit",
            "package demo:app; world app { export run: async func() -> u32; }",
        )],
    );
    let (resolve, lowering) =
        wasync_lower::load_and_lower(&dir, Some("app"), Mode::Concurrent).unwrap();
    let printed = wasync_lower::print_world(&resolve, lowering.world).unwrap();
    assert!(
        printed.contains("run-start: func() -> result<u32, u32>"),
        "{printed}"
    );
    assert!(
        printed.contains("import wasync:abi/host@0.1.0"),
        "{printed}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}
