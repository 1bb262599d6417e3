// A WASI version wasync does not ship, and no deps/ folder: the error names
// the package, the version wasync has, and where to put it.
mod bindings {
    wasync::generate!({
        inline: "
            package demo:fetch;
            world fetch {
                import wasi:http/outgoing-handler@0.2.0;
                export run: async func();
            }
        ",
        world: "fetch",
    });
}

fn main() {}
