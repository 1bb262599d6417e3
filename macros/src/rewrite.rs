//! Additions to wit-bindgen's output, made on its syntax tree:
//!
//! - **Imports.** Each lowered import (`f`, or `f-start` and `f-finish`;
//!   in mode N wit-bindgen's own `async fn f`) is renamed `__wasync_…` and
//!   hidden, and an `async fn f` with the signature the author expects (the
//!   same in every mode) takes its name.
//! - **Exports.** Each generated `Guest…` trait gets a hidden table of the
//!   functions the WIT declares for it, with the messages
//!   `#[async_export]` shows when an impl does not match.
//!
//! - **Plain entries (mode C).** The export glue of every plain function
//!   (constructors included) calls the author's function inside
//!   `wasync::__private::concurrent::plain`, and every exported resource's
//!   destructor runs inside it too: each entry into a mode C instance then
//!   runs what it woke and parks, whether or not the author's impl has
//!   `#[async_export]`.
//!
//! Items are found by the names wit-bindgen gives them: the module of
//! interface `ns:pkg/iface` is `ns::pkg::iface` (under `exports` for
//! exports), a resource `r`'s functions live in `impl R` blocks, and its
//! exported trait is `GuestR`; the glue of an exported function `f` is
//! `_export_<f in snake case>_cabi`, and a resource's destructor is its
//! `dtor`.

use heck::{ToSnakeCase, ToUpperCamelCase};
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::visit_mut::VisitMut;
use syn::{Block, Expr, FnArg, ImplItem, Item, ItemTrait, Pat, ReturnType, Signature, TraitItem};
use wasync_lower::{AsyncFunc, Direction, Lowering, Mode};
use wit_bindgen_core::name_package_module;
use wit_bindgen_rust::to_rust_ident;
use wit_parser::{
    Function, FunctionKind, Resolve, Type, TypeDefKind, WorldId, WorldItem, WorldKey,
};

use crate::expand::ExportGroup;

/// The module path of the interface the world knows by `key`, as
/// wit-bindgen lays it out: for an interface declared inline, the name it
/// has in the world; otherwise its package's namespace, the package's
/// module (with the version when the world uses two versions of the
/// package) and its own name.
fn module_path(resolve: &Resolve, key: &WorldKey, export: bool) -> Vec<String> {
    let mut path = Vec::new();
    if export {
        path.push("exports".to_owned());
    }
    match key {
        WorldKey::Name(name) => path.push(to_rust_ident(name)),
        WorldKey::Interface(id) => {
            let iface = &resolve.interfaces[*id];
            if let Some(pkg) = iface.package {
                path.push(to_rust_ident(&resolve.packages[pkg].name.namespace));
                path.push(name_package_module(resolve, pkg));
            }
            if let Some(n) = &iface.name {
                path.push(to_rust_ident(n));
            }
        }
    }
    path
}

/// The items of the module at `path`.
fn module_items<'a>(items: &'a mut Vec<Item>, path: &[String]) -> Option<&'a mut Vec<Item>> {
    let Some((first, rest)) = path.split_first() else {
        return Some(items);
    };
    let module = items.iter_mut().find_map(|i| match i {
        Item::Mod(m) if m.ident == first.as_str() => m.content.as_mut(),
        _ => None,
    })?;
    module_items(&mut module.1, rest)
}

fn hidden(attrs: &mut Vec<syn::Attribute>) {
    attrs.retain(|a| !a.path().is_ident("doc"));
    attrs.push(syn::parse_quote!(#[doc(hidden)]));
}

/// Fn `name` in `items`, free or in `impl <owner>` blocks: its signature
/// and attributes.
fn find_fn<'a>(
    items: &'a mut [Item],
    owner: Option<&str>,
    name: &str,
) -> Option<(&'a mut Signature, &'a mut Vec<syn::Attribute>)> {
    for item in items.iter_mut() {
        match (item, owner) {
            (Item::Fn(f), None) if f.sig.ident == name => return Some((&mut f.sig, &mut f.attrs)),
            (Item::Impl(imp), Some(owner)) if imp.trait_.is_none() => {
                let is_owner =
                    matches!(&*imp.self_ty, syn::Type::Path(p) if p.path.is_ident(owner));
                if !is_owner {
                    continue;
                }
                for it in imp.items.iter_mut() {
                    if let ImplItem::Fn(f) = it
                        && f.sig.ident == name
                    {
                        return Some((&mut f.sig, &mut f.attrs));
                    }
                }
            }
            _ => {}
        }
    }
    None
}

/// Renames fn `name` in `items` (free, or in `impl <owner>` blocks) to
/// `__wasync_<name>`, hides it, and returns its signature.
fn take_renamed(items: &mut [Item], owner: Option<&str>, name: &str) -> Option<Signature> {
    let (sig, attrs) = find_fn(items, owner, name)?;
    sig.ident = format_ident!("__wasync_{}", name);
    hidden(attrs);
    Some(sig.clone())
}

/// The argument names of a signature, receiver excluded.
fn arg_names(sig: &Signature) -> Vec<TokenStream> {
    sig.inputs
        .iter()
        .filter_map(|a| match a {
            FnArg::Typed(t) => match &*t.pat {
                Pat::Ident(i) => {
                    let id = &i.ident;
                    Some(quote!(#id))
                }
                _ => None,
            },
            FnArg::Receiver(_) => None,
        })
        .collect()
}

fn has_receiver(sig: &Signature) -> bool {
    matches!(sig.inputs.first(), Some(FnArg::Receiver(_)))
}

/// A call of the renamed function `sig` with the wrapper's own arguments:
/// a method through `self`, a resource's other functions through `Self`.
fn call_of(sig: &Signature, owner: bool) -> TokenStream {
    let inner = &sig.ident;
    let args = arg_names(sig);
    if has_receiver(sig) {
        quote!(self.#inner(#(#args),*))
    } else if owner {
        quote!(Self::#inner(#(#args),*))
    } else {
        quote!(#inner(#(#args),*))
    }
}

fn docs_of(f: &Function) -> TokenStream {
    match &f.docs.contents {
        Some(d) => {
            let lines = d.lines().map(|l| format!(" {l}"));
            quote!(#(#[doc = #lines])*)
        }
        None => quote!(),
    }
}

/// Builds the `async fn` the author calls for one lowered import.
fn import_wrapper(
    items: &mut [Item],
    standard: Option<&mut Vec<Item>>,
    func: &AsyncFunc,
    mode: Mode,
    resolve: &Resolve,
) -> syn::Result<(Option<String>, TokenStream)> {
    let f = &func.original;
    let owner = func
        .resource()
        .and_then(|r| resolve.types[r].name.clone())
        .map(|n| n.to_upper_camel_case());
    let name = to_rust_ident(f.item_name());
    let ident = format_ident!("{}", name);
    let docs = docs_of(f);
    let missing = || {
        syn::Error::new(
            Span::call_site(),
            format!(
                "wasync: wit-bindgen generated no `{name}` for the imported async func `{}`",
                f.name
            ),
        )
    };
    let wrapper = match mode {
        Mode::Standard => {
            let sig = take_renamed(items, owner.as_deref(), &name).ok_or_else(missing)?;
            let inputs = &sig.inputs;
            let output = &sig.output;
            let call = call_of(&sig, owner.is_some());
            quote! {
                #docs
                #[allow(clippy::unused_async)]
                pub async fn #ident(#inputs) #output {
                    #call
                }
            }
        }
        Mode::Concurrent => {
            let start = take_renamed(items, owner.as_deref(), &format!("{name}_start"))
                .ok_or_else(missing)?;
            let finish = take_renamed(items, owner.as_deref(), &format!("{name}_finish"))
                .ok_or_else(missing)?;
            let inputs = &start.inputs;
            let output = &finish.output;
            let call = call_of(&start, owner.is_some());
            let finish_ident = &finish.ident;
            // The finish of a resource's async function is a static function.
            let finish_path = match owner {
                Some(_) => quote!(Self::#finish_ident),
                None => quote!(#finish_ident),
            };
            quote! {
                #docs
                pub async fn #ident(#inputs) #output {
                    match #call {
                        ::core::result::Result::Ok(done) => done,
                        ::core::result::Result::Err(call_id) => {
                            ::wasync::__private::concurrent::imported(call_id, #finish_path).await
                        }
                    }
                }
            }
        }
        Mode::Native => {
            // wit-bindgen's async import takes owned arguments; the wrapper
            // takes those of mode S (`&str`, `&[T]`, `&Record`) and converts.
            let native = take_renamed(items, owner.as_deref(), &name).ok_or_else(missing)?;
            let sync = standard
                .and_then(|items| find_fn(items, owner.as_deref(), &name))
                .map(|(sig, _)| sig.clone())
                .ok_or_else(missing)?;
            let inputs = &sync.inputs;
            let output = &sync.output;
            let params = match f.kind {
                FunctionKind::AsyncMethod(_) => &f.params[1..],
                _ => &f.params[..],
            };
            let args = params.iter().map(|p| {
                let arg = format_ident!("{}", to_rust_ident(&p.name));
                owned_arg(resolve, &p.ty, quote!(#arg))
            });
            let inner = &native.ident;
            let call = if has_receiver(&native) {
                quote!(self.#inner(#(#args),*))
            } else if owner.is_some() {
                quote!(Self::#inner(#(#args),*))
            } else {
                quote!(#inner(#(#args),*))
            };
            quote! {
                #docs
                pub async fn #ident(#inputs) #output {
                    #call.await
                }
            }
        }
    };
    Ok((owner, wrapper))
}

/// An expression that turns `expr`, an argument as mode S bindings take it
/// (a value, or a borrow of one at the top, or one level into a tuple,
/// option or result), into the owned value wit-bindgen's async import takes.
fn owned_arg(resolve: &Resolve, ty: &Type, expr: TokenStream) -> TokenStream {
    let native = quote!(::wasync::__private::native);
    match ty {
        Type::String => quote!(#native::owned_string(#expr)),
        Type::Id(id) => match &resolve.types[*id].kind {
            TypeDefKind::Type(t) => owned_arg(resolve, t, expr),
            TypeDefKind::List(_) => quote!(#native::owned_list(#expr)),
            TypeDefKind::Option(t) => {
                let inner = owned_arg(resolve, t, quote!(v));
                quote!(#expr.map(|v| #inner))
            }
            TypeDefKind::Result(r) => {
                let ok =
                    r.ok.map_or(quote!(v), |t| owned_arg(resolve, &t, quote!(v)));
                let err = r
                    .err
                    .map_or(quote!(e), |t| owned_arg(resolve, &t, quote!(e)));
                quote!(#expr.map(|v| #ok).map_err(|e| #err))
            }
            TypeDefKind::Tuple(t) => {
                let names: Vec<_> = (0..t.types.len()).map(|i| format_ident!("t{i}")).collect();
                let items = t
                    .types
                    .iter()
                    .zip(&names)
                    .map(|(t, n)| owned_arg(resolve, t, quote!(#n)));
                quote!({ let (#(#names,)*) = #expr; (#(#items,)*) })
            }
            // Handles, futures and streams are passed as they are.
            TypeDefKind::Handle(_)
            | TypeDefKind::Resource
            | TypeDefKind::Future(_)
            | TypeDefKind::Stream(_) => expr,
            // Records, variants, enums, flags: by value or by reference.
            _ => quote!(#native::owned_value(#expr)),
        },
        _ => expr,
    }
}

/// Replaces every lowered import with an `async fn` of its original name.
/// In mode N, `standard` holds the mode S bindings of the same world, whose
/// signatures the wrappers take.
pub fn import_wrappers(
    file: &mut syn::File,
    resolve: &Resolve,
    lowering: &Lowering,
    mut standard: Option<&mut syn::File>,
) -> syn::Result<()> {
    for func in lowering
        .funcs
        .iter()
        .filter(|f| f.direction == Direction::Import)
    {
        let path = match &func.key {
            Some(key) => module_path(resolve, key, false),
            None => Vec::new(),
        };
        let Some(items) = module_items(&mut file.items, &path) else {
            return Err(syn::Error::new(
                Span::call_site(),
                format!(
                    "wasync: cannot find the bindings module `{}`",
                    path.join("::")
                ),
            ));
        };
        let standard_items = match standard.as_deref_mut() {
            Some(file) => module_items(&mut file.items, &path),
            None => None,
        };
        let (owner, wrapper) = import_wrapper(items, standard_items, func, lowering.mode, resolve)?;
        let item: Item = match owner {
            Some(owner) => {
                let owner = format_ident!("{}", owner);
                syn::parse_quote!(impl #owner { #wrapper })
            }
            None => syn::parse2(wrapper)?,
        };
        items.push(item);
    }
    Ok(())
}

/// Renders a type for a message: wit-bindgen's runtime paths shortened to
/// the names an author writes.
fn pretty(tokens: TokenStream) -> String {
    let mut s = tokens.to_string();
    for (from, to) in [
        (":: core :: result :: Result", "Result"),
        (":: core :: option :: Option", "Option"),
        ("_rt :: String", "String"),
        ("_rt :: Vec", "Vec"),
        (" :: ", "::"),
        (" < ", "<"),
        ("< ", "<"),
        (" >", ">"),
        (" ,", ","),
        ("& ", "&"),
    ] {
        s = s.replace(from, to);
    }
    s
}

fn render_params(sig: &Signature) -> Vec<String> {
    sig.inputs
        .iter()
        .map(|a| match a {
            FnArg::Receiver(_) => "&self".to_owned(),
            FnArg::Typed(t) => {
                let (pat, ty) = (&t.pat, &t.ty);
                format!("{}: {}", pretty(quote!(#pat)), pretty(quote!(#ty)))
            }
        })
        .collect()
}

fn render_output(out: &ReturnType) -> String {
    match out {
        ReturnType::Default => String::new(),
        ReturnType::Type(_, ty) => {
            let t = pretty(quote!(#ty));
            if t == "()" {
                String::new()
            } else {
                format!(" -> {t}")
            }
        }
    }
}

fn trait_method<'a>(t: &'a ItemTrait, name: &str) -> Option<&'a Signature> {
    t.items.iter().find_map(|i| match i {
        TraitItem::Fn(f) if f.sig.ident == name => Some(&f.sig),
        _ => None,
    })
}

/// The Rust name the author writes for a WIT function.
fn rust_name(f: &Function) -> String {
    match f.kind {
        FunctionKind::Constructor(_) => "new".to_owned(),
        _ => to_rust_ident(f.item_name()),
    }
}

/// The signature the author should write, read from the lowered trait.
fn expected(t: &ItemTrait, f: &Function, mode: Mode) -> Option<String> {
    let name = rust_name(f);
    let is_async = f.kind.is_async();
    let (params, output) = if is_async && mode == Mode::Concurrent {
        let start = trait_method(t, &format!("{name}_start"))?;
        let finish = trait_method(t, &format!("{name}_finish"))?;
        (render_params(start), render_output(&finish.output))
    } else {
        let sig = trait_method(t, &name)?;
        (render_params(sig), render_output(&sig.output))
    };
    let asyncness = if is_async { "async " } else { "" };
    Some(format!(
        "{asyncness}fn {name}({}){output}",
        params.join(", ")
    ))
}

fn user_param_count(f: &Function) -> usize {
    match f.kind {
        FunctionKind::Method(_)
        | FunctionKind::AsyncMethod(_)
        | FunctionKind::MethodGetter(_)
        | FunctionKind::MethodSetter(_) => f.params.len().saturating_sub(1),
        _ => f.params.len(),
    }
}

/// Adds the table `__WASYNC_FUNCS` to every generated trait of an export.
pub fn export_tables(file: &mut syn::File, resolve: &Resolve, groups: &[ExportGroup], mode: Mode) {
    for group in groups {
        let path = match &group.key {
            Some(key) => module_path(resolve, key, true),
            None => Vec::new(),
        };
        let trait_name = match &group.resource {
            Some((_, r)) => format!("Guest{}", r.to_upper_camel_case()),
            None => "Guest".to_owned(),
        };
        let Some(items) = module_items(&mut file.items, &path) else {
            continue;
        };
        let Some(t) = items.iter_mut().find_map(|i| match i {
            Item::Trait(t) if t.ident == trait_name.as_str() => Some(t),
            _ => None,
        }) else {
            continue;
        };
        let entries: Vec<TokenStream> = group
            .funcs
            .iter()
            .map(|f| {
                let name = rust_name(f);
                let is_async = f.kind.is_async();
                let params = user_param_count(f);
                let sig = expected(t, f, mode).unwrap_or_else(|| format!("fn {name}(..)"));
                let place = match &group.resource {
                    Some((_, r)) => format!("resource `{r}` of {}", group.label),
                    None => group.label.clone(),
                };
                let wrong_kind = if is_async {
                    format!("`{name}` is an `async func` in the WIT of {place}: write `{sig}`")
                } else {
                    format!(
                        "`{name}` is a plain `func` in the WIT of {place}: remove `async` (`{sig}`), or declare it `async func` in the WIT"
                    )
                };
                let wrong_arity = format!("`{name}` takes {params} parameter(s) in the WIT of {place}: write `{sig}`");
                let missing = format!("`{name}` of {place} is not implemented: add `{sig}`");
                quote! {
                    ::wasync::__private::WitFunc {
                        name: #name,
                        is_async: #is_async,
                        params: #params,
                        wrong_kind: #wrong_kind,
                        wrong_arity: #wrong_arity,
                        missing: #missing,
                    }
                }
            })
            .collect();
        t.items.push(syn::parse_quote! {
            /// The functions of this trait as the WIT declares them, for
            /// the checks of `#[wasync::async_export]`.
            #[doc(hidden)]
            const __WASYNC_FUNCS: &'static [::wasync::__private::WitFunc] = &[#(#entries),*];
        });
    }
}

/// Wraps the calls of the author's trait functions (`T_::f(..)`, as
/// wit-bindgen's export glue names them) in `concurrent::plain`.
struct WrapTraitCalls {
    wrapped: usize,
}

impl VisitMut for WrapTraitCalls {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        let is_trait_call = matches!(
            expr,
            Expr::Call(call) if matches!(
                &*call.func,
                Expr::Path(p) if p.path.segments.first().is_some_and(|s| s.ident == "T_")
            )
        );
        if is_trait_call {
            self.wrapped += 1;
            *expr = syn::parse_quote!(::wasync::__private::concurrent::plain(|| #expr));
        } else {
            syn::visit_mut::visit_expr_mut(self, expr);
        }
    }
}

/// The block of free fn `name` in `items`.
fn fn_block<'a>(items: &'a mut [Item], name: &str) -> Option<&'a mut Block> {
    items.iter_mut().find_map(|i| match i {
        Item::Fn(f) if f.sig.ident == name => Some(&mut *f.block),
        _ => None,
    })
}

/// The block of method `name` of the inherent `impl <owner>` in `items`.
fn method_block<'a>(items: &'a mut [Item], owner: &str, name: &str) -> Option<&'a mut Block> {
    items.iter_mut().find_map(|i| match i {
        Item::Impl(imp)
            if imp.trait_.is_none()
                && matches!(&*imp.self_ty, syn::Type::Path(p) if p.path.is_ident(owner)) =>
        {
            imp.items.iter_mut().find_map(|it| match it {
                ImplItem::Fn(f) if f.sig.ident == name => Some(&mut f.block),
                _ => None,
            })
        }
        _ => None,
    })
}

fn missing_glue(what: String) -> syn::Error {
    syn::Error::new(
        Span::call_site(),
        format!("wasync: cannot find {what} in wit-bindgen's output"),
    )
}

/// Mode C: makes every plain export, constructor and resource destructor
/// an entry that runs to idle and parks (see the module docs).
pub fn plain_entries(
    file: &mut syn::File,
    resolve: &Resolve,
    world: WorldId,
    groups: &[ExportGroup],
) -> syn::Result<()> {
    for group in groups {
        let path = match &group.key {
            Some(key) => module_path(resolve, key, true),
            None => Vec::new(),
        };
        for f in group.funcs.iter().filter(|f| !f.kind.is_async()) {
            let glue = format!("_export_{}_cabi", f.name.to_snake_case().replace('.', "_"));
            let block = module_items(&mut file.items, &path)
                .and_then(|items| fn_block(items, &glue))
                .ok_or_else(|| missing_glue(format!("`{glue}`, the export of `{}`", f.name)))?;
            let mut wrap = WrapTraitCalls { wrapped: 0 };
            wrap.visit_block_mut(block);
            if wrap.wrapped != 1 {
                return Err(missing_glue(format!(
                    "the one call of the author's `{}` in `{glue}` ({} found)",
                    f.name, wrap.wrapped
                )));
            }
        }
    }
    for (key, item) in &resolve.worlds[world].exports {
        let WorldItem::Interface { id, .. } = item else {
            continue;
        };
        let path = module_path(resolve, key, true);
        for (name, ty) in &resolve.interfaces[*id].types {
            if !matches!(resolve.types[*ty].kind, TypeDefKind::Resource) {
                continue;
            }
            let owner = name.to_upper_camel_case();
            let block = module_items(&mut file.items, &path)
                .and_then(|items| method_block(items, &owner, "dtor"))
                .ok_or_else(|| missing_glue(format!("the destructor of resource `{name}`")))?;
            let stmts = std::mem::take(&mut block.stmts);
            *block = syn::parse_quote!({
                ::wasync::__private::concurrent::plain(|| { #(#stmts)* })
            });
        }
    }
    Ok(())
}
