// Asking for mode C in a build without wasync's `concurrent` feature.
mod bindings {
    wasync::generate!({
        inline: "package demo:calc; world calc { export name: func() -> string; }",
        world: "calc",
        mode: "C",
    });
}

fn main() {}
