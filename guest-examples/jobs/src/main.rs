//! `jobs`: a command built with `#[wasync::main]`.
//!
//! It reads one job per line from stdin, `NAME MILLISECONDS`, starts them
//! all at once (each is a task that sleeps that long), and prints
//! `NAME done after MS ms` as each finishes, fastest first. Jobs still
//! running at the deadline (`--deadline-ms N`, default 1000) are cut off
//! (cancelled). The last line is a summary: `3 done, 1 cut off`.
//!
//! A malformed line ends the command with an error (exit status 1), before
//! any job starts. The logic is in the library, tested with
//! `#[wasync::test]`.
//!
//! ```sh
//! printf 'slow 300\nquick 100\n' | wasmtime run jobs.wasm --deadline-ms 200
//! ```

use std::time::Duration;

use wasync::time::Instant;

fn deadline_ms() -> Result<u64, String> {
    let mut args = std::env::args().skip(1);
    let mut deadline = 1000;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--deadline-ms" => {
                let value = args.next().ok_or("--deadline-ms needs a value")?;
                deadline = value
                    .parse()
                    .map_err(|_| format!("--deadline-ms: `{value}` is not a number"))?;
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(deadline)
}

#[wasync::main]
async fn main() -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_millis(deadline_ms()?);
    // Reading stdin waits without blocking the runtime.
    let jobs = jobs::read(wasync::io::stdin()).await?;
    jobs::run(&jobs, deadline, &mut wasync::io::stdout()).await
}
