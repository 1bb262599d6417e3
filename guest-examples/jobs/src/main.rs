//! `jobs`: a command built with `#[wasync::main]`.
//!
//! It reads one job per line from stdin, `NAME MILLISECONDS`, starts them
//! all at once (each is a task that sleeps that long), and prints
//! `NAME done after MS ms` as each finishes, fastest first. Jobs still
//! running at the deadline (`--deadline-ms N`, default 1000) are cut off
//! (cancelled). The last line is a summary: `3 done, 1 cut off`.
//!
//! A malformed line ends the command with an error (exit status 1), before
//! any job starts.
//!
//! ```sh
//! printf 'slow 300\nquick 100\n' | wasmtime run jobs.wasm --deadline-ms 200
//! ```

use std::time::Duration;

use wasync::futures::io::BufReader;
use wasync::futures::{AsyncBufReadExt, AsyncWriteExt, StreamExt};
use wasync::task::JoinSet;
use wasync::time::{Instant, timeout_at};

/// One line of input.
struct Job {
    name: String,
    ms: u64,
}

fn parse(number: usize, line: &str) -> Result<Job, String> {
    let mut words = line.split_whitespace();
    let (Some(name), Some(ms), None) = (words.next(), words.next(), words.next()) else {
        return Err(format!("line {number}: expected `NAME MILLISECONDS`, got `{line}`"));
    };
    let ms = ms
        .parse()
        .map_err(|_| format!("line {number}: `{ms}` is not a number of milliseconds"))?;
    Ok(Job {
        name: name.to_owned(),
        ms,
    })
}

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
    let mut jobs = Vec::new();
    let mut lines = BufReader::new(wasync::io::stdin()).lines();
    let mut number = 0;
    while let Some(line) = lines.next().await {
        number += 1;
        let line = line.map_err(|e| format!("reading stdin: {e}"))?;
        if !line.trim().is_empty() {
            jobs.push(parse(number, &line)?);
        }
    }

    let mut running = JoinSet::new();
    for job in &jobs {
        let (name, ms) = (job.name.clone(), job.ms);
        running.spawn(async move {
            wasync::time::sleep(Duration::from_millis(ms)).await;
            format!("{name} done after {ms} ms\n")
        });
    }

    let mut out = wasync::io::stdout();
    let write_err = |e: std::io::Error| format!("writing stdout: {e}");
    let mut done = 0;
    while let Ok(Some(finished)) = timeout_at(deadline, running.join_next()).await {
        let line = finished.map_err(|e| e.to_string())?;
        out.write_all(line.as_bytes()).await.map_err(write_err)?;
        done += 1;
    }
    let cut_off = running.len();
    // What is left is dropped with the set, which cancels its timers.
    running.shutdown().await;
    let summary = format!("{done} done, {cut_off} cut off\n");
    out.write_all(summary.as_bytes()).await.map_err(write_err)?;
    out.flush().await.map_err(write_err)?;
    Ok(())
}
