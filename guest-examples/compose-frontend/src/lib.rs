//! The front of a composition: `relay` awaits the imported backend.

mod bindings {
    wasync::generate!({ world: "compose-frontend", path: "../../wit" });
}

use bindings::examples::wasync::backend;
use bindings::exports::examples::wasync::frontend::Guest;

struct Frontend;

#[wasync::async_export]
impl Guest for Frontend {
    async fn relay(text: String, ms: u32) -> String {
        if text == "panic" {
            panic!("relay was asked to panic");
        }
        let answer = backend::shout(&text, ms).await;
        format!("[{answer}]")
    }

    async fn ping() -> String {
        "pong".to_owned()
    }
}

impl bindings::Guest for Frontend {
    fn gauges() -> bindings::RuntimeGauges {
        examples_common::runtime_gauges!(bindings::RuntimeGauges)
    }
}

bindings::export!(Frontend with_types_in bindings);
