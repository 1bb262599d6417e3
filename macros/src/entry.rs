//! The entry-point attributes: `#[wasync::main]`, `#[wasync::test]` and
//! `#[wasync::http_service]`.
//!
//! Each keeps the author's `async fn` as written (renamed where the entry
//! point takes its name) and adds the entry point around it through
//! `wasync::__private::select_mode!`, so that the mode of the build picks
//! the expansion in one place. Modes S and C share one: a command, a test
//! and a request handler are plain WASI 0.2 calls, which run to completion
//! on the instance's runtime whatever the mode. Mode N (WASI 0.3) has its
//! own arm: a test runs as in the other modes natively; a command exports
//! the async `wasi:cli/run@0.3`, a service the async
//! `wasi:http/handler@0.3`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Error, ItemFn};

/// Rejects what no entry point accepts: a non-`async` fn, generics,
/// `const`/`unsafe`/`extern` qualifiers, or a `self` receiver.
fn check_common(f: &ItemFn, what: &str) -> syn::Result<()> {
    if f.sig.asyncness.is_none() {
        return Err(Error::new(
            f.sig.fn_token.span,
            format!("{what} goes on an `async fn`: add `async`"),
        ));
    }
    if !f.sig.generics.params.is_empty() || f.sig.generics.where_clause.is_some() {
        return Err(Error::new(
            f.sig.generics.span(),
            format!("{what} does not support generic functions"),
        ));
    }
    if let Some(c) = &f.sig.constness {
        return Err(Error::new(c.span, format!("{what} cannot be `const`")));
    }
    if let Some(u) = &f.sig.unsafety {
        return Err(Error::new(u.span, format!("{what} cannot be `unsafe`")));
    }
    if let Some(abi) = &f.sig.abi {
        return Err(Error::new(abi.span(), format!("{what} cannot be `extern`")));
    }
    if let Some(syn::FnArg::Receiver(r)) = f.sig.inputs.first() {
        return Err(Error::new(
            r.span(),
            format!("{what} goes on a free function, not a method"),
        ));
    }
    Ok(())
}

/// `#[wasync::main] async fn main() [-> R] { .. }`: the body becomes
/// `__wasync_main`, and `fn main` runs it. In modes S and C that is std's
/// `main` of a `wasm32-wasip2` binary, which exports `wasi:cli/run`; its
/// `Result`, if any, becomes the exit status as std does it.
pub fn main(f: ItemFn) -> syn::Result<TokenStream> {
    check_common(&f, "#[wasync::main]")?;
    if f.sig.ident != "main" {
        return Err(Error::new(
            f.sig.ident.span(),
            "#[wasync::main] goes on `async fn main`: the command's entry point",
        ));
    }
    if !f.sig.inputs.is_empty() {
        return Err(Error::new(
            f.sig.inputs.span(),
            "`main` takes no arguments: read them with `std::env::args()`",
        ));
    }
    let span = f.sig.span();
    let output = &f.sig.output;
    let docs: Vec<_> = f
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .collect();
    let mut inner = f.clone();
    inner.sig.ident = format_ident!("__wasync_main");
    inner.vis = syn::Visibility::Inherited;
    inner.attrs.retain(|a| !a.path().is_ident("doc"));
    let run_s = quote_spanned! {span=>
        #(#docs)*
        fn main() #output {
            ::wasync::__private::standard::run(__wasync_main())
        }
    };
    // Mode N: the command exports `wasi:cli/run@0.3`, whose async `run`
    // runs the body as an export call. The binary still needs a `main`,
    // which exports the 0.2 `run` through std: it says where the entry
    // point is instead of doing nothing.
    let run_n = quote_spanned! {span=>
        const _: () = {
            struct __WasyncMain;

            impl ::wasync::__private::wasip3::exports::cli::run::Guest for __WasyncMain {
                async fn run() -> ::core::result::Result<(), ()> {
                    ::wasync::__private::native::command_result(
                        ::wasync::__private::native::call(__wasync_main()).await,
                    )
                }
            }

            ::wasync::__private::wasip3::cli::command::export!(
                __WasyncMain with_types_in ::wasync::__private::wasip3
            );
        };

        #(#docs)*
        fn main() {
            ::wasync::__private::native::not_a_wasi_0_2_command()
        }
    };
    Ok(quote! {
        #[allow(clippy::unused_async)]
        #inner
        ::wasync::__private::select_mode! {
            S => { #run_s }
            C => { #run_s }
            N => { #run_n }
        }
    })
}

/// `#[wasync::test] async fn name() [-> R] { .. }`: a `#[test]` that runs
/// the body with `block_on`. Natively that is the simulated host (virtual
/// clock); on wasm, the real one.
pub fn test(f: ItemFn) -> syn::Result<TokenStream> {
    check_common(&f, "#[wasync::test]")?;
    if !f.sig.inputs.is_empty() {
        return Err(Error::new(f.sig.inputs.span(), "a test takes no arguments"));
    }
    let span = f.sig.span();
    let name = &f.sig.ident;
    let output = &f.sig.output;
    let vis = &f.vis;
    let attrs = &f.attrs;
    let block = &f.block;
    let run = quote_spanned!(span=> ::wasync::__private::standard::run(__wasync_test()));
    Ok(quote! {
        #[::core::prelude::v1::test]
        #(#attrs)*
        #vis fn #name() #output {
            #[allow(clippy::unused_async)]
            async fn __wasync_test() #output #block
            // Natively every mode runs tests on the simulated host.
            ::wasync::__private::select_mode! {
                S => { #run }
                C => { #run }
                N => { #run }
            }
        }
    })
}

/// `#[wasync::http_service] async fn f(req: Request<Body>) -> R { .. }`:
/// `f` stays as written (callable, and testable natively), and the
/// component exports `wasi:http/incoming-handler`, whose `handle` serves
/// each request with `f`.
pub fn http_service(f: ItemFn) -> syn::Result<TokenStream> {
    check_common(&f, "#[wasync::http_service]")?;
    if f.sig.inputs.len() != 1 {
        return Err(Error::new(
            f.sig.paren_token.span.join(),
            "an HTTP service handler takes one argument, the request: \
             `async fn serve(req: Request<Body>) -> Response<Body>`",
        ));
    }
    let name = &f.sig.ident;
    let span = f.sig.span();
    let handle = quote_spanned! {span=>
        ::wasync::__private::http_handle(request, response_out, #name)
    };
    let proxy = quote! {
        const _: () = {
            struct __WasyncHttpService;

            impl ::wasync::__private::wasip2::exports::http::incoming_handler::Guest
                for __WasyncHttpService
            {
                fn handle(
                    request: ::wasync::__private::wasip2::http::types::IncomingRequest,
                    response_out: ::wasync::__private::wasip2::http::types::ResponseOutparam,
                ) {
                    #handle
                }
            }

            ::wasync::__private::wasip2::http::proxy::export!(
                __WasyncHttpService with_types_in ::wasync::__private::wasip2
            );
        };
    };
    // Mode N: the component exports the async `wasi:http/handler@0.3`,
    // whose `handle` runs as an export call.
    let handle_n = quote_spanned! {span=>
        ::wasync::__private::native::call(::wasync::__private::http_handle(request, #name)).await
    };
    let service_n = quote! {
        const _: () = {
            struct __WasyncHttpService;

            impl ::wasync::__private::wasip3::exports::http::handler::Guest
                for __WasyncHttpService
            {
                async fn handle(
                    request: ::wasync::__private::wasip3::http::types::Request,
                ) -> ::core::result::Result<
                    ::wasync::__private::wasip3::http::types::Response,
                    ::wasync::__private::wasip3::http::types::ErrorCode,
                > {
                    #handle_n
                }
            }

            ::wasync::__private::wasip3::http::service::export!(
                __WasyncHttpService with_types_in ::wasync::__private::wasip3
            );
        };
    };
    Ok(quote! {
        #f

        ::wasync::__private::select_mode! {
            S => { #proxy }
            C => { #proxy }
            N => { #service_n }
        }
    })
}
