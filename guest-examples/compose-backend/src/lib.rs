//! The back of a composition: an async `shout` that sleeps first.

mod bindings {
    wasync::generate!({ world: "compose-backend", path: "../../wit" });
}

use std::cell::Cell;
use std::time::Duration;

use bindings::exports::examples::wasync::backend::Guest;

thread_local! {
    static CALLS: Cell<u32> = const { Cell::new(0) };
    static IN_FLIGHT: Cell<u32> = const { Cell::new(0) };
}

/// Counts a running `shout` until dropped, finished or cancelled alike.
struct InFlight;

impl InFlight {
    fn new() -> InFlight {
        IN_FLIGHT.with(|c| c.set(c.get() + 1));
        InFlight
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        IN_FLIGHT.with(|c| c.set(c.get() - 1));
    }
}

struct Backend;

#[wasync::async_export]
impl Guest for Backend {
    async fn shout(text: String, ms: u32) -> String {
        CALLS.with(|c| c.set(c.get() + 1));
        let _running = InFlight::new();
        wasync::time::sleep(Duration::from_millis(u64::from(ms))).await;
        text.to_uppercase()
    }

    fn calls() -> u32 {
        CALLS.with(Cell::get)
    }

    fn in_flight() -> u32 {
        IN_FLIGHT.with(Cell::get)
    }
}

bindings::export!(Backend with_types_in bindings);
