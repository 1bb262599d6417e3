//! The plug rule: which exports of one component serve which imports of
//! another. Static composition (the harness's `compose`) and the links of a
//! mode C host share it, so a composition means the same in both modes.

use crate::error::{Error, Result};

/// Which exports of a plug serve which imports of a socket, as
/// `(export, import)` pairs. A named import takes the plug's export of that
/// name, or else the plug's only exported interface; an unnamed plug serves
/// every import of the socket that it exports under the same name. Static
/// composition and mode C links share this rule. `exports` are the plug's
/// exports, each with whether it is an interface. `socket` and `plug` name
/// the two components in messages.
///
/// # Examples
///
/// ```
/// use wasync_host::match_plug;
///
/// let imports = ["demo:app/store".to_owned(), "wasi:cli/stdout@0.2.12".to_owned()];
/// let exports = [("demo:kv/map".to_owned(), true)];
/// // A named import takes the plug's only interface.
/// let pairs = match_plug(Some("demo:app/store"), "app", &imports, "kv", &exports)?;
/// assert_eq!(pairs, [("demo:kv/map".to_owned(), "demo:app/store".to_owned())]);
/// // An unnamed plug must export something under an imported name.
/// assert!(match_plug(None, "app", &imports, "kv", &exports).is_err());
/// # Ok::<(), wasync_host::Error>(())
/// ```
pub fn match_plug(
    import: Option<&str>,
    socket: &str,
    socket_imports: &[String],
    plug: &str,
    exports: &[(String, bool)],
) -> Result<Vec<(String, String)>> {
    let Some(import) = import else {
        let pairs: Vec<(String, String)> = exports
            .iter()
            .filter(|(n, _)| socket_imports.contains(n))
            .map(|(n, _)| (n.clone(), n.clone()))
            .collect();
        if pairs.is_empty() {
            return Err(Error::Compose(format!(
                "none of the exports of {plug} matches an import of {socket}"
            )));
        }
        return Ok(pairs);
    };
    if !socket_imports.iter().any(|i| i == import) {
        return Err(Error::Compose(format!("{socket} has no import `{import}`")));
    }
    if exports.iter().any(|(n, _)| n == import) {
        return Ok(vec![(import.to_owned(), import.to_owned())]);
    }
    let interfaces: Vec<&String> = exports
        .iter()
        .filter(|(_, interface)| *interface)
        .map(|(n, _)| n)
        .collect();
    match interfaces.as_slice() {
        [only] => Ok(vec![((*only).clone(), import.to_owned())]),
        _ => Err(Error::Compose(format!(
            "{plug} exports no `{import}`, and not exactly one interface to use for it (it exports: {})",
            exports
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}
