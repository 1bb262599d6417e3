//! `wasync-harness new`: writes a component crate that uses wasync, from
//! the template in `template/` (embedded in the binary, so it works without
//! a source checkout). The crate builds in mode S and mode C as it is:
//! `cargo build --target wasm32-wasip2 [--features concurrent]`.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Where the new crate gets wasync from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WasyncSource {
    /// A git repository holding wasync, at a branch, tag or commit if given.
    Git {
        /// The repository's URL.
        url: String,
        /// A branch, tag or commit; the default branch if `None`.
        rev: Option<String>,
    },
    /// A local checkout's `sdk/` folder (or the repository root).
    Path(PathBuf),
}

impl WasyncSource {
    /// The repository this harness was built from, by git.
    pub fn upstream() -> WasyncSource {
        WasyncSource::Git {
            url: env!("CARGO_PKG_REPOSITORY").to_owned(),
            rev: None,
        }
    }

    /// The dependency as a `Cargo.toml` inline table.
    fn toml(&self) -> Result<String> {
        Ok(match self {
            WasyncSource::Git { url, rev: None } => format!("{{ git = {} }}", quoted(url)),
            WasyncSource::Git {
                url,
                rev: Some(rev),
            } => {
                format!("{{ git = {}, rev = {} }}", quoted(url), quoted(rev))
            }
            WasyncSource::Path(path) => {
                // A repository root holds the SDK in `sdk/`.
                let sdk = if path.join("sdk").join("Cargo.toml").exists() {
                    path.join("sdk")
                } else {
                    path.clone()
                };
                let sdk = std::fs::canonicalize(&sdk).map_err(|source| Error::Io {
                    path: sdk.clone(),
                    source,
                })?;
                format!("{{ path = {} }}", quoted(&sdk.display().to_string()))
            }
        })
    }
}

/// A TOML basic string.
fn quoted(s: &str) -> String {
    let escaped: String = s
        .chars()
        .flat_map(|c| match c {
            '"' => vec!['\\', '"'],
            '\\' => vec!['\\', '\\'],
            c => vec![c],
        })
        .collect();
    format!("\"{escaped}\"")
}

/// The template's files: where each goes, and its text with placeholders.
const TEMPLATE: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("../template/Cargo.toml.in")),
    ("wit/world.wit", include_str!("../template/wit/world.wit")),
    ("src/lib.rs", include_str!("../template/src/lib.rs")),
    (".gitignore", include_str!("../template/gitignore.in")),
];

/// Checks that `name` can be a crate name and a WIT world name at once:
/// lowercase letters, digits and single dashes, starting with a letter.
pub fn check_name(name: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(Error::Config(format!(
            "`{name}` cannot name a component: {why} (use lowercase letters, digits and dashes, such as `my-component`)"
        )))
    };
    let Some(first) = name.chars().next() else {
        return bad("it is empty");
    };
    if !first.is_ascii_lowercase() {
        return bad("it must start with a lowercase letter");
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return bad(&format!("`{c}` is not allowed"));
    }
    if name.contains("--") || name.ends_with('-') {
        return bad("dashes must separate words");
    }
    Ok(())
}

/// Writes a new component crate called `name` into `dir`, which must not
/// exist yet or be empty. Returns the files written.
pub fn new_crate(name: &str, dir: &Path, wasync: &WasyncSource) -> Result<Vec<PathBuf>> {
    check_name(name)?;
    if dir.exists() && std::fs::read_dir(dir).map_or(true, |mut d| d.next().is_some()) {
        return Err(Error::Config(format!(
            "{} already exists and is not empty; choose another folder",
            dir.display()
        )));
    }
    let dependency = wasync.toml()?;
    let mut written = Vec::new();
    for (path, text) in TEMPLATE {
        let text = text
            .replace("{{name}}", name)
            .replace("{{world}}", name)
            .replace("{{package}}", &format!("component:{name}"))
            .replace("{{wasync}}", &dependency);
        let dest = dir.join(path);
        let io = |source| Error::Io {
            path: dest.clone(),
            source,
        };
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        std::fs::write(&dest, text).map_err(io)?;
        written.push(dest);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_suit_both_cargo_and_wit() {
        assert!(check_name("my-component2").is_ok());
        for bad in ["", "My", "2fast", "snake_case", "a--b", "end-", "ü"] {
            let err = check_name(bad).unwrap_err().to_string();
            assert!(err.contains("cannot name a component"), "{bad}: {err}");
        }
    }

    #[test]
    fn the_template_fills_every_placeholder() {
        let dir = std::env::temp_dir().join(format!("wasync-new-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let source = WasyncSource::Git {
            url: "https://example.com/wasync".into(),
            rev: Some("abc".into()),
        };
        let files = new_crate("demo-app", &dir, &source).unwrap();
        assert_eq!(files.len(), TEMPLATE.len());
        for f in &files {
            let text = std::fs::read_to_string(f).unwrap();
            assert!(!text.contains("{{"), "{}: {text}", f.display());
        }
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        assert!(
            manifest.contains(r#"wasync = { git = "https://example.com/wasync", rev = "abc" }"#),
            "{manifest}"
        );
        let wit = std::fs::read_to_string(dir.join("wit/world.wit")).unwrap();
        assert!(
            wit.contains("package component:demo-app;") && wit.contains("world demo-app {"),
            "{wit}"
        );
        // It refuses to write over what is there.
        let err = new_crate("demo-app", &dir, &source)
            .unwrap_err()
            .to_string();
        assert!(err.contains("already exists"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
