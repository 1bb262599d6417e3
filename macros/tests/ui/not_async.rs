// The WIT says `async func`; the impl writes a plain `fn`.
mod bindings {
    wasync::generate!({
        inline: "package demo:calc; world calc { export add: async func(a: u32, b: u32) -> u32; }",
        world: "calc",
    });
}

struct Calc;

#[wasync::async_export]
impl bindings::Guest for Calc {
    fn add(a: u32, b: u32) -> u32 {
        a + b
    }
}

fn main() {}
