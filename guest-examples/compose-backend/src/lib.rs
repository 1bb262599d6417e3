//! The back of a composition: an async `shout` that sleeps first.

mod bindings {
    wasync::generate!({ world: "compose-backend", path: "../../wit" });
}

use std::cell::Cell;
use std::time::Duration;

use bindings::exports::examples::wasync::backend::Guest;

thread_local! {
    static CALLS: Cell<u32> = const { Cell::new(0) };
}

struct Backend;

#[wasync::async_export]
impl Guest for Backend {
    async fn shout(text: String, ms: u32) -> String {
        CALLS.with(|c| c.set(c.get() + 1));
        wasync::time::sleep(Duration::from_millis(u64::from(ms))).await;
        text.to_uppercase()
    }

    fn calls() -> u32 {
        CALLS.with(Cell::get)
    }
}

bindings::export!(Backend with_types_in bindings);
