//! Every error of the macros, pinned: each `tests/ui/*.rs` must fail to
//! compile with exactly the message in the `.stderr` beside it. After an
//! intended change, regenerate with `TRYBUILD=overwrite` and review. The
//! `tests/pass/*.rs` cases must compile: layouts of wit-bindgen's output
//! that the macros must find their way through.
//!
//! trybuild compiles the cases in a scratch crate under
//! `target/tests/trybuild/wasync-macros/`, so the one case that reads WIT
//! from disk reaches it from there (`../../../../macros/tests/ui/…`).

#[test]
fn macro_errors_are_spanned_and_say_what_to_do() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/pass/*.rs");
}
