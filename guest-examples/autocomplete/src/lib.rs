//! The autocomplete component: the scenario wasync exists for.
//!
//! `complete` queries every source at once. At the timeout it returns
//! whatever has arrived, marking late sources timed out, merges and ranks.
//! It keeps a small cache of recent prefixes. A late source's query is
//! dropped at the timeout, which cancels it; a background task (which
//! outlives the call) asks that source again, with more patience, and
//! refreshes the cached answer.

mod rank;

mod bindings {
    wasync::generate!({ world: "autocomplete", path: "../../wit" });
}

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::time::Duration;

use bindings::examples::wasync::suggestions::Suggestion;
use bindings::exports::examples::wasync::completer::{
    Completion, Guest, Ranked, RuntimeGauges, SourceStatus, Status,
};
use wasync::time::{Instant, timeout_at};

/// The sources, in the order their statuses are reported.
const SOURCES: [&str; 3] = ["dict", "web", "slow"];
/// Prefixes the cache remembers.
const CACHE_SIZE: usize = 64;
/// How much longer than the call's timeout a refresh waits for late sources.
const REFRESH_FACTOR: u32 = 10;

type Answer = Result<Vec<Suggestion>, String>;

struct Entry {
    prefix: String,
    limit: u32,
    /// Per source, in `SOURCES` order: its answer, or `None` while late.
    answers: Vec<Option<Answer>>,
}

thread_local! {
    static CACHE: RefCell<VecDeque<Entry>> = const { RefCell::new(VecDeque::new()) };
    static REFRESHES: Cell<u32> = const { Cell::new(0) };
}

async fn ask(source: usize, prefix: &str, limit: u32) -> Answer {
    match source {
        0 => bindings::dict::query(prefix, limit).await,
        1 => bindings::web::query(prefix, limit).await,
        _ => bindings::slow::query(prefix, limit).await,
    }
}

/// Asks every source at once; sources still late at `deadline` are `None`
/// (and their queries are dropped, which cancels them).
async fn ask_all(
    prefix: &str,
    limit: u32,
    which: &[usize],
    deadline: Instant,
) -> Vec<(usize, Option<Answer>)> {
    let queries = which
        .iter()
        .map(|&s| async move { (s, timeout_at(deadline, ask(s, prefix, limit)).await.ok()) });
    futures::future::join_all(queries).await
}

fn completion(answers: &[Option<Answer>], limit: u32, cached: bool) -> Completion {
    let mut lists = Vec::new();
    let mut sources = Vec::new();
    for (name, answer) in SOURCES.iter().zip(answers) {
        let (status, count) = match answer {
            Some(Ok(list)) => {
                lists.push((
                    *name,
                    list.iter().map(|s| (s.text.clone(), s.score)).collect(),
                ));
                (Status::Ok, list.len() as u32)
            }
            Some(Err(reason)) => (Status::Failed(reason.clone()), 0),
            None => (Status::TimedOut, 0),
        };
        sources.push(SourceStatus {
            source: (*name).to_owned(),
            status,
            suggestions: count,
        });
    }
    let suggestions = rank::merge(&lists, limit as usize)
        .into_iter()
        .map(|c| Ranked {
            text: c.text,
            score: c.score,
            source: c.source,
        })
        .collect();
    Completion {
        suggestions,
        sources,
        cached,
    }
}

fn cached(prefix: &str, limit: u32) -> Option<Vec<Option<Answer>>> {
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        let i = c
            .iter()
            .position(|e| e.prefix == prefix && e.limit == limit)?;
        let entry = c.remove(i)?;
        let answers = entry.answers.clone();
        c.push_front(entry);
        Some(answers)
    })
}

fn remember(prefix: &str, limit: u32, answers: Vec<Option<Answer>>) {
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        c.retain(|e| !(e.prefix == prefix && e.limit == limit));
        c.push_front(Entry {
            prefix: prefix.to_owned(),
            limit,
            answers,
        });
        c.truncate(CACHE_SIZE);
    });
}

/// Asks the sources that were late again, with more patience, and puts
/// their answers in the cache. Runs as a spawned task, after the call that
/// started it.
async fn refresh(prefix: String, limit: u32, late: Vec<usize>, patience: Duration) {
    let deadline = Instant::now() + patience;
    let answers = ask_all(&prefix, limit, &late, deadline).await;
    CACHE.with(|c| {
        if let Some(entry) = c
            .borrow_mut()
            .iter_mut()
            .find(|e| e.prefix == prefix && e.limit == limit)
        {
            for (source, answer) in answers {
                if answer.is_some() {
                    entry.answers[source] = answer;
                }
            }
        }
    });
    REFRESHES.with(|r| r.set(r.get() + 1));
}

struct Autocomplete;

#[wasync::async_export]
impl Guest for Autocomplete {
    async fn complete(prefix: String, limit: u32, timeout_ms: u32) -> Completion {
        if let Some(answers) = cached(&prefix, limit) {
            return completion(&answers, limit, true);
        }
        let timeout = Duration::from_millis(u64::from(timeout_ms));
        let all: Vec<usize> = (0..SOURCES.len()).collect();
        let mut answers = vec![None; SOURCES.len()];
        for (source, answer) in ask_all(&prefix, limit, &all, Instant::now() + timeout).await {
            answers[source] = answer;
        }
        let late: Vec<usize> = (0..SOURCES.len())
            .filter(|&s| answers[s].is_none())
            .collect();
        remember(&prefix, limit, answers.clone());
        if !late.is_empty() {
            drop(wasync::spawn(refresh(
                prefix.clone(),
                limit,
                late,
                timeout * REFRESH_FACTOR,
            )));
        }
        completion(&answers, limit, false)
    }

    fn refreshes() -> u32 {
        REFRESHES.with(Cell::get)
    }

    fn gauges() -> RuntimeGauges {
        examples_common::runtime_gauges!(RuntimeGauges)
    }
}

bindings::export!(Autocomplete with_types_in bindings);
