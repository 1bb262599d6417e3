//! Reading an author's WIT the way `wasync::generate!`, the harness's
//! `lower` and the guest pipeline all do: their folders (each with its own
//! `deps/`) or inline text, with every package they refer to but do not
//! carry taken from the WIT wasync ships ([`crate::shipped`]).
//!
//! Ground rules:
//! - The author's WIT always wins: a shipped package is added only under a
//!   name that nothing the author gave defines.
//! - A referenced package that neither the author nor wasync has is an
//!   error that names it, says which versions wasync ships, and where to put
//!   the package instead.

use std::collections::{BTreeSet, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use wit_parser::{PackageId, PackageName, Resolve, UnresolvedPackageGroup};

use crate::shipped;

/// Which input a [`LoadError`] is about, so that a macro can point at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The `index`-th folder or file of the paths given.
    Path(usize),
    /// The inline WIT text.
    Inline,
}

/// Why WIT could not be loaded: where, and what is wrong, with wit-parser's
/// rendering (file, line, source excerpt) where it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// The input at fault.
    pub origin: Origin,
    /// What is wrong and, for a missing package, what to do.
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for LoadError {}

/// An author's WIT, resolved.
#[derive(Debug, Clone)]
pub struct LoadedWit {
    /// Every package: the author's, their dependencies, and what wasync
    /// added.
    pub resolve: Resolve,
    /// The author's main packages, to select a world from.
    pub packages: Vec<PackageId>,
    /// Every file read, for build tools to watch.
    pub files: Vec<PathBuf>,
}

/// Loads the WIT at `paths` (folders with an optional `deps/`, or single
/// `.wit` files), then `inline` text if given; packages they refer to and
/// lack come from the WIT wasync ships.
///
/// # Examples
///
/// A world that imports `wasi:clocks` with no `deps/` folder at all:
///
/// ```
/// let loaded = wasync_lower::load(&[], Some("
///     package demo:app;
///     world app {
///         import wasi:clocks/monotonic-clock@0.2.12;
///         export run: async func();
///     }
/// ")).unwrap();
/// let world = loaded.resolve.select_world(&loaded.packages, Some("app")).unwrap();
/// assert_eq!(loaded.resolve.worlds[world].name, "app");
/// ```
pub fn load(paths: &[PathBuf], inline: Option<&str>) -> Result<LoadedWit, LoadError> {
    let mut loaded = LoadedWit {
        resolve: Resolve::default(),
        packages: Vec::new(),
        files: Vec::new(),
    };
    for (i, path) in paths.iter().enumerate() {
        let origin = Origin::Path(i);
        let fail = |e: anyhow::Error| LoadError {
            origin,
            message: format!("{e:#}"),
        };
        let (main, deps) = parse_path(path).map_err(fail)?;
        for group in std::iter::once(&main).chain(&deps) {
            loaded
                .files
                .extend(group.source_map.source_files().map(Path::to_owned));
        }
        let id = push_with_shipped(&mut loaded.resolve, main, deps, origin, Some(path))?;
        loaded.packages.push(id);
    }
    if let Some(text) = inline {
        let main =
            UnresolvedPackageGroup::parse("inline.wit", text).map_err(|(map, e)| LoadError {
                origin: Origin::Inline,
                message: e.render(&map),
            })?;
        let id = push_with_shipped(&mut loaded.resolve, main, Vec::new(), Origin::Inline, None)?;
        loaded.packages = vec![id];
    }
    Ok(loaded)
}

/// Parses a folder (and its `deps/`) or a single file, without resolving.
fn parse_path(
    path: &Path,
) -> anyhow::Result<(UnresolvedPackageGroup, Vec<UnresolvedPackageGroup>)> {
    use anyhow::Context;
    if !path.is_dir() {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read WIT at {}", path.display()))?;
        let group = UnresolvedPackageGroup::parse(path, &text)
            .map_err(|(map, e)| anyhow::anyhow!("{}", e.render(&map)))?;
        return Ok((group, Vec::new()));
    }
    // wit-parser's outermost context is the rendered error (file, line and
    // excerpt); the layers under it repeat it in fewer words.
    let main = UnresolvedPackageGroup::parse_dir(path)
        .map_err(|e| anyhow::anyhow!("failed to parse package: {}: {e}", path.display()))?;
    let mut deps = Vec::new();
    let deps_dir = path.join("deps");
    if deps_dir.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&deps_dir)
            .with_context(|| format!("cannot read {}", deps_dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for entry in entries {
            let is_wit = entry.extension().is_some_and(|e| e == "wit");
            if !entry.is_dir() && !is_wit {
                continue;
            }
            let (group, _) = parse_path(&entry)
                .with_context(|| format!("failed to parse package: {}", entry.display()))?;
            deps.push(group);
        }
    }
    Ok((main, deps))
}

/// The names a group defines.
fn defined(group: &UnresolvedPackageGroup) -> impl Iterator<Item = &PackageName> {
    std::iter::once(&group.main.name).chain(group.nested.iter().map(|p| &p.name))
}

/// The names a group refers to.
fn referenced(group: &UnresolvedPackageGroup) -> impl Iterator<Item = &PackageName> {
    std::iter::once(&group.main)
        .chain(&group.nested)
        .flat_map(|p| p.foreign_deps.keys())
}

/// Pushes `main` with `deps` into `resolve`, adding the shipped packages
/// they refer to and nothing defines.
fn push_with_shipped(
    resolve: &mut Resolve,
    main: UnresolvedPackageGroup,
    mut deps: Vec<UnresolvedPackageGroup>,
    origin: Origin,
    path: Option<&Path>,
) -> Result<PackageId, LoadError> {
    let present: HashSet<String> = resolve
        .package_names
        .keys()
        .map(ToString::to_string)
        .collect();
    // A dependency an earlier path already brought in is not pushed twice.
    deps.retain(|g| !present.contains(&g.main.name.to_string()));
    let mut have: HashSet<String> = present;
    for group in std::iter::once(&main).chain(&deps) {
        have.extend(defined(group).map(ToString::to_string));
    }
    let mut wanted: Vec<String> = std::iter::once(&main)
        .chain(&deps)
        .flat_map(referenced)
        .map(ToString::to_string)
        .collect();
    let mut missing = BTreeSet::new();
    while let Some(name) = wanted.pop() {
        if have.contains(&name) {
            continue;
        }
        match shipped::find(&name) {
            Some(package) => {
                let group = package.parse();
                wanted.extend(referenced(&group).map(ToString::to_string));
                have.insert(name);
                deps.push(group);
            }
            None => {
                missing.insert(name);
            }
        }
    }
    if !missing.is_empty() {
        return Err(LoadError {
            origin,
            message: missing_message(&missing, path),
        });
    }
    resolve.push_groups(main, deps).map_err(|e| LoadError {
        origin,
        message: resolve.render_error(&anyhow::Error::from(e)),
    })
}

/// Says which packages are missing, what wasync ships under the same names,
/// and where to put them.
fn missing_message(missing: &BTreeSet<String>, path: Option<&Path>) -> String {
    let shipped: Vec<String> = shipped::all().map(|p| p.name().to_string()).collect();
    let mut lines = Vec::new();
    for name in missing {
        let base = name.split('@').next().unwrap_or(name);
        let same: Vec<&String> = shipped
            .iter()
            .filter(|s| s.split('@').next() == Some(base))
            .collect();
        let hint = if same.is_empty() {
            String::new()
        } else {
            let list: Vec<&str> = same.iter().map(|s| s.as_str()).collect();
            format!(
                " (wasync ships {}: refer to that version instead)",
                list.join(", ")
            )
        };
        lines.push(format!("`{name}`{hint}"));
    }
    let fix = match path {
        Some(p) => format!(
            "add each missing package to {}/deps/ as <name>/*.wit or <name>.wit",
            p.display()
        ),
        None => "inline WIT has no deps/ folder: move it to a folder with a deps/ \
                 folder holding each missing package (<name>/*.wit), and pass that \
                 folder as `path`"
            .to_owned(),
    };
    format!(
        "the WIT refers to {}, which neither its deps/ folder nor wasync provides; {fix}. \
         wasync ships: {}",
        lines.join(", "),
        shipped.join(", ")
    )
}
