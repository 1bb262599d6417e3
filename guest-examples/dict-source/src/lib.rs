//! An autocomplete source over a real English word list, read once through
//! wasi:filesystem from a preopened folder and searched in sorted order.
//!
//! The file is `$WORDS_FILE`, or `/words/words.txt`: one lowercase word per
//! line, sorted (written by the guest build pipeline; see its `data`
//! module).

mod bindings {
    wasync::generate!({ world: "dict-source", path: "../../wit" });
}

use std::cell::OnceCell;

use bindings::examples::wasync::suggestions::Suggestion;
use bindings::exports::examples::wasync::source::Guest;

thread_local! {
    static WORDS: OnceCell<Result<Vec<String>, String>> = const { OnceCell::new() };
}

fn load() -> Result<Vec<String>, String> {
    let path = std::env::var("WORDS_FILE").unwrap_or_else(|_| "/words/words.txt".to_owned());
    let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let mut words: Vec<String> = text
        .lines()
        .map(|w| w.trim().to_lowercase())
        .filter(|w| !w.is_empty())
        .collect();
    // Sorted already in the package; sorting again costs little and makes
    // any list work.
    words.sort_unstable();
    words.dedup();
    Ok(words)
}

/// Words that start with `prefix`, shorter (closer) completions first.
fn lookup(words: &[String], prefix: &str, limit: usize) -> Vec<Suggestion> {
    let prefix = prefix.to_lowercase();
    let start = words.partition_point(|w| w.as_str() < prefix.as_str());
    let mut hits: Vec<&String> = words[start..]
        .iter()
        .take_while(|w| w.starts_with(&prefix))
        .collect();
    // A short prefix matches thousands of words: select the best `limit`
    // before sorting only those.
    fn closer<'a>(w: &&'a String) -> (usize, &'a str) {
        (w.len(), w.as_str())
    }
    if hits.len() > limit {
        hits.select_nth_unstable_by_key(limit, closer);
        hits.truncate(limit);
    }
    hits.sort_by_key(closer);
    hits.into_iter()
        .map(|w| Suggestion {
            score: 1.0 / (1.0 + (w.len() - prefix.len()) as f32),
            text: w.clone(),
        })
        .collect()
}

struct Dict;

#[wasync::async_export]
impl Guest for Dict {
    async fn query(prefix: String, limit: u32) -> Result<Vec<Suggestion>, String> {
        WORDS.with(|w| match w.get_or_init(load) {
            Ok(words) => Ok(lookup(words, &prefix, limit as usize)),
            Err(e) => Err(e.clone()),
        })
    }
}

bindings::export!(Dict with_types_in bindings);
