// The impl leaves out a WIT function.
mod bindings {
    wasync::generate!({
        inline: "package demo:calc; world calc {
            export add: async func(a: u32, b: u32) -> u32;
            export name: func() -> string;
        }",
        world: "calc",
    });
}

struct Calc;

#[wasync::async_export]
impl bindings::Guest for Calc {
    fn name() -> String {
        "calc".into()
    }
}

fn main() {}
