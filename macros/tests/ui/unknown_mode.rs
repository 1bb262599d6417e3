// `mode` must be "S" or "C".
mod bindings {
    wasync::generate!({
        inline: "package demo:calc; world calc { export name: func() -> string; }",
        world: "calc",
        mode: "Q",
    });
}

fn main() {}
