//! A backend that forwards to the backend it imports and marks the answer,
//! for chains of more than two components.

mod bindings {
    wasync::generate!({ world: "compose-middle", path: "../../wit" });
}

use std::cell::Cell;

use bindings::exports::examples::wasync::backend::Guest;
use bindings::examples::wasync::backend as downstream;

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

struct Middle;

#[wasync::async_export]
impl Guest for Middle {
    async fn shout(text: String, ms: u32) -> String {
        CALLS.with(|c| c.set(c.get() + 1));
        let _running = InFlight::new();
        let loud = downstream::shout(&text, ms).await;
        format!("{loud} (via middle)")
    }

    fn calls() -> u32 {
        CALLS.with(Cell::get)
    }

    fn in_flight() -> u32 {
        IN_FLIGHT.with(Cell::get)
    }
}

bindings::export!(Middle with_types_in bindings);
