//! Builds every guest through the guest build pipeline, in its test
//! profile, and records where each `.wasm` landed, so tests can
//! `use test_programs::HELLO`.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    // Tests run the quick-to-rebuild guests; the demo and the benchmarks
    // build their own, fully optimised ones.
    let mut pipeline = wasync_build::Pipeline::for_this_repo();
    pipeline.profile = wasync_build::GuestProfile::Test;
    // Each input file, as the pipeline's stamps see them; a new guest shows
    // up in the workspace manifest, which is one of them.
    match pipeline.watched_files() {
        Ok(files) => {
            for file in files {
                println!("cargo:rerun-if-changed={}", file.display());
            }
        }
        Err(e) => {
            eprintln!("error: cannot list the guests' inputs\n{e}");
            std::process::exit(1);
        }
    }
    let artifacts = match pipeline.run() {
        Ok(a) => a,
        Err(e) => {
            // cargo shows a failing build script's stderr: this is the
            // compiler's output for the guest that failed.
            eprintln!("error: the guest build failed\n{e}");
            std::process::exit(1);
        }
    };
    let mut src = String::new();
    let mut all = String::new();
    for a in &artifacts {
        let ident = a.name.to_uppercase().replace('-', "_");
        let path = a.path.display().to_string();
        writeln!(
            src,
            "/// `{}` (mode {}), built from `guest-examples/{}`.",
            a.name, a.mode, a.guest
        )
        .unwrap();
        writeln!(src, "pub const {ident}: &str = {path:?};").unwrap();
        writeln!(all, "    ({:?}, {ident}),", a.name).unwrap();
    }
    // The stock hosts the tests run guests under. A failed install fails
    // only the tests that need that host, with the reason.
    for (name, what, installed) in [
        (
            "WASMTIME_CLI",
            "The stock `wasmtime` CLI",
            pipeline.ensure_wasmtime_cli(),
        ),
        ("JCO", "The `jco` command", pipeline.ensure_jco()),
    ] {
        writeln!(
            src,
            "/// {what}, installed by the guest pipeline, or why not."
        )
        .unwrap();
        match installed {
            Ok(path) => {
                println!("cargo:rerun-if-changed={}", path.display());
                let path = path.display().to_string();
                writeln!(src, "pub const {name}: Result<&str, &str> = Ok({path:?});").unwrap();
            }
            Err(e) => {
                let e = e.to_string();
                writeln!(src, "pub const {name}: Result<&str, &str> = Err({e:?});").unwrap();
            }
        }
    }
    let words = pipeline.word_list_dir().display().to_string();
    writeln!(
        src,
        "/// The folder holding the demo's `words.txt` ({}).",
        wasync_build::WORD_LIST_PACKAGE
    )
    .unwrap();
    writeln!(src, "pub const WORDS_DIR: &str = {words:?};").unwrap();
    writeln!(src, "/// Every guest artifact as `(name, path)`.").unwrap();
    writeln!(src, "pub const ALL: &[(&str, &str)] = &[\n{all}];").unwrap();
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR for build scripts");
    std::fs::write(Path::new(&out).join("guests.rs"), src).expect("OUT_DIR is writable");
}
