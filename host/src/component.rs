//! Reading a component from disk, with a typed error for each way the file
//! can be wrong before wasmtime compiles it.

use std::path::Path;

use crate::error::{Error, Result};

/// Fails unless `bytes` look like a component: not wasm at all, and a core
/// module, each get their own error. `origin` names the bytes in messages.
///
/// # Examples
///
/// ```
/// use wasync_host::{ErrorKind, check_component};
///
/// let err = check_component("x.wasm".as_ref(), b"hello").unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::NotWasm);
/// let core = wat::parse_str("(module)").unwrap();
/// let err = check_component("m.wasm".as_ref(), &core).unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::CoreModule);
/// ```
pub fn check_component(origin: &Path, bytes: &[u8]) -> Result<()> {
    if !bytes.starts_with(b"\0asm") {
        return Err(Error::NotWasm {
            path: origin.to_owned(),
        });
    }
    if wasmparser::Parser::is_core_wasm(bytes) {
        return Err(Error::CoreModule {
            path: origin.to_owned(),
        });
    }
    Ok(())
}

/// Reads a file that should hold a component: a missing file, an
/// unreadable one, one that is not wasm, and a core module each get their
/// own error.
///
/// # Examples
///
/// ```
/// use wasync_host::{ErrorKind, read_component};
///
/// let err = read_component("no/such/file.wasm".as_ref()).unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::NotFound);
/// ```
pub fn read_component(path: &Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            Error::NotFound {
                path: path.to_owned(),
            }
        } else {
            Error::Io {
                path: path.to_owned(),
                source,
            }
        }
    })?;
    check_component(path, &bytes)?;
    Ok(bytes)
}

/// Turns wasmtime's "component imports instance `x`, but a matching
/// implementation was not found in the linker" into a typed error naming
/// the import.
pub fn unsatisfied(e: &wasmtime::Error) -> Error {
    let top = e.to_string();
    let import = top
        .split('`')
        .nth(1)
        .map(str::to_owned)
        .unwrap_or_else(|| "<unknown>".to_owned());
    let reason = e
        .chain()
        .skip(1)
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(": ");
    let reason = if reason.is_empty() {
        "the host does not provide it".to_owned()
    } else {
        reason
    };
    Error::UnsatisfiedImport { import, reason }
}

/// Whether the component at `bytes` uses the native WASI 0.3 async ABI
/// (mode N): an async lift or lower, or `task.return`. Such a component
/// needs an engine with `concurrency_support` and runs with
/// [`Concurrent::with_native`](crate::Concurrent::with_native). Bytes that
/// do not parse give `false`; compiling them reports why.
///
/// # Examples
///
/// ```
/// let sync = wat::parse_str(r#"
///     (component
///         (core module $m (func (export "f") (result i32) i32.const 7))
///         (core instance $i (instantiate $m))
///         (func (export "seven") (result u32) (canon lift (core func $i "f"))))
/// "#)?;
/// assert!(!wasync_host::uses_native_async(&sync));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn uses_native_async(bytes: &[u8]) -> bool {
    use wasmparser::{CanonicalFunction, CanonicalOption, Parser, Payload};
    let is_async =
        |options: &[CanonicalOption]| options.iter().any(|o| matches!(o, CanonicalOption::Async));
    for payload in Parser::new(0).parse_all(bytes) {
        let Ok(Payload::ComponentCanonicalSection(reader)) = payload else {
            continue;
        };
        for func in reader.into_iter().flatten() {
            match func {
                CanonicalFunction::Lift { options, .. }
                | CanonicalFunction::Lower { options, .. }
                    if is_async(&options) =>
                {
                    return true;
                }
                CanonicalFunction::TaskReturn { .. } => return true,
                _ => {}
            }
        }
    }
    false
}
