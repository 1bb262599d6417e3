//! The WIT that wasync ships, so that a crate using wasync needs no WIT of
//! wasync's or WASI's on disk:
//!
//! - the wasync ABI (`wasync:abi@0.1.0`, [`ABI_WIT`]), which mode C worlds
//!   import and export;
//! - WASI 0.2 ([`WASI_P2`]), copied at build time from the pinned `wasip2`
//!   crate, whose bindings the SDK uses. It resolves the `wasi:io` that the
//!   ABI names, and any WASI package a user's world imports without
//!   carrying it in its own `deps/`.
//!
//! Nothing here reads the file system: the sources are compiled in.

use wit_parser::{PackageName, UnresolvedPackageGroup};

include!(concat!(env!("OUT_DIR"), "/shipped.rs"));

/// The wasync ABI package (`wasync:abi@0.1.0`), embedded so every tool
/// lowers with the same one.
pub const ABI_WIT: &str = include_str!("../wit/abi.wit");

/// One package wasync ships.
#[derive(Debug, Clone, Copy)]
pub struct Shipped {
    /// The file name it is known by in messages (`io.wit`, `abi.wit`).
    pub file: &'static str,
    /// Its WIT source.
    pub source: &'static str,
}

impl Shipped {
    /// Parses the package.
    ///
    /// # Examples
    ///
    /// ```
    /// let io = wasync_lower::shipped::find("wasi:io@0.2.12").unwrap();
    /// assert_eq!(io.parse().main.name.to_string(), "wasi:io@0.2.12");
    /// ```
    pub fn parse(&self) -> UnresolvedPackageGroup {
        // The sources are WASI's releases and our own ABI, and a test parses
        // every one of them: a failure here is a broken build of wasync.
        match UnresolvedPackageGroup::parse(self.file, self.source) {
            Ok(group) => group,
            Err((map, e)) => panic!("wasync ships invalid WIT: {}", e.render(&map)),
        }
    }

    /// The package's name, `ns:pkg@version`.
    ///
    /// # Examples
    ///
    /// ```
    /// let names: Vec<String> = wasync_lower::shipped::all()
    ///     .map(|p| p.name().to_string())
    ///     .collect();
    /// assert!(names.contains(&"wasync:abi@0.1.0".to_owned()));
    /// assert!(names.contains(&"wasi:http@0.2.12".to_owned()));
    /// ```
    pub fn name(&self) -> PackageName {
        self.parse().main.name
    }
}

/// Every package wasync ships: the ABI, then WASI 0.2.
///
/// # Examples
///
/// ```
/// assert!(wasync_lower::shipped::all().count() >= 8);
/// ```
pub fn all() -> impl Iterator<Item = Shipped> {
    std::iter::once(Shipped {
        file: "abi.wit",
        source: ABI_WIT,
    })
    .chain(
        WASI_P2
            .iter()
            .map(|&(file, source)| Shipped { file, source }),
    )
}

/// The shipped package called `name` (`ns:pkg@version`), if wasync ships it.
///
/// # Examples
///
/// ```
/// assert!(wasync_lower::shipped::find("wasi:clocks@0.2.12").is_some());
/// assert!(wasync_lower::shipped::find("wasi:clocks@0.2.0").is_none());
/// ```
pub fn find(name: &str) -> Option<Shipped> {
    all().find(|p| {
        // Cheap before parsing: the name appears in the package line.
        p.source.contains(name.split('@').next().unwrap_or(name)) && p.name().to_string() == name
    })
}
