//! WAVE call strings, as users type them (`wasync-harness call`,
//! `Driver::call_concurrent_wave`), random and mutated, through
//! `parse_call` against real component types: never a panic, and every
//! failure a `BadCallSyntax` or `BadArguments` error that names the call.
//!
//! Sizes: 2,000 mutations of valid calls and 1,000 random strings; about
//! a second in a debug build.

use std::sync::LazyLock;

use proptest::prelude::*;
use wasync_host::{Error, Signature, parse_call};

/// A component that imports a function of every kind of type WAVE writes;
/// only its types are used.
const WAT: &str = r#"
(component
  (type $r' (record (field "a" u32) (field "b" string)))
  (import "r" (type $r (eq $r')))
  (type $v' (variant (case "x" u32) (case "y")))
  (import "v" (type $v (eq $v')))
  (type $e' (enum "one" "two"))
  (import "e" (type $e (eq $e')))
  (type $fl' (flags "p" "q"))
  (import "fl" (type $fl (eq $fl')))
  (import "f" (func
    (param "r" $r) (param "l" (list $r)) (param "o" (option u32))
    (param "res" (result string (error u32))) (param "v" $v) (param "e" $e)
    (param "fl" $fl) (param "t" (tuple u8 s64 f32 char bool))))
  (import "g" (func (param "n" u32) (param "s" string)))
  (import "h" (func))
)
"#;

static SIGNATURES: LazyLock<Vec<(String, Signature)>> = LazyLock::new(|| {
    let engine = wasmtime::Engine::default();
    let wasm = wat::parse_str(WAT).unwrap();
    let component = wasmtime::component::Component::new(&engine, wasm).unwrap();
    component
        .component_type()
        .imports(&engine)
        .filter_map(|(name, item)| match item.ty {
            wasmtime::component::types::ComponentItem::ComponentFunc(f) => {
                Some((name.to_owned(), Signature::of(&f)))
            }
            _ => None,
        })
        .collect()
});

/// Valid calls to mutate.
const SEEDS: &[&str] = &[
    r#"f({a: 1, b: "x"}, [{a: 2, b: "y"}], some(3), err(4), x(5), two, {p, q}, (255, -9, 1.5, 'c', true))"#,
    r#"f({a: 0, b: ""}, [], none, ok("fine"), y, one, {}, (0, 0, nan, '\u{1f600}', false))"#,
    r#"ns:pkg/iface#g(7, "seven")"#,
    "h()",
];

/// Pieces of WAVE, for edits that often stay close to valid.
const TOKENS: &[&str] = &[
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    "\"",
    "'",
    "\\",
    "#",
    "some(",
    "none",
    "ok(",
    "err(",
    "true",
    "-",
    "1",
    "4294967296",
    "1e999",
    "inf",
    "a",
    "b:",
    "x(",
    "\u{0}",
    "é",
    "🦀",
    " ",
    "\n",
    "f",
    "g",
    "h",
    "%",
];

/// What a call's signature lookup finds: the import of that name, or a
/// missing-export error like the host's.
fn lookup(name: &str) -> wasync_host::Result<Signature> {
    let base = name.rsplit('#').next().unwrap_or(name);
    SIGNATURES
        .iter()
        .find(|(n, _)| n == base)
        .map(|(_, s)| s.clone())
        .ok_or_else(|| Error::MissingExport {
            name: name.to_owned(),
            available: SIGNATURES.iter().map(|(n, _)| n.clone()).collect(),
        })
}

fn check(input: &str) {
    match parse_call(input, lookup) {
        Ok((name, args)) => {
            let sig = lookup(&name).unwrap();
            assert_eq!(args.len(), sig.params.len(), "{input}");
            wasync_host::check_args(&name, &sig, &args).unwrap();
        }
        Err(e) => {
            let message = e.to_string();
            match &e {
                Error::BadCallSyntax { input: i, .. } => assert_eq!(i, input),
                Error::BadArguments { func, .. } => {
                    assert!(message.contains(func.as_str()), "{message}")
                }
                Error::MissingExport { .. } => {}
                _ => panic!("`{input}` gave an unexpected kind of error: {e}"),
            }
            assert!(message.len() > input.trim().len().min(20), "{message}");
        }
    }
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

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn a_mutated_call_never_panics_and_names_the_problem(
        seed in 0..SEEDS.len(),
        edits in prop::collection::vec(
            (0.0..1.0f64, 0..6usize, prop::collection::vec(0..TOKENS.len(), 0..3)),
            1..4,
        ),
    ) {
        check(&mutate(SEEDS[seed], &edits));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1_000, ..ProptestConfig::default() })]

    #[test]
    fn a_random_string_never_panics(input in "\\PC{0,40}") {
        check(&input);
    }
}

#[test]
fn the_unmutated_seeds_parse() {
    for seed in SEEDS {
        parse_call(seed, lookup).unwrap();
    }
}
