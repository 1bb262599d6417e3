//! A guest built by cargo-component 0.21.1 from the examples' WIT, with the
//! bindings cargo-component generates into `src/bindings.rs`.

#[allow(warnings)]
mod bindings;

use bindings::{Greeting, Guest};

struct Greeter;

impl Guest for Greeter {
    fn greet(name: String) -> Greeting {
        let vowels = name
            .chars()
            .filter(|c| "aeiouAEIOU".contains(*c))
            .count();
        Greeting {
            text: format!("greetings, {name}"),
            vowels: u32::try_from(vowels).unwrap_or(u32::MAX),
        }
    }
}

bindings::export!(Greeter with_types_in bindings);
