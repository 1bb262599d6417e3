//! An autocomplete source that answers correctly but late: after
//! `$SLOW_DELAY_MS` milliseconds (default 1000), longer than the demo's
//! default timeout.

mod bindings {
    wasync::generate!({ world: "slow-source", path: "../../wit" });
}

use std::time::Duration;

use bindings::examples::wasync::suggestions::Suggestion;
use bindings::exports::examples::wasync::source::Guest;

/// This source's own data: phrases from the world of async runtimes.
const PHRASES: &[&str] = &[
    "async await",
    "async runtime",
    "asynchronous io",
    "awaitable",
    "backpressure",
    "batching",
    "blocking call",
    "budget",
    "callback",
    "cancellation",
    "channel",
    "component model",
    "composition",
    "concurrency",
    "context switch",
    "cooperative scheduling",
    "deadline",
    "deadlock",
    "event loop",
    "executor",
    "fairness",
    "fan out",
    "future",
    "interval",
    "join handle",
    "join set",
    "latency",
    "livelock",
    "mailbox",
    "multiplexing",
    "non blocking",
    "overlap",
    "parking",
    "pollable",
    "polling",
    "reactor",
    "readiness",
    "run queue",
    "scheduler",
    "select",
    "spawn",
    "starvation",
    "stream",
    "task",
    "throughput",
    "tick",
    "timeout",
    "timer wheel",
    "waker",
    "yield",
];

fn delay() -> Duration {
    let ms = std::env::var("SLOW_DELAY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    Duration::from_millis(ms)
}

struct Slow;

#[wasync::async_export]
impl Guest for Slow {
    async fn query(prefix: String, limit: u32) -> Result<Vec<Suggestion>, String> {
        wasync::time::sleep(delay()).await;
        let prefix = prefix.to_lowercase();
        Ok(PHRASES
            .iter()
            .filter(|p| p.starts_with(&prefix))
            .take(limit as usize)
            .enumerate()
            .map(|(i, p)| Suggestion {
                text: (*p).to_owned(),
                score: 0.9 - 0.01 * i as f32,
            })
            .collect())
    }
}

impl bindings::Guest for Slow {
    fn gauges() -> bindings::RuntimeGauges {
        examples_common::runtime_gauges!(bindings::RuntimeGauges)
    }
}

bindings::export!(Slow with_types_in bindings);
