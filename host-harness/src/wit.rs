//! Prints what a component imports and exports, as WIT.

use std::path::Path;

use crate::error::{Error, Result};

/// The WIT of the component at `path`: one world listing its imports and
/// exports, followed by the packages those refer to.
pub fn component_wit(path: &Path) -> Result<String> {
    let bytes = wasync_host::read_component(path)?;
    let decoded = wit_parser::decoding::decode(&bytes).map_err(|e| Error::InvalidComponent {
        path: path.to_owned(),
        message: format!("{e:#}"),
    })?;
    let resolve = decoded.resolve();
    let main = decoded.package();
    let nested: Vec<_> = resolve
        .packages
        .iter()
        .map(|(id, _)| id)
        .filter(|id| *id != main)
        .collect();
    let mut printer = wit_component::WitPrinter::default();
    printer
        .print(resolve, main, &nested)
        .map_err(|e| Error::Other(e.context("printing WIT")))?;
    Ok(printer.output.to_string())
}
