//! Static composition with `wac-graph`: plugs the exports of components
//! into the imports of another and encodes the result as one component.
//! This is how mode S components compose: the result runs in any host,
//! and a call into it runs start to finish through every component.

use std::path::{Path, PathBuf};

use wac_graph::types::Package;
use wac_graph::{CompositionGraph, EncodeOptions, PackageId};

use crate::error::{Error, Result};

fn read(path: &Path) -> Result<Vec<u8>> {
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
    if !bytes.starts_with(b"\0asm") {
        return Err(Error::NotWasm {
            path: path.to_owned(),
        });
    }
    if wasmparser::Parser::is_core_wasm(&bytes) {
        return Err(Error::CoreModule {
            path: path.to_owned(),
        });
    }
    Ok(bytes)
}

fn register(graph: &mut CompositionGraph, name: &str, bytes: Vec<u8>, path: &Path) -> Result<PackageId> {
    let package = Package::from_bytes(name, None, bytes, graph.types_mut()).map_err(|e| Error::InvalidComponent {
        path: path.to_owned(),
        message: format!("{e:#}"),
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
            bytes: read(path)?,
        })
    }
}

fn compose_parts(socket: Part, plugs: Vec<Part>) -> Result<Vec<u8>> {
    let mut graph = CompositionGraph::new();
    let socket_name = socket.origin.display().to_string();
    let socket_id = register(&mut graph, "wasync:socket", socket.bytes, &socket.origin)?;
    let mut plug_ids = Vec::new();
    for (i, plug) in plugs.into_iter().enumerate() {
        plug_ids.push(register(&mut graph, &format!("wasync:plug{i}"), plug.bytes, &plug.origin)?);
    }
    wac_graph::plug(&mut graph, plug_ids, socket_id).map_err(|e| {
        Error::Compose(match &e {
            wac_graph::PlugError::NoPlugHappened => {
                format!("none of the plugs exports an interface that {socket_name} imports")
            }
            wac_graph::PlugError::GraphError { source } => format!("{e}: {source:#}"),
        })
    })?;
    graph
        .encode(EncodeOptions::default())
        .map_err(|e| Error::Compose(format!("encoding the composition: {e:#}")))
}

/// Plugs the exports of `plugs` into the matching imports of `socket` and
/// returns the encoded composition. Imports no plug satisfies stay imports
/// of the result.
pub fn compose(socket: &Path, plugs: &[PathBuf]) -> Result<Vec<u8>> {
    let plugs = plugs.iter().map(|p| Part::load(p)).collect::<Result<Vec<_>>>()?;
    compose_parts(Part::load(socket)?, plugs)
}

/// Composes a chain `first -> second -> ... -> last`, where each component
/// imports what the next one exports: the last is plugged into the one
/// before it, that result into the one before, and so on.
pub fn compose_chain(chain: &[PathBuf]) -> Result<Vec<u8>> {
    if chain.len() < 2 {
        return Err(Error::Compose("a chain needs at least two components".into()));
    }
    let mut parts = chain.iter().map(|p| Part::load(p)).collect::<Result<Vec<_>>>()?;
    let mut plug = parts.pop().expect("at least two parts");
    while let Some(socket) = parts.pop() {
        let origin = socket.origin.clone();
        plug = Part {
            bytes: compose_parts(socket, vec![plug])?,
            origin,
        };
    }
    Ok(plug.bytes)
}
