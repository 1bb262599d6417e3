//! `Harness::load` rejects each kind of bad input with its own typed error.

use std::sync::LazyLock;

use wasync_harness::{ErrorKind, Harness};

static HARNESS: LazyLock<Harness> = LazyLock::new(|| Harness::new().expect("engine"));

fn write_temp(bytes: &[u8]) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), bytes).expect("write");
    file
}

#[test]
fn a_missing_file_is_not_found() {
    let err = HARNESS.load("/definitely/not/here.wasm").err().unwrap();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(
        err.to_string().contains("/definitely/not/here.wasm"),
        "{err}"
    );
}

#[test]
fn garbage_bytes_are_not_wasm() {
    let file = write_temp(b"this is not webassembly at all");
    let err = HARNESS.load(file.path()).err().unwrap();
    assert_eq!(err.kind(), ErrorKind::NotWasm);
    assert!(err.to_string().contains("not a WebAssembly file"), "{err}");
}

#[test]
fn a_core_module_gets_a_hint() {
    let module = wat::parse_str("(module (func (export \"f\")))").unwrap();
    let file = write_temp(&module);
    let err = HARNESS.load(file.path()).err().unwrap();
    assert_eq!(err.kind(), ErrorKind::CoreModule);
    let msg = err.to_string();
    assert!(msg.contains("core WebAssembly module"), "{msg}");
    assert!(msg.contains("wasm32-wasip2"), "the hint names a fix: {msg}");
}

#[test]
fn a_broken_component_is_invalid() {
    // A component header followed by a section that cannot parse.
    let mut bytes = b"\0asm\x0d\x00\x01\x00".to_vec();
    bytes.extend_from_slice(&[0x01, 0xff, 0xff, 0xff, 0x0f, 0x00]);
    let file = write_temp(&bytes);
    let err = HARNESS.load(file.path()).err().unwrap();
    assert_eq!(err.kind(), ErrorKind::InvalidComponent);
    assert!(err.to_string().contains("invalid component"), "{err}");
}

#[test]
fn an_unknown_import_is_named() {
    let component = wat::parse_str(
        r#"(component
             (import "acme:rockets/launch" (instance
               (export "fire" (func))))
           )"#,
    )
    .unwrap();
    let file = write_temp(&component);
    let err = HARNESS.load(file.path()).err().unwrap();
    assert_eq!(err.kind(), ErrorKind::UnsatisfiedImport);
    match &err {
        wasync_harness::Error::UnsatisfiedImport { import, .. } => {
            assert_eq!(import, "acme:rockets/launch")
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn the_same_bytes_compile_once() {
    let harness = Harness::new().unwrap();
    harness.load(test_programs::HELLO).unwrap();
    harness.load(test_programs::HELLO).unwrap();
    assert_eq!(harness.cached_components(), 1);
    harness.load(test_programs::CC_GREETER).unwrap();
    assert_eq!(harness.cached_components(), 2);
}
