// The impl's `add` takes one parameter; the WIT's takes two.
mod bindings {
    wasync::generate!({
        inline: "package demo:calc; world calc { export add: async func(a: u32, b: u32) -> u32; }",
        world: "calc",
    });
}

struct Calc;

#[wasync::async_export]
impl bindings::Guest for Calc {
    async fn add(a: u32) -> u32 {
        a
    }
}

fn main() {}
