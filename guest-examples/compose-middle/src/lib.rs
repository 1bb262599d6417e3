//! A backend that forwards to the backend it imports and marks the answer,
//! for chains of more than two components.

mod bindings {
    wasync::generate!({ world: "compose-middle", path: "../../wit" });
}

use examples_common::InFlight;

use bindings::examples::wasync::backend as downstream;
use bindings::exports::examples::wasync::backend::Guest;

struct Middle;

#[wasync::async_export]
impl Guest for Middle {
    async fn shout(text: String, ms: u32) -> String {
        let _running = InFlight::start();
        let loud = downstream::shout(&text, ms).await;
        format!("{loud} (via middle)")
    }

    fn calls() -> u32 {
        InFlight::total()
    }

    fn in_flight() -> u32 {
        InFlight::running()
    }
}

bindings::export!(Middle with_types_in bindings);
