//! Calling exports by name: resolving `f` or `ns:pkg/iface#f`, checking
//! arguments against the signature, WAVE text in and out, and turning an
//! error from inside wasm into a typed [`Error`].

use std::sync::Arc;

use wasmtime::component::types::{ComponentFunc, ComponentItem};
use wasmtime::component::{Component, Func, Instance, Type, Val};
use wasmtime::{AsContext, AsContextMut, Engine, Trap, WasmBacktrace};

use crate::error::{Error, Result};
use crate::shared::ByName;
use crate::typecheck;

/// A function's parameter names and types, and its result types.
#[derive(Debug, Clone)]
pub struct Signature {
    /// Each parameter's name and type.
    pub params: Vec<(String, Type)>,
    /// The result types (none or one).
    pub results: Vec<Type>,
}

impl Signature {
    /// The signature of a function type.
    pub fn of(ty: &ComponentFunc) -> Signature {
        Signature {
            params: ty.params().map(|(n, t)| (n.to_owned(), t)).collect(),
            results: ty.results().collect(),
        }
    }
}

/// Every exported function of `component` with its type, by the names
/// calls use: `f` for root functions, `ns:pkg/iface#f` inside interfaces.
///
/// # Examples
///
/// ```
/// let engine = wasmtime::Engine::default();
/// let wasm = wat::parse_str(r#"
///     (component
///         (core module $m (func (export "f") (result i32) i32.const 7))
///         (core instance $i (instantiate $m))
///         (func (export "seven") (result u32) (canon lift (core func $i "f"))))
/// "#)?;
/// let component = wasmtime::component::Component::new(&engine, &wasm)?;
/// let names: Vec<String> = wasync_host::exported_funcs(&engine, &component)
///     .into_iter()
///     .map(|(name, _)| name)
///     .collect();
/// assert_eq!(names, ["seven"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn exported_funcs(engine: &Engine, component: &Component) -> Vec<(String, ComponentFunc)> {
    let mut funcs = Vec::new();
    for (name, export) in component.component_type().exports(engine) {
        match export.ty {
            ComponentItem::ComponentFunc(f) => funcs.push((name.to_owned(), f)),
            ComponentItem::ComponentInstance(inst) => {
                for (func, item) in inst.exports(engine) {
                    if let ComponentItem::ComponentFunc(f) = item.ty {
                        funcs.push((format!("{name}#{func}"), f));
                    }
                }
            }
            _ => {}
        }
    }
    funcs
}

/// Every function of `exported` (as [`exported_funcs`] lists them),
/// looked up once in `instance`, by name.
pub(crate) fn lookup_funcs(
    mut store: impl AsContextMut,
    instance: &Instance,
    component: &Component,
    exported: &[(String, ComponentFunc)],
) -> Result<ByName<Func>> {
    exported
        .iter()
        .map(|(name, _)| {
            let func = lookup_func(&mut store, instance, component, name)?;
            Ok((Arc::from(name.as_str()), func))
        })
        .collect()
}

/// Resolves `name` (`f` or `iface#f`) to a function of `instance`; a name
/// it does not export is [`Error::MissingExport`], listing those it does.
pub fn lookup_func(
    mut store: impl AsContextMut,
    instance: &Instance,
    component: &Component,
    name: &str,
) -> Result<Func> {
    let mut store = store.as_context_mut();
    let missing = |engine: &Engine| Error::MissingExport {
        name: name.to_owned(),
        available: exported_funcs(engine, component)
            .into_iter()
            .map(|(n, _)| n)
            .collect(),
    };
    let index = match name.rsplit_once('#') {
        Some((iface, func)) => {
            let Some(iface) = instance.get_export_index(&mut store, None, iface) else {
                return Err(missing(store.engine()));
            };
            instance.get_export_index(&mut store, Some(&iface), func)
        }
        None => instance.get_export_index(&mut store, None, name),
    };
    let Some(index) = index else {
        return Err(missing(store.engine()));
    };
    instance
        .get_func(&mut store, index)
        .ok_or_else(|| Error::NotAFunction {
            name: name.to_owned(),
        })
}

/// The signature of `func`.
pub fn signature(store: impl AsContext, func: &Func) -> Signature {
    Signature::of(&func.ty(&store))
}

/// Checks `args` against `sig`: their number, and each value against its
/// parameter's type, with a path to the offending value.
///
/// # Examples
///
/// ```
/// use wasmtime::component::{Type, Val};
/// use wasync_host::{ErrorKind, Signature, check_args};
///
/// let sig = Signature { params: vec![("n".into(), Type::U32)], results: vec![] };
/// assert!(check_args("f", &sig, &[Val::U32(1)]).is_ok());
/// let err = check_args("f", &sig, &[Val::String("one".into())]).unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::BadArguments);
/// ```
pub fn check_args(name: &str, sig: &Signature, args: &[Val]) -> Result<()> {
    let bad = |message: String| Error::BadArguments {
        func: name.to_owned(),
        message,
    };
    if sig.params.len() != args.len() {
        return Err(bad(format!(
            "expected {} argument(s) ({}), got {}",
            sig.params.len(),
            param_list(sig),
            args.len()
        )));
    }
    for ((pname, ty), arg) in sig.params.iter().zip(args) {
        typecheck::check(pname, ty, arg).map_err(bad)?;
    }
    Ok(())
}

fn param_list(sig: &Signature) -> String {
    sig.params
        .iter()
        .map(|(n, t)| format!("{n}: {}", typecheck::type_name(t)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parses `name(args…)` in WAVE, the syntax of `wasmtime run --invoke`,
/// typing the arguments with the signature `sig_of` finds for `name`.
///
/// # Examples
///
/// ```
/// use wasmtime::component::{Type, Val};
/// use wasync_host::{Signature, parse_call};
///
/// let sig = Signature { params: vec![("n".into(), Type::U32)], results: vec![] };
/// let (name, args) = parse_call("demo:app/api#double(21)", |_| Ok(sig.clone()))?;
/// assert_eq!(name, "demo:app/api#double");
/// assert_eq!(args, [Val::U32(21)]);
/// # Ok::<(), wasync_host::Error>(())
/// ```
pub fn parse_call(
    call: &str,
    sig_of: impl FnOnce(&str) -> Result<Signature>,
) -> Result<(String, Vec<Val>)> {
    let syntax = |message: String| Error::BadCallSyntax {
        input: call.to_owned(),
        message,
    };
    // WAVE names functions by their plain name; an interface prefix
    // (`ns:pkg/iface#`) is split off first.
    let call = call.trim();
    let (iface, rest) = match call.split_once('(').map(|(head, _)| head.rfind('#')) {
        Some(Some(hash)) => (Some(&call[..hash]), &call[hash + 1..]),
        _ => (None, call),
    };
    let parsed = wasm_wave::untyped::UntypedFuncCall::parse(rest)
        .map_err(|e| syntax(format!("{e} (expected `name(arg, …)` in WAVE syntax)")))?;
    let name = match iface {
        Some(iface) => format!("{iface}#{}", parsed.name()),
        None => parsed.name().to_owned(),
    };
    let sig = sig_of(&name)?;
    let types: Vec<Type> = sig.params.iter().map(|(_, t)| t.clone()).collect();
    let args = parsed
        .to_wasm_params::<Val>(types.iter())
        .map_err(|e| Error::BadArguments {
            func: name.clone(),
            message: format!("{e}; `{name}` takes ({})", param_list(&sig)),
        })?;
    Ok((name, args))
}

/// Formats results in WAVE: one value alone, several as a tuple.
///
/// # Examples
///
/// ```
/// use wasmtime::component::Val;
///
/// assert_eq!(wasync_host::results_to_wave(&[Val::String("hi".into())])?, r#""hi""#);
/// assert_eq!(wasync_host::results_to_wave(&[])?, "");
/// # Ok::<(), wasync_host::Error>(())
/// ```
pub fn results_to_wave(results: &[Val]) -> Result<String> {
    let one = |v: &Val| {
        wasm_wave::to_string(v)
            .map_err(|e| Error::Other(anyhow::anyhow!("cannot print a result in WAVE: {e}")))
    };
    match results {
        [] => Ok(String::new()),
        [v] => one(v),
        many => {
            let items: Result<Vec<String>> = many.iter().map(one).collect();
            Ok(format!("({})", items?.join(", ")))
        }
    }
}

/// Classifies an error from a call into wasm: a trap (with its message, the
/// guest's panic message if known, and the wasm backtrace) or anything else.
pub fn call_error(
    export: impl std::fmt::Display,
    e: wasmtime::Error,
    panic: Option<String>,
) -> Error {
    // wasmtime's own rendering demangles Rust symbols; drop its header.
    let backtrace = e.downcast_ref::<WasmBacktrace>().map(|bt| {
        bt.to_string()
            .lines()
            .filter(|l| !l.starts_with("error while executing"))
            .collect::<Vec<_>>()
            .join("\n")
    });
    let trap = e.downcast_ref::<Trap>().copied();
    if trap.is_none() && backtrace.is_none() {
        return Error::Other(anyhow::Error::from(e).context(format!("calling `{export}`")));
    }
    // Without a trap code the error came from a host function (such as a
    // resource the guest misused): its root cause says what happened.
    let message = match trap {
        Some(t) => t.to_string(),
        None => e.root_cause().to_string(),
    };
    Error::Trap {
        export: export.to_string(),
        message,
        panic,
        backtrace: backtrace.unwrap_or_default(),
    }
}
