//! Waits, then asks its host: the host's own import (`directory`) sits
//! next to wasync's in the embedder's linker.

mod bindings {
    wasync::generate!({ world: "embedded", path: "../../wit" });
}

use std::time::Duration;

use bindings::examples::wasync::directory;

struct Embedded;

#[wasync::async_export]
impl bindings::Guest for Embedded {
    async fn describe(key: u32, ms: u32) -> String {
        wasync::time::sleep(Duration::from_millis(u64::from(ms))).await;
        format!("{key} is {}", directory::name_of(key))
    }
}

bindings::export!(Embedded with_types_in bindings);
