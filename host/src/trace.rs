//! A record of the calls a mode C host served: when it started and
//! ended, and in which instance, so that overlap can be asserted and seen.

use serde::Serialize;

/// One call, as the event loop saw it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceEvent {
    /// The driver's key for the call.
    pub call: u64,
    /// The name of the instance the call ran in.
    pub instance: String,
    /// For a call one instance made into another (a host-mediated link),
    /// the caller's name; `None` for a call from outside the host.
    pub caller: Option<String>,
    /// The function called.
    pub func: String,
    /// Microseconds from the loop's start to the call's start.
    pub start_us: u64,
    /// Microseconds to its end; `None` while it runs.
    pub end_us: Option<u64>,
    /// `ok`, `error` or `cancelled`; empty while it runs.
    pub outcome: String,
}

impl TraceEvent {
    /// Whether two calls ran at the same time.
    pub fn overlaps(&self, other: &TraceEvent) -> bool {
        let end = |e: &TraceEvent| e.end_us.unwrap_or(u64::MAX);
        self.start_us < end(other) && other.start_us < end(self)
    }
}
