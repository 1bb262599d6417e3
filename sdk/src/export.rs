//! What `wasync::generate!` and `#[async_export]` expand to: the mode
//! switch, and the hidden items their output names.

/// Generates bindings for a WIT world whose functions may be `async func`,
/// lowered for this build's mode, with `wit-bindgen`.
///
/// The mode comes from wasync's cargo features: with neither, mode S (plain
/// WASI 0.2 exports that run each call to completion); with `concurrent`,
/// mode C (exports return when they would wait, for a host that speaks the
/// wasync ABI); with `native`, mode N (`async func` stays async: a native
/// WASI 0.3 component, through wit-bindgen's async support). The optional
/// `mode: "S"`, `"C"` or `"N"` argument states the mode the code expects
/// and fails the build if the features disagree.
///
/// Imported async functions get the same Rust signature in every mode
/// (`async fn f(text: &str) -> String`); in mode N the wrapper converts the
/// arguments into the owned values wit-bindgen's async import takes.
///
/// Options: `world`, `path` (a folder or a list, relative to the crate;
/// default `"wit"`), `inline` (WIT text instead of files), `mode`, `with`
/// (as in wit-bindgen), `additional_derives`.
///
/// The bindings appear where the macro is invoked, as with
/// `wit_bindgen::generate!`. WIT packages in the `wasync` namespace
/// generate a module named `wasync` there, which would shadow this crate:
/// invoke the macro inside `mod bindings { ... }` in that case.
///
/// # Examples
///
/// ```
/// mod bindings {
///     wasync::generate!({
///         inline: "
///             package demo:adder;
///             world adder { export add: async func(a: u32, b: u32) -> u32; }
///         ",
///         world: "adder",
///     });
/// }
///
/// struct Adder;
///
/// #[wasync::async_export]
/// impl bindings::Guest for Adder {
///     async fn add(a: u32, b: u32) -> u32 {
///         wasync::task::yield_now().await;
///         a + b
///     }
/// }
/// ```
#[macro_export]
macro_rules! generate {
    ($($input:tt)*) => {
        $crate::__private::select_mode! {
            S => { $crate::__private::generate_impl!(@default_mode "S" $($input)*); }
            C => { $crate::__private::generate_impl!(@default_mode "C" $($input)*); }
            N => { $crate::__private::generate_impl!(@default_mode "N" $($input)*); }
        }
    };
}

/// Picks the expansion of `generate!` and `#[async_export]` for this
/// build's mode: the one place the mode is chosen.
#[cfg(not(any(feature = "concurrent", feature = "native")))]
#[doc(hidden)]
#[macro_export]
macro_rules! __select_mode {
    (S => { $($s:tt)* } C => { $($c:tt)* } N => { $($n:tt)* }) => { $($s)* };
}

/// Picks the expansion of `generate!` and `#[async_export]` for this
/// build's mode: the one place the mode is chosen.
#[cfg(all(feature = "concurrent", not(feature = "native")))]
#[doc(hidden)]
#[macro_export]
macro_rules! __select_mode {
    (S => { $($s:tt)* } C => { $($c:tt)* } N => { $($n:tt)* }) => { $($c)* };
}

/// Picks the expansion of `generate!` and `#[async_export]` for this
/// build's mode: the one place the mode is chosen. (With both features the
/// crate fails to build with its own message; mode N keeps the rest quiet.)
#[cfg(feature = "native")]
#[doc(hidden)]
#[macro_export]
macro_rules! __select_mode {
    (S => { $($s:tt)* } C => { $($c:tt)* } N => { $($n:tt)* }) => { $($n)* };
}

/// Hidden items the macros' output refers to. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::__select_mode as select_mode;
    /// Mode N's WASI 0.3 bindings (`#[wasync::main]`'s `wasi:cli/run`).
    #[cfg(feature = "native")]
    pub use wasip3;
    pub use wasync_macros::generate_impl;
    pub use {wasip2, wit_bindgen};

    pub use crate::abi::host as abi_host;

    /// `#[http_service]`: serves one `wasi:http/incoming-handler` call
    /// (modes S and C).
    /// ... and one `wasi:http/handler@0.3` call (mode N).
    pub use crate::http::server::handle as http_handle;

    /// Mode S: runs an export call to completion.
    pub mod standard {
        /// Runs the future of one export call on the runtime.
        pub fn run<F: core::future::Future>(future: F) -> F::Output {
            crate::runtime::block_on(future)
        }
    }

    #[cfg(any(
        not(target_family = "wasm"),
        all(feature = "concurrent", not(feature = "native"))
    ))]
    pub use crate::concurrent;

    #[cfg(any(not(target_family = "wasm"), feature = "native"))]
    pub use crate::native;

    /// One WIT function of an exported interface or resource, as the
    /// author must implement it. Messages are prepared by `generate!`.
    pub struct WitFunc {
        pub name: &'static str,
        pub is_async: bool,
        pub params: usize,
        /// Shown when the author's `async` disagrees with the WIT.
        pub wrong_kind: &'static str,
        /// Shown when the author's parameter count disagrees.
        pub wrong_arity: &'static str,
        /// Shown when the author left it out.
        pub missing: &'static str,
    }

    const fn same(a: &str, b: &str) -> bool {
        let (a, b) = (a.as_bytes(), b.as_bytes());
        if a.len() != b.len() {
            return false;
        }
        let mut i = 0;
        while i < a.len() {
            if a[i] != b[i] {
                return false;
            }
            i += 1;
        }
        true
    }

    /// Compile-time check of one function the author wrote.
    pub const fn check_fn(
        funcs: &[WitFunc],
        name: &str,
        is_async: bool,
        params: usize,
        unknown: &str,
    ) {
        let mut i = 0;
        while i < funcs.len() {
            let f = &funcs[i];
            if same(f.name, name) {
                if f.is_async != is_async {
                    panic!("{}", f.wrong_kind);
                }
                if f.params != params {
                    panic!("{}", f.wrong_arity);
                }
                return;
            }
            i += 1;
        }
        panic!("{}", unknown);
    }

    /// Compile-time check that the author wrote every WIT function.
    pub const fn check_complete(funcs: &[WitFunc], written: &[&str]) {
        let mut i = 0;
        while i < funcs.len() {
            let mut found = false;
            let mut j = 0;
            while j < written.len() {
                if same(funcs[i].name, written[j]) {
                    found = true;
                }
                j += 1;
            }
            if !found {
                panic!("{}", funcs[i].missing);
            }
            i += 1;
        }
    }
}
