// The WIT says `func`; the impl writes an `async fn`.
mod bindings {
    wasync::generate!({
        inline: "package demo:calc; world calc { export name: func() -> string; }",
        world: "calc",
    });
}

struct Calc;

#[wasync::async_export]
impl bindings::Guest for Calc {
    async fn name() -> String {
        "calc".into()
    }
}

fn main() {}
