//! `wasync-harness bench`: side-by-side measurements, printed as a table or
//! as one JSON object per line (`--json`) for tracking over time.

pub mod autocomplete;
pub mod calls;
pub mod runtime;

use std::path::PathBuf;

use serde_json::Value;

use crate::error::{Error, Result};

/// Builds the named guests through the guest pipeline and returns their
/// paths, in the order asked.
pub fn build_guests(names: &[&str], progress: bool) -> Result<Vec<PathBuf>> {
    let mut pipeline = wasync_build::Pipeline::for_this_repo();
    if progress {
        pipeline.progress = wasync_build::Progress::Lines;
    }
    let artifacts = pipeline
        .run()
        .map_err(|e| Error::Config(format!("the guest build failed: {e}")))?;
    names
        .iter()
        .map(|n| {
            artifacts
                .iter()
                .find(|a| a.name == *n)
                .map(|a| a.path.clone())
                .ok_or_else(|| Error::Config(format!("the guest pipeline built no `{n}`")))
        })
        .collect()
}

/// Where rows go: JSON lines, or a table printed as rows arrive.
pub struct Sink {
    json: bool,
    rows: Vec<Value>,
}

impl Sink {
    pub fn new(json: bool) -> Sink {
        Sink {
            json,
            rows: Vec::new(),
        }
    }

    pub fn is_json(&self) -> bool {
        self.json
    }

    /// Emits one measurement: as a JSON line, or through `line` as text.
    pub fn row(&mut self, value: Value, line: impl FnOnce(&Value) -> String) {
        if self.json {
            println!("{value}");
        } else {
            println!("{}", line(&value));
        }
        self.rows.push(value);
    }

    /// Prints a heading (not in JSON mode).
    pub fn heading(&self, text: &str) {
        if !self.json {
            println!("\n{text}");
        }
    }

    /// Prints a note such as a ratio (not in JSON mode).
    pub fn note(&self, text: &str) {
        if !self.json {
            println!("  {text}");
        }
    }

    pub fn into_rows(self) -> Vec<Value> {
        self.rows
    }
}

/// Milliseconds with two decimals, for JSON and tables.
pub fn ms(ns: u64) -> f64 {
    (ns as f64 / 1e4).round() / 100.0
}
