// `#[wasync::main]` goes on `main` itself.
#[wasync::main]
async fn start() {}

fn main() {}
