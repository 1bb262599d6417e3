//! The proc macros of wasync. Use them through the `wasync` crate:
//! `wasync::generate!` and `#[wasync::async_export]`.
//!
//! - `generate_impl!` (behind `wasync::generate!`) reads WIT with
//!   wit-parser, lowers its `async func`s with `wasync-lower` for the mode
//!   of the build, generates bindings with wit-bindgen, and then adds what
//!   the author needs on top: `async fn` wrappers for imported async
//!   functions, and a table of every exported function on each generated
//!   `Guest` trait, which `#[async_export]` checks the author's impl
//!   against at compile time.
//! - `#[async_export]` turns the author's `async fn`s into the functions of
//!   the lowered trait: in mode S they run the future to completion, in
//!   mode C they start it on the runtime and return when it would wait.
//! - `#[main]`, `#[test]` and `#[http_service]` make entry points of an
//!   `async fn`: a command's `wasi:cli/run`, a test, and a service's
//!   `wasi:http/incoming-handler` (in mode N, the async 0.3 `wasi:cli/run`
//!   and `wasi:http/handler`).

mod attr;
mod config;
mod entry;
mod expand;
mod rewrite;

use proc_macro::TokenStream;

/// The implementation of `wasync::generate!`; see its documentation.
#[proc_macro]
pub fn generate_impl(input: TokenStream) -> TokenStream {
    let config = syn::parse_macro_input!(input as config::Config);
    expand::expand(config)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Implements a generated `Guest` trait with `async fn`s.
///
/// Write the functions the WIT declares `async func` as `async fn`, and the
/// plain `func`s as plain `fn`s. The attribute checks the impl against the
/// WIT at compile time and adapts the `async fn`s to the mode of the build.
/// In mode C, resources with async methods must be `Clone` (the call
/// outlives the borrow of `self`, so it keeps a clone); modes S and N need
/// no `Clone`.
///
/// See `wasync::generate!` for an example.
#[proc_macro_attribute]
pub fn async_export(args: TokenStream, item: TokenStream) -> TokenStream {
    if !args.is_empty() {
        let args = proc_macro2::TokenStream::from(args);
        return syn::Error::new_spanned(args, "#[async_export] takes no arguments")
            .into_compile_error()
            .into();
    }
    let item = syn::parse_macro_input!(item as syn::ItemImpl);
    attr::expand(item)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// The error, and the author's function as written, so that the error is
/// the only one (its imports stay used, its callers still resolve).
fn with_item(e: syn::Error, item: &syn::ItemFn) -> proc_macro2::TokenStream {
    let e = e.into_compile_error();
    quote::quote! {
        #e
        #[allow(dead_code)]
        #item
    }
}

/// Takes no arguments; the error says so at the attribute.
fn no_args(args: TokenStream, name: &str) -> Result<(), TokenStream> {
    if args.is_empty() {
        return Ok(());
    }
    let args = proc_macro2::TokenStream::from(args);
    Err(
        syn::Error::new_spanned(args, format!("#[wasync::{name}] takes no arguments"))
            .into_compile_error()
            .into(),
    )
}

/// Makes `async fn main` the command's entry point (`wasi:cli/run`).
/// See `wasync::main`.
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    if let Err(e) = no_args(args, "main") {
        return e;
    }
    let item = syn::parse_macro_input!(item as syn::ItemFn);
    // On an error, a stand-in `main` keeps rustc from adding "no `main`
    // function" to the one message that matters; a function of another
    // name stays as written.
    entry::main(item.clone())
        .unwrap_or_else(|e| {
            if item.sig.ident == "main" {
                let e = e.into_compile_error();
                quote::quote! { #e fn main() {} }
            } else {
                with_item(e, &item)
            }
        })
        .into()
}

/// Runs an `async fn` test on the wasync runtime. See `wasync::test`.
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    if let Err(e) = no_args(args, "test") {
        return e;
    }
    let item = syn::parse_macro_input!(item as syn::ItemFn);
    entry::test(item.clone())
        .unwrap_or_else(|e| with_item(e, &item))
        .into()
}

/// Serves `wasi:http/incoming-handler` (mode N: `wasi:http/handler@0.3`)
/// with an `async fn(Request<Body>)`.
/// See `wasync::http_service`.
#[proc_macro_attribute]
pub fn http_service(args: TokenStream, item: TokenStream) -> TokenStream {
    if let Err(e) = no_args(args, "http_service") {
        return e;
    }
    let item = syn::parse_macro_input!(item as syn::ItemFn);
    entry::http_service(item.clone())
        .unwrap_or_else(|e| with_item(e, &item))
        .into()
}
