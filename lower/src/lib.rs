//! Lowers WIT `async func`s to the functions of a wasync mode. Every mode's
//! bindings come from this one function, so the macros, the harness
//! (`wasync-harness lower`) and the tests agree on the result.
//!
//! - **Mode S (standard):** `f: async func(a) -> r` becomes
//!   `f: func(a) -> r`. Imports and exports alike; the component imports
//!   nothing of wasync.
//! - **Mode C (concurrent):** it becomes `f-start: func(a) -> result<r, u32>`
//!   and `f-finish: func(call-id: u32) -> r`, and the world gains
//!   `import wasync:abi/host` and `export wasync:abi/guest`. Async methods
//!   of a resource keep `self` on `[method]res.f-start`; their finish is
//!   `[static]res.f-finish`, since a finished call needs no resource.
//! - **Mode N (native WASI 0.3):** nothing is lowered: `async func` stays
//!   async, for wit-bindgen's native async support, and the world gains
//!   nothing of wasync. The [`Lowering`] still lists every async function,
//!   for the macros' wrappers.
//!
//! ```
//! use wit_parser::Resolve;
//! use wasync_lower::{Mode, lower, print_world};
//!
//! let mut resolve = Resolve::default();
//! let pkg = resolve.push_str("demo.wit", r#"
//!     package demo:app;
//!     world app { export add: async func(a: u32, b: u32) -> u32; }
//! "#).unwrap();
//! let world = resolve.select_world(&[pkg], Some("app")).unwrap();
//! lower(&mut resolve, world, Mode::Standard).unwrap();
//! assert!(print_world(&resolve, world).unwrap().contains("export add: func(a: u32, b: u32) -> u32;"));
//! ```

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use anyhow::{Context, Result};
use wit_parser::{
    CloneMaps, Docs, Function, FunctionKind, InterfaceId, PackageId, Param, Resolve, Result_,
    Stability, Type, TypeDef, TypeDefKind, TypeId, TypeOwner, WorldId, WorldItem, WorldKey,
};

mod load;
pub mod shipped;

pub use load::{LoadError, LoadedWit, Origin, load};
pub use shipped::ABI_WIT;

/// The wasync ABI package's name as WIT writes it.
pub const ABI_PACKAGE: &str = "wasync:abi@0.1.0";
/// The version of `wasi:io` the ABI uses for `pollable`: the one wasync
/// ships (`tests/shipped.rs` keeps the two in step).
pub const WASI_IO: &str = "wasi:io@0.2.12";
/// The interfaces of mode C bindings that wasync provides itself, as
/// wit-bindgen's `with` keys name them.
pub const ABI_HOST_INTERFACE: &str = "wasync:abi/host@0.1.0";
/// The `wasi:io/poll` interface the ABI's `pollable` comes from.
pub const WASI_IO_POLL_INTERFACE: &str = "wasi:io/poll@0.2.12";

/// A lowering: how async functions become the functions of a component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Mode S: each call runs to completion inside the export.
    Standard,
    /// Mode C: exports return when they would wait; a wasync host drives
    /// the instance.
    Concurrent,
    /// Mode N: `async func` stays async (native WASI 0.3); any 0.3 host
    /// drives the instance.
    Native,
}

impl Mode {
    /// Every mode, in the order the tools list them.
    pub const ALL: [Mode; 3] = [Mode::Standard, Mode::Concurrent, Mode::Native];

    /// The one-letter name (`S`, `C`, `N`).
    pub fn letter(self) -> &'static str {
        match self {
            Mode::Standard => "S",
            Mode::Concurrent => "C",
            Mode::Native => "N",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.letter())
    }
}

/// Why a mode name was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownMode(pub String);

impl fmt::Display for UnknownMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown mode `{}`: expected \"S\" (standard, any WASI 0.2 host), \"C\" (concurrent, a wasync host) or \"N\" (native, any WASI 0.3 host)",
            self.0
        )
    }
}

impl std::error::Error for UnknownMode {}

impl FromStr for Mode {
    type Err = UnknownMode;

    fn from_str(s: &str) -> Result<Mode, UnknownMode> {
        match s {
            "S" | "s" | "standard" => Ok(Mode::Standard),
            "C" | "c" | "concurrent" => Ok(Mode::Concurrent),
            "N" | "n" | "native" => Ok(Mode::Native),
            other => Err(UnknownMode(other.to_owned())),
        }
    }
}

/// Which side of the world a function is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// The world imports the function.
    Import,
    /// The world exports the function.
    Export,
}

/// One `async func` the lowering rewrote.
#[derive(Debug, Clone)]
pub struct AsyncFunc {
    /// Whether the world imports or exports it.
    pub direction: Direction,
    /// The interface it belongs to; `None` for a function of the world.
    pub interface: Option<InterfaceId>,
    /// The world's key for that interface: its name for one declared
    /// inline (`import dict: interface { … }`), else the interface itself.
    pub key: Option<WorldKey>,
    /// The function as written, before lowering.
    pub original: Function,
}

impl AsyncFunc {
    /// The resource of a method or static function.
    pub fn resource(&self) -> Option<TypeId> {
        self.original.kind.resource()
    }

    /// The name without `[method]res.` or `[static]res.`.
    pub fn item_name(&self) -> &str {
        self.original.item_name()
    }
}

/// What [`lower`] did.
#[derive(Debug, Clone)]
pub struct Lowering {
    /// The mode the world was lowered for.
    pub mode: Mode,
    /// The lowered world, in the resolve the lowering was given.
    pub world: WorldId,
    /// Every async function, as it was.
    pub funcs: Vec<AsyncFunc>,
    /// The `wasync:abi` package, in mode C.
    pub abi: Option<PackageId>,
}

/// The sync kind with the same shape.
fn sync_kind(kind: &FunctionKind) -> FunctionKind {
    match kind {
        FunctionKind::AsyncFreestanding => FunctionKind::Freestanding,
        FunctionKind::AsyncMethod(r) => FunctionKind::Method(*r),
        FunctionKind::AsyncStatic(r) => FunctionKind::Static(*r),
        other => other.clone(),
    }
}

/// `name` with `suffix` appended to its item part: `f` → `f-start`,
/// `[method]r.f` → `[method]r.f-start`.
fn suffixed(name: &str, suffix: &str) -> String {
    format!("{name}-{suffix}")
}

/// `[method]r.f` or `[static]r.f` → `[static]r.f-finish`; `f` → `f-finish`.
fn finish_name(f: &Function) -> String {
    match f.name.split_once(']') {
        Some((_, rest)) => format!("[static]{rest}-finish"),
        None => suffixed(&f.name, "finish"),
    }
}

fn note(docs: &Docs, text: String) -> Docs {
    let contents = match &docs.contents {
        Some(c) => format!("{c}\n\n{text}"),
        None => text,
    };
    Docs {
        contents: Some(contents),
    }
}

/// The mode C pair for one async function.
fn split(resolve: &mut Resolve, f: &Function) -> (Function, Function) {
    let owner_ok = f.result;
    let result_ty = resolve.types.alloc(TypeDef {
        name: None,
        kind: TypeDefKind::Result(Result_ {
            ok: owner_ok,
            err: Some(Type::U32),
        }),
        owner: TypeOwner::None,
        docs: Docs::default(),
        stability: Stability::Unknown,
        span: Default::default(),
        external_id: None,
    });
    let item = f.item_name().to_owned();
    let start = Function {
        name: suffixed(&f.name, "start"),
        kind: sync_kind(&f.kind),
        params: f.params.clone(),
        result: Some(Type::Id(result_ty)),
        docs: note(
            &f.docs,
            format!(
                "wasync mode C: starts `{item}`. `ok` is the result if the call finished at once; \
                 `err` is the call id to finish once the host learns it finished."
            ),
        ),
        stability: f.stability.clone(),
        span: f.span,
        external_id: None,
    };
    let finish_kind = match f.kind {
        FunctionKind::AsyncMethod(r) | FunctionKind::AsyncStatic(r) => FunctionKind::Static(r),
        _ => FunctionKind::Freestanding,
    };
    let finish = Function {
        name: finish_name(f),
        kind: finish_kind,
        params: vec![Param {
            name: "call-id".to_owned(),
            ty: Type::U32,
            span: f.span,
        }],
        result: f.result,
        docs: Docs {
            contents: Some(format!(
                "wasync mode C: the result of a finished `{item}` call."
            )),
        },
        stability: f.stability.clone(),
        span: f.span,
        external_id: None,
    };
    (start, finish)
}

/// What `f` becomes in `mode`: one sync function, the start and finish
/// pair, or itself.
fn lower_fn(resolve: &mut Resolve, f: &Function, mode: Mode) -> Vec<Function> {
    match mode {
        Mode::Native => vec![f.clone()],
        Mode::Standard => {
            let mut sync = f.clone();
            sync.kind = sync_kind(&sync.kind);
            vec![sync]
        }
        Mode::Concurrent => {
            let (start, finish) = split(resolve, f);
            vec![start, finish]
        }
    }
}

/// Lowers the functions of one interface in place.
fn lower_interface(
    resolve: &mut Resolve,
    id: InterfaceId,
    key: &WorldKey,
    mode: Mode,
    direction: Direction,
    out: &mut Vec<AsyncFunc>,
) {
    let functions = std::mem::take(&mut resolve.interfaces[id].functions);
    let mut lowered = wit_parser::IndexMap::default();
    for (name, f) in functions {
        if !f.kind.is_async() {
            lowered.insert(name, f);
            continue;
        }
        for g in lower_fn(resolve, &f, mode) {
            lowered.insert(g.name.clone(), g);
        }
        out.push(AsyncFunc {
            direction,
            interface: Some(id),
            key: Some(key.clone()),
            original: f,
        });
    }
    resolve.interfaces[id].functions = lowered;
}

/// Lowers every async function the world `world` imports or exports, in
/// place: in the interfaces it uses and in the world itself. In mode C the
/// world also gains the wasync ABI, which must already be in `resolve`
/// (see [`add_abi`]). In mode N the world is left as it is; the result
/// still lists its async functions.
pub fn lower(resolve: &mut Resolve, world: WorldId, mode: Mode) -> Result<Lowering> {
    let mut funcs = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let sides = [
        (Direction::Import, resolve.worlds[world].imports.clone()),
        (Direction::Export, resolve.worlds[world].exports.clone()),
    ];
    for (direction, items) in &sides {
        for (key, item) in items {
            if let WorldItem::Interface { id, .. } = item
                && seen.insert(*id)
            {
                lower_interface(resolve, *id, key, mode, *direction, &mut funcs);
            }
        }
    }
    for (direction, items) in sides {
        let mut lowered = wit_parser::IndexMap::default();
        for (key, item) in items {
            match item {
                WorldItem::Function(f) if f.kind.is_async() => {
                    // A world's own functions are keyed by their names.
                    for g in lower_fn(resolve, &f, mode) {
                        lowered.insert(WorldKey::Name(g.name.clone()), WorldItem::Function(g));
                    }
                    funcs.push(AsyncFunc {
                        direction,
                        interface: None,
                        key: None,
                        original: f,
                    });
                }
                other => {
                    lowered.insert(key, other);
                }
            }
        }
        match direction {
            Direction::Import => resolve.worlds[world].imports = lowered,
            Direction::Export => resolve.worlds[world].exports = lowered,
        }
    }
    let abi = match mode {
        Mode::Standard | Mode::Native => None,
        Mode::Concurrent => {
            let abi = find_package(resolve, ABI_PACKAGE).with_context(|| {
                format!("mode C needs the {ABI_PACKAGE} package in the Resolve: call add_abi first")
            })?;
            let abi_world = resolve.select_world(&[abi], Some("concurrent"))?;
            resolve
                .merge_worlds(abi_world, world, &mut CloneMaps::default())
                .context("merging the wasync ABI into the world")?;
            Some(abi)
        }
    };
    Ok(Lowering {
        mode,
        world,
        funcs,
        abi,
    })
}

/// The package named `name` (`ns:pkg@version`), if `resolve` has it.
pub fn find_package(resolve: &Resolve, name: &str) -> Option<PackageId> {
    resolve
        .package_names
        .iter()
        .find(|(n, _)| n.to_string() == name)
        .map(|(_, id)| *id)
}

/// Adds the wasync ABI package to `resolve` (once), and the `wasi:io` it
/// uses first if the Resolve lacks it, both from the WIT wasync ships.
pub fn add_abi(resolve: &mut Resolve) -> Result<PackageId> {
    if let Some(abi) = find_package(resolve, ABI_PACKAGE) {
        return Ok(abi);
    }
    if find_package(resolve, WASI_IO).is_none() {
        let io = shipped::find(WASI_IO).context("wasync ships no wasi:io")?;
        resolve.push_group(io.parse())?;
    }
    resolve.push_source("wasync-abi.wit", ABI_WIT)
}

/// Prints the package of `world` as WIT, keeping only that world and the
/// interfaces of the package it uses, so the output shows what the world
/// looks like after lowering.
pub fn print_world(resolve: &Resolve, world: WorldId) -> Result<String> {
    let pkg = resolve.worlds[world]
        .package
        .context("the world belongs to no package")?;
    let used: std::collections::HashSet<InterfaceId> = resolve.worlds[world]
        .imports
        .values()
        .chain(resolve.worlds[world].exports.values())
        .filter_map(|item| match item {
            WorldItem::Interface { id, .. } => Some(*id),
            _ => None,
        })
        .collect();
    let mut pruned = resolve.clone();
    let package = &mut pruned.packages[pkg];
    package.worlds.retain(|_, w| *w == world);
    package.interfaces.retain(|_, i| used.contains(i));
    print_package(&pruned, pkg)
}

/// Prints one package as WIT.
pub fn print_package(resolve: &Resolve, pkg: PackageId) -> Result<String> {
    let mut printer = wit_component::WitPrinter::default();
    printer.print(resolve, pkg, &[])?;
    Ok(printer.output.to_string())
}

/// Writes the lowered package of `world` to `dir/<name>.wit`, and every
/// package it depends on to `dir/deps/<ns>-<name>/`, so that tools that read
/// WIT from disk (cargo-component) see the lowered world. Files are written
/// only when their contents change.
pub fn write_dir(resolve: &Resolve, world: WorldId, dir: &Path) -> Result<()> {
    let main = resolve.worlds[world]
        .package
        .context("the world belongs to no package")?;
    let name = &resolve.packages[main].name;
    write_if_changed(
        &dir.join(format!("{}.wit", name.name)),
        &print_package(resolve, main)?,
    )?;
    for pkg in resolve.topological_packages() {
        if pkg == main {
            continue;
        }
        let n = &resolve.packages[pkg].name;
        let sub = dir.join("deps").join(format!("{}-{}", n.namespace, n.name));
        write_if_changed(
            &sub.join(format!("{}.wit", n.name)),
            &print_package(resolve, pkg)?,
        )?;
    }
    Ok(())
}

fn write_if_changed(path: &Path, contents: &str) -> Result<()> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == contents) {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, contents).with_context(|| format!("writing {}", path.display()))
}

/// Reads the WIT folder `wit_dir` (packages it lacks come from the WIT
/// wasync ships), selects `world`, and lowers it for `mode`: what
/// `wasync-harness lower` and the guest pipeline do.
pub fn load_and_lower(
    wit_dir: &Path,
    world: Option<&str>,
    mode: Mode,
) -> Result<(Resolve, Lowering)> {
    let loaded = load(&[wit_dir.to_owned()], None)?;
    let mut resolve = loaded.resolve;
    let world = resolve.select_world(&loaded.packages, world)?;
    if mode == Mode::Concurrent {
        add_abi(&mut resolve)?;
    }
    let lowering = lower(&mut resolve, world, mode)?;
    Ok((resolve, lowering))
}
