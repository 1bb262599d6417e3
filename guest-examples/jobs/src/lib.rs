//! The logic of the `jobs` command, apart from its input and output so
//! that `#[wasync::test]` tests it: natively on the simulated host (virtual
//! time: the hour-long job costs nothing), and on wasm under a real host
//! (the pipeline builds these tests as `jobs-tests.wasm`).

use std::time::Duration;

use wasync::futures::io::BufReader;
use wasync::futures::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, StreamExt};
use wasync::task::JoinSet;
use wasync::time::{Instant, timeout_at};

/// One line of input: `NAME MILLISECONDS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub name: String,
    pub ms: u64,
}

/// Parses line `number` (from 1).
pub fn parse(number: usize, line: &str) -> Result<Job, String> {
    let mut words = line.split_whitespace();
    let (Some(name), Some(ms), None) = (words.next(), words.next(), words.next()) else {
        return Err(format!(
            "line {number}: expected `NAME MILLISECONDS`, got `{line}`"
        ));
    };
    let ms = ms
        .parse()
        .map_err(|_| format!("line {number}: `{ms}` is not a number of milliseconds"))?;
    Ok(Job {
        name: name.to_owned(),
        ms,
    })
}

/// Reads every job from `input` (blank lines are skipped); the first bad
/// line is an error.
pub async fn read(input: impl AsyncRead + Unpin) -> Result<Vec<Job>, String> {
    let mut jobs = Vec::new();
    let mut lines = BufReader::new(input).lines();
    let mut number = 0;
    while let Some(line) = lines.next().await {
        number += 1;
        let line = line.map_err(|e| format!("reading the jobs: {e}"))?;
        if !line.trim().is_empty() {
            jobs.push(parse(number, &line)?);
        }
    }
    Ok(jobs)
}

/// Runs every job at once (each sleeps its time), writes `NAME done after
/// MS ms` to `out` as each finishes, cancels those still running at
/// `deadline`, and ends with `D done, C cut off`.
pub async fn run(
    jobs: &[Job],
    deadline: Instant,
    out: &mut (impl AsyncWrite + Unpin),
) -> Result<(), String> {
    let mut running = JoinSet::new();
    for job in jobs {
        let (name, ms) = (job.name.clone(), job.ms);
        running.spawn(async move {
            wasync::time::sleep(Duration::from_millis(ms)).await;
            format!("{name} done after {ms} ms\n")
        });
    }
    let write_err = |e: std::io::Error| format!("writing the results: {e}");
    let mut done = 0;
    while let Ok(Some(finished)) = timeout_at(deadline, running.join_next()).await {
        let line = finished.map_err(|e| e.to_string())?;
        out.write_all(line.as_bytes()).await.map_err(write_err)?;
        done += 1;
    }
    let cut_off = running.len();
    // Cancels what is left, and with it their timers.
    running.shutdown().await;
    let summary = format!("{done} done, {cut_off} cut off\n");
    out.write_all(summary.as_bytes()).await.map_err(write_err)?;
    out.flush().await.map_err(write_err)
}

#[cfg(test)]
mod tests {
    use wasync::futures::io::Cursor;

    use super::*;

    #[wasync::test]
    async fn jobs_finish_shortest_first_and_the_late_one_is_cut_off_at_the_deadline() {
        let jobs = read(Cursor::new("a 20\nnever 3600000\n\nb 10\n"))
            .await
            .unwrap();
        let start = Instant::now();
        let mut out = Vec::new();
        run(&jobs, start + Duration::from_millis(100), &mut out)
            .await
            .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "b done after 10 ms\na done after 20 ms\n2 done, 1 cut off\n"
        );
        // Natively the clock is virtual (exactly 100 ms passed); on wasm, at
        // least that much did.
        assert!(start.elapsed() >= Duration::from_millis(100));
        assert_eq!(
            wasync::runtime::stats().live_timers,
            0,
            "the late job's timer is gone"
        );
    }

    #[wasync::test]
    async fn a_bad_line_is_an_error_that_names_it() {
        let err = read(Cursor::new("ok 1\n\nbroken line here\n"))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            "line 3: expected `NAME MILLISECONDS`, got `broken line here`"
        );
        let err = read(Cursor::new("soon later\n")).await.unwrap_err();
        assert_eq!(err, "line 1: `later` is not a number of milliseconds");
    }
}
