//! An autocomplete source that asks an HTTP endpoint, with `wasync::http`:
//! `GET $SUGGEST_URL/suggest?prefix=…&limit=…`, answered with JSON
//! `[{"text": …, "score": …}]`.

mod bindings {
    wasync::generate!({ world: "http-source", path: "../../wit" });
}

use bindings::examples::wasync::suggestions::Suggestion;
use bindings::exports::examples::wasync::source::Guest;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

#[derive(serde::Deserialize)]
struct Item {
    text: String,
    score: f32,
}

struct Web;

#[wasync::async_export]
impl Guest for Web {
    async fn query(prefix: String, limit: u32) -> Result<Vec<Suggestion>, String> {
        let base = std::env::var("SUGGEST_URL").map_err(|_| "SUGGEST_URL is not set".to_owned())?;
        let url = format!(
            "{}/suggest?prefix={}&limit={limit}",
            base.trim_end_matches('/'),
            utf8_percent_encode(&prefix, NON_ALPHANUMERIC)
        );
        let response = wasync::http::get(&url).await.map_err(|e| e.to_string())?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("HTTP {status}"));
        }
        let items: Vec<Item> =
            serde_json::from_slice(&body).map_err(|e| format!("bad JSON: {e}"))?;
        Ok(items
            .into_iter()
            .map(|i| Suggestion {
                text: i.text,
                score: i.score,
            })
            .collect())
    }
}

#[wasync::async_export]
impl bindings::Guest for Web {
    async fn post(url: String, body: String) -> Result<String, String> {
        examples_common::post_text(url, body).await
    }
}

bindings::export!(Web with_types_in bindings);
