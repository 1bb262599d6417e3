//! `generate!`: WIT in, lowered bindings plus wasync's additions out.

use std::path::PathBuf;

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::Error;
use wasync_lower::{Mode, Origin, lower};
use wit_bindgen_core::WorldGenerator;
use wit_bindgen_rust::{Opts, WithOption};
use wit_parser::{Function, InterfaceId, Resolve, TypeId, WorldId, WorldItem, WorldKey};

use crate::config::Config;
use crate::rewrite;

/// The functions one generated `Guest…` trait must implement, as the WIT
/// declares them (before lowering).
pub struct ExportGroup {
    pub interface: Option<InterfaceId>,
    /// The world's key for that interface (see `AsyncFunc::key`).
    pub key: Option<WorldKey>,
    /// `ns:pkg/iface`, or `world <name>` for the world's own functions.
    pub label: String,
    pub resource: Option<(TypeId, String)>,
    pub funcs: Vec<Function>,
}

fn push_grouped(
    groups: &mut Vec<ExportGroup>,
    resolve: &Resolve,
    interface: Option<InterfaceId>,
    key: Option<&WorldKey>,
    label: &str,
    f: &Function,
) {
    let resource = f.kind.resource().map(|r| {
        let name = resolve.types[r].name.clone().unwrap_or_default();
        (r, name)
    });
    let owner = resource.as_ref().map(|r| r.0);
    match groups
        .iter_mut()
        .find(|g| g.interface == interface && g.resource.as_ref().map(|r| r.0) == owner)
    {
        Some(g) => g.funcs.push(f.clone()),
        None => groups.push(ExportGroup {
            interface,
            key: key.cloned(),
            label: label.to_owned(),
            resource,
            funcs: vec![f.clone()],
        }),
    }
}

/// Every exported function of `world`, grouped by the trait that will hold
/// it. Taken before lowering, so `async func`s are still marked as such.
fn export_groups(resolve: &Resolve, world: WorldId) -> Vec<ExportGroup> {
    let mut groups = Vec::new();
    let w = &resolve.worlds[world];
    let world_label = format!("world `{}`", w.name);
    for (key, item) in &w.exports {
        match item {
            WorldItem::Function(f) => {
                push_grouped(&mut groups, resolve, None, None, &world_label, f)
            }
            WorldItem::Interface { id, .. } => {
                let label = resolve
                    .id_of(*id)
                    .unwrap_or_else(|| format!("interface `{}`", resolve.name_world_key(key)));
                for f in resolve.interfaces[*id].functions.values() {
                    push_grouped(&mut groups, resolve, Some(*id), Some(key), &label, f);
                }
            }
            WorldItem::Type { .. } => {}
        }
    }
    groups
}

/// A WIT error at the macro's path argument. wit-parser's rendering points
/// at the file with a `--> file:line:column` line; the message repeats that
/// place in words first, since tools that shorten `-->` lines (such as
/// trybuild) would otherwise drop the line number.
fn wit_error(span: Span, rendered: &str) -> Error {
    let place = rendered.lines().find_map(|l| {
        let at = l.trim_start().strip_prefix("--> ")?;
        let mut parts = at.rsplitn(3, ':');
        let (col, line, file) = (parts.next()?, parts.next()?, parts.next()?);
        line.parse::<u32>().ok()?;
        let file = std::path::Path::new(file)
            .file_name()?
            .to_string_lossy()
            .into_owned();
        Some(format!("{file}, line {line}, column {col}"))
    });
    match place {
        Some(place) => Error::new(span, format!("WIT error in {place}: {rendered}")),
        None => Error::new(span, rendered),
    }
}

/// Why a stated mode disagrees with the build's, and what to change.
fn mode_hint(stated: Mode) -> &'static str {
    match stated {
        Mode::Concurrent => {
            "enable wasync's `concurrent` feature (it builds the runtime's side of mode C)"
        }
        Mode::Native => {
            "enable wasync's `native` feature (it builds the runtime's side of mode N, native WASI 0.3)"
        }
        Mode::Standard => {
            "disable wasync's `concurrent` and `native` features, or state the mode the build has"
        }
    }
}

/// Runs wit-bindgen and parses what it generated.
fn bindgen(
    opts: &Opts,
    resolve: &mut Resolve,
    world: WorldId,
    span: Span,
) -> syn::Result<syn::File> {
    let mut generated = wit_bindgen_core::Files::default();
    opts.clone()
        .build()
        .generate(resolve, world, &mut generated)
        .map_err(|e| Error::new(span, format!("wit-bindgen: {e:#}")))?;
    let (_, src) = generated
        .iter()
        .next()
        .ok_or_else(|| Error::new(span, "wit-bindgen generated nothing"))?;
    let src = String::from_utf8_lossy(src);
    syn::parse_str(&src).map_err(|e| {
        Error::new(
            span,
            format!("wasync could not read wit-bindgen's output: {e}"),
        )
    })
}

pub fn expand(config: Config) -> syn::Result<TokenStream> {
    let mode = match config.stated_mode {
        Some((stated, span)) if stated != config.build_mode => {
            return Err(Error::new(
                span,
                format!(
                    "this build is mode {}, but the bindings ask for mode {stated}: {}",
                    config.build_mode,
                    mode_hint(stated)
                ),
            ));
        }
        _ => config.build_mode,
    };

    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into()));
    let default_path = syn::LitStr::new("wit", config.span);
    let path_lits: Vec<&syn::LitStr> = if config.paths.is_empty() {
        if config.inline.is_some() && !root.join("wit").exists() {
            Vec::new()
        } else {
            vec![&default_path]
        }
    } else {
        config.paths.iter().collect()
    };
    // Canonical paths make messages shorter and stable.
    let paths: Vec<PathBuf> = path_lits
        .iter()
        .map(|lit| {
            let path = root.join(lit.value());
            std::fs::canonicalize(&path).unwrap_or(path)
        })
        .collect();
    let inline = config.inline.as_ref().map(|i| i.value());
    let loaded = wasync_lower::load(&paths, inline.as_deref()).map_err(|e| {
        let span = match e.origin {
            Origin::Path(i) => path_lits[i].span(),
            Origin::Inline => config.inline.as_ref().map_or(config.span, |i| i.span()),
        };
        wit_error(span, &e.message)
    })?;
    let files = loaded.files;
    let mut resolve = loaded.resolve;
    let world_span = config.world.as_ref().map_or(config.span, |w| w.span());
    let world_name = config.world.as_ref().map(|w| w.value());
    let world = resolve
        .select_world(&loaded.packages, world_name.as_deref())
        .map_err(|e| Error::new(world_span, format!("{e:#}")))?;

    let groups = export_groups(&resolve, world);
    // Mode N keeps wit-bindgen's async imports, whose arguments are owned;
    // the wrappers take the arguments the other modes take, so they need
    // the signatures of the mode S bindings as well.
    let standard = (mode == Mode::Native).then(|| resolve.clone());
    if mode == Mode::Concurrent {
        wasync_lower::add_abi(&mut resolve)
            .map_err(|e| Error::new(config.span, format!("{e:#}")))?;
    }
    let lowering =
        lower(&mut resolve, world, mode).map_err(|e| Error::new(config.span, format!("{e:#}")))?;

    let mut opts = Opts {
        runtime_path: Some("::wasync::__private::wit_bindgen::rt".into()),
        bitflags_path: Some("::wasync::__private::wit_bindgen::bitflags".into()),
        generate_all: true,
        export_macro_name: Some("__wasync_wit_export".into()),
        additional_derive_attributes: config
            .additional_derives
            .iter()
            .map(|p| quote!(#p).to_string())
            .collect(),
        ..Opts::default()
    };
    for (name, path) in &config.with {
        opts.with
            .push((name.clone(), WithOption::Path(path.clone())));
    }
    if mode == Mode::Concurrent {
        for (name, path) in [
            (
                wasync_lower::ABI_HOST_INTERFACE,
                "::wasync::__private::abi_host",
            ),
            (
                wasync_lower::WASI_IO_POLL_INTERFACE,
                "::wasync::__private::wasip2::io::poll",
            ),
        ] {
            if !config.with.iter().any(|(n, _)| n == name) {
                opts.with.push((name.into(), WithOption::Path(path.into())));
            }
        }
    }
    let mut file = bindgen(&opts, &mut resolve, world, config.span)?;
    let mut standard = match standard {
        Some(mut resolve) => {
            lower(&mut resolve, world, Mode::Standard)
                .map_err(|e| Error::new(config.span, format!("{e:#}")))?;
            Some(bindgen(&opts, &mut resolve, world, config.span)?)
        }
        None => None,
    };

    rewrite::import_wrappers(&mut file, &resolve, &lowering, standard.as_mut())?;
    rewrite::export_tables(&mut file, &resolve, &groups, mode);
    if mode == Mode::Concurrent {
        rewrite::plain_entries(&mut file, &resolve, world, &groups)?;
    }

    let world_ident = format_ident!(
        "__wasync_export_{}",
        resolve.worlds[world].name.replace('-', "_")
    );
    let guest_impl = match mode {
        Mode::Standard | Mode::Native => quote!(),
        Mode::Concurrent => quote! {
            impl $($path)*::exports::wasync::abi::guest::Guest for $ty {
                fn wake(ready: ::std::vec::Vec<u32>) {
                    ::wasync::__private::concurrent::wake(&ready)
                }
                fn cancel(call_id: u32) {
                    ::wasync::__private::concurrent::cancel(call_id)
                }
            }
        },
    };
    let tracked = files.iter().map(|f| {
        let f = f.display().to_string();
        quote!(
            const _: &[u8] = include_bytes!(#f);
        )
    });
    Ok(quote! {
        #file

        /// Exports `$ty` as the implementation of every exported interface
        /// of this world (and, in mode C, of the wasync ABI).
        #[allow(unused_macros)]
        #[doc(hidden)]
        macro_rules! #world_ident {
            ($ty:ident) => {
                self::export!($ty with_types_in self);
            };
            ($ty:ident with_types_in $($path:tt)*) => {
                $($path)*::__wasync_wit_export!($ty with_types_in $($path)*);
                #guest_impl
            };
        }
        #[doc(inline)]
        #[allow(unused_imports)]
        pub(crate) use #world_ident as export;

        #(#tracked)*
    })
}
