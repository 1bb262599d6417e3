//! One instantiated component in its own store: calling exports by name,
//! with typed values or WAVE text, and turning traps into errors.

use wasmtime::component::types::{ComponentFunc, ComponentItem};
use wasmtime::component::{Func, Instance as WasmInstance, Type, Val};
use wasmtime::{AsContext, Engine, Store, Trap, WasmBacktrace};

use crate::error::{Error, Result};
use crate::harness::Loaded;
use crate::host::HostState;
use crate::output::{Output, panic_message};
use crate::typecheck;

/// A function's parameter names and types, and its result types.
#[derive(Debug, Clone)]
pub struct Signature {
    pub params: Vec<(String, Type)>,
    pub results: Vec<Type>,
}

/// Every exported function of a component, as the names [`Instance::call`]
/// accepts: `f` for root functions, `ns:pkg/iface#f` inside interfaces.
pub fn exported_functions(engine: &Engine, loaded: &Loaded) -> Vec<String> {
    exported_funcs(engine, loaded)
        .into_iter()
        .map(|(name, _)| name)
        .collect()
}

/// [`exported_functions`] with each function's type.
pub(crate) fn exported_funcs(engine: &Engine, loaded: &Loaded) -> Vec<(String, ComponentFunc)> {
    let mut funcs = Vec::new();
    for (name, export) in loaded.component.component_type().exports(engine) {
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

impl Signature {
    pub(crate) fn of(ty: &ComponentFunc) -> Signature {
        Signature {
            params: ty.params().map(|(n, t)| (n.to_owned(), t)).collect(),
            results: ty.results().collect(),
        }
    }
}

/// An instance and the store it lives in.
pub struct Instance {
    store: Store<HostState>,
    instance: WasmInstance,
    loaded: Loaded,
    /// Set by the first trap: the instance must not be entered again.
    dead: Option<String>,
    time_limits: bool,
}

impl Instance {
    pub(crate) fn new(
        store: Store<HostState>,
        instance: WasmInstance,
        loaded: Loaded,
        time_limits: bool,
    ) -> Instance {
        Instance {
            store,
            instance,
            loaded,
            dead: None,
            time_limits,
        }
    }

    /// The component this is an instance of.
    pub fn loaded(&self) -> &Loaded {
        &self.loaded
    }

    /// The guest's stdout (all of it when captured).
    pub fn stdout(&self) -> Output {
        self.store.data().stdout.clone()
    }

    /// The guest's stderr (all of it when captured).
    pub fn stderr(&self) -> Output {
        self.store.data().stderr.clone()
    }

    /// Stops any call that runs past `limit` from now with a trap, if the
    /// harness was made with [`HarnessConfig::time_limits`]; `None` lifts
    /// the limit. Returns whether limits are available.
    ///
    /// [`HarnessConfig::time_limits`]: crate::HarnessConfig::time_limits
    pub fn set_time_limit(&mut self, limit: Option<std::time::Duration>) -> bool {
        if !self.time_limits {
            return false;
        }
        let ticks = match limit {
            Some(l) => (l.as_millis() / crate::harness::EPOCH_TICK.as_millis()).max(1) as u64,
            None => u64::MAX / 2,
        };
        self.store.set_epoch_deadline(ticks);
        true
    }

    /// What this instance asked of `wasi:io/poll` so far.
    pub fn poll_counters(&self) -> crate::PollCounters {
        self.store.data().poll_counters()
    }

    /// Zeroes the `wasi:io/poll` counters.
    pub fn reset_poll_counters(&mut self) {
        self.store.data_mut().polls = Default::default();
    }

    /// The store, for embedders that need wasmtime directly.
    pub fn store_mut(&mut self) -> &mut Store<HostState> {
        &mut self.store
    }

    /// The wasmtime instance.
    pub fn raw(&self) -> WasmInstance {
        self.instance
    }

    /// Looks up an exported function by name.
    pub fn func(&mut self, name: &str) -> Result<Func> {
        lookup_func(&mut self.store, &self.instance, &self.loaded, name)
    }

    /// The signature of an exported function.
    pub fn signature(&mut self, name: &str) -> Result<Signature> {
        let func = self.func(name)?;
        Ok(signature(&self.store, &func))
    }

    /// Calls an export with typed arguments and returns its results.
    pub async fn call(&mut self, name: &str, args: &[Val]) -> Result<Vec<Val>> {
        if let Some(first) = &self.dead {
            return Err(Error::InstanceDead {
                first: first.clone(),
            });
        }
        let func = self.func(name)?;
        let sig = signature(&self.store, &func);
        check_args(name, &sig, args)?;
        let mut results = vec![Val::Bool(false); sig.results.len()];
        match func.call_async(&mut self.store, args, &mut results).await {
            Ok(()) => Ok(results),
            Err(e) => {
                let err = call_error(name, e, &self.store);
                if err.kind() == crate::ErrorKind::Trap {
                    self.dead = Some(err.headline());
                }
                Err(err)
            }
        }
    }

    /// Calls `name(args…)` written in WAVE, the syntax of
    /// `wasmtime run --invoke`, and returns the results.
    pub async fn call_wave(&mut self, call: &str) -> Result<Vec<Val>> {
        let (name, args) = self.parse_call(call)?;
        self.call(&name, &args).await
    }

    /// Parses a WAVE call against this instance's exports.
    pub fn parse_call(&mut self, call: &str) -> Result<(String, Vec<Val>)> {
        parse_call(call, |name| self.signature(name))
    }
}

/// Resolves `name` (`f` or `iface#f`) to a function of `instance`.
pub(crate) fn lookup_func(
    store: &mut Store<HostState>,
    instance: &WasmInstance,
    loaded: &Loaded,
    name: &str,
) -> Result<Func> {
    let missing = |store: &Store<HostState>| Error::MissingExport {
        name: name.to_owned(),
        available: exported_functions(store.engine(), loaded),
    };
    let index = match name.rsplit_once('#') {
        Some((iface, func)) => {
            let iface = instance
                .get_export_index(&mut *store, None, iface)
                .ok_or_else(|| missing(store))?;
            instance.get_export_index(&mut *store, Some(&iface), func)
        }
        None => instance.get_export_index(&mut *store, None, name),
    }
    .ok_or_else(|| missing(store))?;
    instance
        .get_func(&mut *store, index)
        .ok_or_else(|| Error::NotAFunction {
            name: name.to_owned(),
        })
}

pub(crate) fn signature(store: impl AsContext, func: &Func) -> Signature {
    Signature::of(&func.ty(&store))
}

pub(crate) fn check_args(name: &str, sig: &Signature, args: &[Val]) -> Result<()> {
    let bad = |message: String| Error::BadArguments {
        func: name.to_owned(),
        message,
    };
    if sig.params.len() != args.len() {
        let expected: Vec<String> = sig
            .params
            .iter()
            .map(|(n, t)| format!("{n}: {}", typecheck::type_name(t)))
            .collect();
        return Err(bad(format!(
            "expected {} argument(s) ({}), got {}",
            sig.params.len(),
            expected.join(", "),
            args.len()
        )));
    }
    for ((pname, ty), arg) in sig.params.iter().zip(args) {
        typecheck::check(pname, ty, arg).map_err(bad)?;
    }
    Ok(())
}

/// Parses `name(args…)` in WAVE, typing the arguments with the signature
/// `sig_of` finds for `name`.
pub(crate) fn parse_call(
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
    let args = parsed.to_wasm_params::<Val>(types.iter()).map_err(|e| {
        let expected: Vec<String> = sig
            .params
            .iter()
            .map(|(n, t)| format!("{n}: {}", typecheck::type_name(t)))
            .collect();
        Error::BadArguments {
            func: name.clone(),
            message: format!("{e}; `{name}` takes ({})", expected.join(", ")),
        }
    })?;
    Ok((name, args))
}

/// Formats results in WAVE: one value alone, several as a tuple.
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

/// Classifies an error from a call into wasm: a trap (with its message,
/// the guest's panic message and the wasm backtrace) or anything else.
pub(crate) fn call_error(
    export: impl std::fmt::Display,
    e: wasmtime::Error,
    store: &Store<HostState>,
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
        panic: panic_message(&store.data().stderr.text()),
        backtrace: backtrace.unwrap_or_default(),
    }
}
