// A world that imports two versions of one package: wit-bindgen names
// their modules by version, and the async wrappers land in each.
mod bindings {
    wasync::generate!({
        path: "../../../../macros/tests/pass/wit-two-versions",
        world: "app",
    });
}

use bindings::demo::{dep1_0_0, dep2_0_0};

struct App;

#[wasync::async_export]
impl bindings::Guest for App {
    async fn run() -> String {
        let old = dep1_0_0::greet::hello().await;
        let new = dep2_0_0::greet::hello("wasync").await;
        format!("{old} {new}")
    }
}

fn main() {}
