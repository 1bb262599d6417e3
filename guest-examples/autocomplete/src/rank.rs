//! Merging and ranking: what the user sees of several sources' answers.
//!
//! One suggestion per text (compared case-insensitively), keeping its best
//! score and the source that gave it (the earlier source on a tie); ranked
//! by score, then text; at most `limit`.

/// A suggestion with the source it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub text: String,
    pub score: f32,
    pub source: String,
}

/// Merges the sources' lists, given in source order.
pub fn merge(lists: &[(&str, Vec<(String, f32)>)], limit: usize) -> Vec<Candidate> {
    let mut best: Vec<Candidate> = Vec::new();
    let mut index = std::collections::HashMap::new();
    for (source, list) in lists {
        for (text, score) in list {
            let key = text.to_lowercase();
            match index.get(&key) {
                Some(&i) => {
                    let c: &mut Candidate = &mut best[i];
                    if *score > c.score {
                        c.score = *score;
                        c.source = (*source).to_owned();
                    }
                }
                None => {
                    index.insert(key, best.len());
                    best.push(Candidate {
                        text: text.clone(),
                        score: *score,
                        source: (*source).to_owned(),
                    });
                }
            }
        }
    }
    best.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.text.cmp(&b.text))
    });
    best.truncate(limit);
    best
}
