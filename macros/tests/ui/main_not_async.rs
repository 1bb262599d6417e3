// `#[wasync::main]` on a plain `fn main`.
#[wasync::main]
fn main() {}
