//! The back of a composition: an async `shout` that sleeps first.

mod bindings {
    wasync::generate!({ world: "compose-backend", path: "../../wit" });
}

use examples_common::InFlight;
use std::time::Duration;

use bindings::exports::examples::wasync::backend::Guest;

struct Backend;

#[wasync::async_export]
impl Guest for Backend {
    async fn shout(text: String, ms: u32) -> String {
        let _running = InFlight::start();
        wasync::time::sleep(Duration::from_millis(u64::from(ms))).await;
        text.to_uppercase()
    }

    fn calls() -> u32 {
        InFlight::total()
    }

    fn in_flight() -> u32 {
        InFlight::running()
    }
}

impl bindings::Guest for Backend {
    fn gauges() -> bindings::RuntimeGauges {
        examples_common::runtime_gauges!(bindings::RuntimeGauges)
    }
}

bindings::export!(Backend with_types_in bindings);
