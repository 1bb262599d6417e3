//! WIT a user writes, random and mutated, through what `lower` and
//! `generate!` do with it (`load`, `select_world`, `add_abi`, `lower`, in
//! both modes): never a panic, and every failure a message that says what
//! is wrong.
//!
//! Sizes: 400 mutations of realistic WIT (the examples' and an async world
//! with resources), 300 random token soups, and 40 folders through
//! `load_and_lower`; about 10 s in a debug build.

use proptest::prelude::*;
use wasync_lower::{Mode, add_abi, load, load_and_lower, lower};

/// Realistic WIT to mutate: every kind of item the lowering handles.
const SEEDS: [&str; 2] = [
    include_str!("../../wit/examples.wit"),
    r#"
package demo:app@1.0.0;

interface store {
    record entry { key: string, value: list<u8> }
    variant failure { missing(string), busy }
    resource cursor {
        constructor(prefix: string);
        next: async func() -> option<entry>;
        close: func();
        open: static async func(name: string) -> cursor;
    }
    get: async func(key: string) -> result<entry, failure>;
    put: async func(e: entry);
}

world app {
    import store;
    import wasi:clocks/monotonic-clock@0.2.12;
    export store;
    export run: async func(args: list<string>) -> u32;
    export ping: func();
}
"#,
];

/// What a user's WIT gives, as `generate!` runs it; `Err` holds the
/// message the user would see.
fn through_everything(text: &str, world: Option<&str>, mode: Mode) -> Result<(), String> {
    let loaded = load(&[], Some(text)).map_err(|e| e.message)?;
    let mut resolve = loaded.resolve;
    let world = resolve
        .select_world(&loaded.packages, world)
        .map_err(|e| format!("{e:#}"))?;
    if mode == Mode::Concurrent {
        add_abi(&mut resolve).map_err(|e| format!("{e:#}"))?;
    }
    lower(&mut resolve, world, mode).map_err(|e| format!("{e:#}"))?;
    Ok(())
}

/// A failure must say something: more than a word, and not a debug dump
/// of an internal value.
fn assert_named(message: &str, input: &str) {
    assert!(
        message.trim().len() > 10,
        "an unhelpful error `{message}` for:\n{input}"
    );
}

fn check(text: &str, world: Option<&str>) {
    for mode in [Mode::Standard, Mode::Concurrent] {
        if let Err(message) = through_everything(text, world, mode) {
            assert_named(&message, text);
        }
    }
}

/// Pieces of WIT syntax, for edits that often stay close to valid.
const TOKENS: &[&str] = &[
    "async",
    "func",
    "(",
    ")",
    "{",
    "}",
    "<",
    ">",
    ";",
    ":",
    ",",
    "->",
    "@",
    "/",
    "#",
    "world",
    "interface",
    "import",
    "export",
    "use",
    "type",
    "record",
    "variant",
    "resource",
    "static",
    "constructor",
    "package",
    "list",
    "option",
    "result",
    "string",
    "u32",
    "own",
    "borrow",
    "include",
    "with",
    "as",
    "_",
    "-",
    "\n",
    " ",
    "x",
    "a-b",
    "0.2.12",
    "wasi:io/poll",
    "wasync:abi/host@0.1.0",
    "f-start",
    "f-finish",
    "%",
    "\u{0}",
    "é",
    "future",
    "stream",
];

/// One edit: at a relative position, delete some bytes and insert tokens.
fn edit() -> impl Strategy<Value = (f64, usize, Vec<usize>)> {
    (
        0.0..1.0f64,
        0..12usize,
        prop::collection::vec(0..TOKENS.len(), 0..3),
    )
}

fn mutate(seed: &str, edits: &[(f64, usize, Vec<usize>)]) -> String {
    let mut text = seed.to_owned();
    for (at, delete, insert) in edits {
        let mut pos = ((text.len() as f64) * at) as usize;
        while !text.is_char_boundary(pos) {
            pos -= 1;
        }
        let mut end = (pos + delete).min(text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        let new: String = insert.iter().map(|&i| TOKENS[i]).collect();
        text.replace_range(pos..end, &new);
    }
    text
}

fn world_name() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some("app".to_owned())),
        Just(Some("mode-tests".to_owned())),
        "[a-z:/@.-]{0,12}".prop_map(Some),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn mutated_wit_never_panics_and_every_error_says_what_is_wrong(
        seed in 0..SEEDS.len(),
        edits in prop::collection::vec(edit(), 1..4),
        world in world_name(),
    ) {
        check(&mutate(SEEDS[seed], &edits), world.as_deref());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn token_soup_never_panics(
        tokens in prop::collection::vec(0..TOKENS.len(), 0..60),
        world in world_name(),
    ) {
        let text: String = std::iter::once("package a:b;\n")
            .chain(tokens.iter().map(|&i| TOKENS[i]))
            .collect();
        check(&text, world.as_deref());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    /// What `wasync-harness lower` does: a folder, with a `deps/` folder.
    #[test]
    fn a_mutated_wit_folder_never_panics(
        edits in prop::collection::vec(edit(), 1..4),
        dep_edits in prop::collection::vec(edit(), 0..2),
        world in world_name(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("app.wit"), mutate(SEEDS[1], &edits)).unwrap();
        let deps = dir.path().join("deps");
        std::fs::create_dir(&deps).unwrap();
        let dep = "package other:thing;\ninterface i { f: async func() -> string; }\n";
        std::fs::write(deps.join("other.wit"), mutate(dep, &dep_edits)).unwrap();
        for mode in [Mode::Standard, Mode::Concurrent] {
            if let Err(e) = load_and_lower(dir.path(), world.as_deref(), mode) {
                assert_named(&format!("{e:#}"), "the folder");
            }
        }
    }
}

#[test]
fn the_unmutated_seeds_lower_in_both_modes() {
    // Mutations start from WIT that works, so that most stay near it.
    for mode in [Mode::Standard, Mode::Concurrent] {
        through_everything(SEEDS[0], Some("mode-tests"), mode).unwrap();
        through_everything(SEEDS[1], Some("app"), mode).unwrap();
    }
}
