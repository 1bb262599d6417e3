//! Static composition with `wac-graph`: plugs the exports of components
//! into the imports of another and encodes the result as one component.
//! This is how mode S components compose: the result runs in any host,
//! and a call into it runs start to finish through every component.

use std::path::{Path, PathBuf};

use wac_graph::types::Package;
use wac_graph::{CompositionGraph, EncodeOptions, PackageId};

use crate::error::{Error, Result};
use wasync_host::match_plug;

fn register(
    graph: &mut CompositionGraph,
    name: &str,
    bytes: Vec<u8>,
    path: &Path,
) -> Result<PackageId> {
    let package = Package::from_bytes(name, None, bytes, graph.types_mut()).map_err(|e| {
        Error::InvalidComponent {
            path: path.to_owned(),
            message: format!("{e:#}"),
        }
    })?;
    graph
        .register_package(package)
        .map_err(|e| Error::Compose(format!("{}: {e}", path.display())))
}

/// A component to compose, and where it came from (for messages).
struct Part {
    origin: PathBuf,
    bytes: Vec<u8>,
}

impl Part {
    fn load(path: &Path) -> Result<Part> {
        Ok(Part {
            origin: path.to_owned(),
            bytes: wasync_host::read_component(path)?,
        })
    }
}

/// A component plugged into another: into the import `import` if named,
/// else into every import whose name one of its exports has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plug {
    /// The import to plug into; `None` plugs every import an export matches.
    pub import: Option<String>,
    /// The component plugged in.
    pub path: PathBuf,
}

impl std::str::FromStr for Plug {
    type Err = String;

    /// `IMPORT=PATH` or `PATH`.
    fn from_str(s: &str) -> std::result::Result<Plug, String> {
        match s.split_once('=') {
            Some((import, path)) if !import.is_empty() && !path.is_empty() => Ok(Plug {
                import: Some(import.to_owned()),
                path: PathBuf::from(path),
            }),
            Some(_) => Err(format!("`{s}`: expected IMPORT=PATH or PATH")),
            None => Ok(Plug {
                import: None,
                path: PathBuf::from(s),
            }),
        }
    }
}

fn compose_parts(socket: Part, plugs: Vec<(Option<String>, Part)>) -> Result<Vec<u8>> {
    let mut graph = CompositionGraph::new();
    let socket_name = socket.origin.display().to_string();
    let socket_id = register(&mut graph, "wasync:socket", socket.bytes, &socket.origin)?;
    let socket_inst = graph.instantiate(socket_id);
    let graph_err = |e: &dyn std::fmt::Display| Error::Compose(e.to_string());
    let socket_imports: Vec<String> = graph.types()[graph[socket_id].ty()]
        .imports
        .keys()
        .cloned()
        .collect();
    let mut plugged = 0;
    for (i, (import, plug)) in plugs.into_iter().enumerate() {
        let origin = plug.origin.clone();
        let plug_id = register(&mut graph, &format!("wasync:plug{i}"), plug.bytes, &origin)?;
        let exports: Vec<(String, bool)> = graph.types()[graph[plug_id].ty()]
            .exports
            .iter()
            .map(|(n, kind)| {
                let interface = matches!(kind, wac_graph::types::ItemKind::Instance(_));
                (n.clone(), interface)
            })
            .collect();
        let pairs = match_plug(
            import.as_deref(),
            &socket_name,
            &socket_imports,
            &origin.display().to_string(),
            &exports,
        )?;
        let plug_inst = graph.instantiate(plug_id);
        for (export, import) in pairs {
            let alias = graph
                .alias_instance_export(plug_inst, &export)
                .map_err(|e| graph_err(&e))?;
            graph
                .set_instantiation_argument(socket_inst, &import, alias)
                .map_err(|e| {
                    Error::Compose(format!(
                        "plugging `{import}` with {}: {e:#}",
                        origin.display()
                    ))
                })?;
            plugged += 1;
        }
    }
    if plugged == 0 {
        return Err(Error::Compose(format!(
            "none of the plugs exports an interface that {socket_name} imports"
        )));
    }
    let exports: Vec<String> = graph.types()[graph[socket_id].ty()]
        .exports
        .keys()
        .cloned()
        .collect();
    for name in exports {
        let alias = graph
            .alias_instance_export(socket_inst, &name)
            .map_err(|e| graph_err(&e))?;
        graph.export(alias, &name).map_err(|e| graph_err(&e))?;
    }
    graph
        .encode(EncodeOptions::default())
        .map_err(|e| Error::Compose(format!("encoding the composition: {e:#}")))
}

/// Plugs `plugs` into the imports of `socket` and returns the encoded
/// composition. Imports no plug satisfies stay imports of the result.
pub fn compose(socket: &Path, plugs: &[Plug]) -> Result<Vec<u8>> {
    let plugs = plugs
        .iter()
        .map(|p| Ok((p.import.clone(), Part::load(&p.path)?)))
        .collect::<Result<Vec<_>>>()?;
    compose_parts(Part::load(socket)?, plugs)
}

/// Plugs a component held in memory (`plug`; `origin` names it in
/// messages) into every import of `socket` named like one of its exports.
///
/// # Examples
///
/// ```no_run
/// # fn demo() -> wasync_harness::Result<()> {
/// use std::path::Path;
/// use wasync_harness::compose::{Plug, compose, compose_with_bytes};
///
/// let back = compose(Path::new("middle.wasm"), &["backend.wasm".parse::<Plug>().unwrap()])?;
/// let all = compose_with_bytes(Path::new("frontend.wasm"), Path::new("middle.wasm"), back)?;
/// # Ok(()) }
/// ```
pub fn compose_with_bytes(socket: &Path, origin: &Path, plug: Vec<u8>) -> Result<Vec<u8>> {
    let plug = Part {
        origin: origin.to_owned(),
        bytes: plug,
    };
    compose_parts(Part::load(socket)?, vec![(None, plug)])
}

/// Composes a chain `first -> second -> ... -> last`, where each component
/// imports what the next one exports: the last is plugged into the one
/// before it, that result into the one before, and so on.
pub fn compose_chain(chain: &[PathBuf]) -> Result<Vec<u8>> {
    if chain.len() < 2 {
        return Err(Error::Compose(
            "a chain needs at least two components".into(),
        ));
    }
    let mut parts = chain
        .iter()
        .map(|p| Part::load(p))
        .collect::<Result<Vec<_>>>()?;
    let mut plug = parts.pop().expect("at least two parts");
    while let Some(socket) = parts.pop() {
        let origin = socket.origin.clone();
        plug = Part {
            bytes: compose_parts(socket, vec![(None, plug)])?,
            origin,
        };
    }
    Ok(plug.bytes)
}
