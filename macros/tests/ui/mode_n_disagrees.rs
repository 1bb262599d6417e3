// Asking for mode N in a build without wasync's `native` feature.
mod bindings {
    wasync::generate!({
        inline: "package demo:calc; world calc { export name: func() -> string; }",
        world: "calc",
        mode: "N",
    });
}

fn main() {}
