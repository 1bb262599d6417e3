// The WIT file does not parse: the error names the file and line.
mod bindings {
    wasync::generate!({
        path: "../../../../macros/tests/ui/wit-bad",
        world: "broken",
    });
}

fn main() {}
