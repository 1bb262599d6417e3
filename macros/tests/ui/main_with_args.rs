// A command's `main` takes no arguments.
#[wasync::main]
async fn main(args: Vec<String>) {
    drop(args);
}
