//! A wasync guest built by cargo-component.
//!
//! cargo-component reads the lowered world in `wit-lowered/` (and writes
//! bindings for it to `src/bindings.rs`, which this crate does not use);
//! the code below is written against the `async func` source, through
//! `wasync::generate!`.

mod wasync_bindings {
    wasync::generate!({ world: "cc-greeter", path: "../../wit" });
}

use std::time::Duration;

use wasync_bindings::{Greeting, Guest};

fn count_vowels(text: &str) -> u32 {
    let n = text.chars().filter(|c| "aeiouAEIOU".contains(*c)).count();
    u32::try_from(n).unwrap_or(u32::MAX)
}

struct Greeter;

#[wasync::async_export]
impl Guest for Greeter {
    async fn greet(name: String) -> Greeting {
        wasync::time::sleep(Duration::from_millis(5)).await;
        Greeting {
            vowels: count_vowels(&name),
            text: format!("greetings, {name}"),
        }
    }

    fn vowels(text: String) -> u32 {
        count_vowels(&text)
    }
}

wasync_bindings::export!(Greeter with_types_in wasync_bindings);
