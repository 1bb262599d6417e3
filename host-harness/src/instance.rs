//! One instantiated component in its own store: calling exports by name,
//! with typed values or WAVE text, and turning traps into errors.

use wasmtime::component::{Func, Instance as WasmInstance, Val};
use wasmtime::{Engine, Store};
use wasync_host::{
    Limits, Signature, begin_entry, check_args, end_entry, entry_error, exported_funcs,
    lookup_func, parse_call, run_entry, signature,
};

use crate::error::{Error, ErrorKind, Result};
use crate::host::HostState;
use crate::loaded::Loaded;
use crate::output::Output;

/// Every exported function of a component, as the names [`Instance::call`]
/// accepts: `f` for root functions, `ns:pkg/iface#f` inside interfaces.
pub fn exported_functions(engine: &Engine, loaded: &Loaded) -> Vec<String> {
    exported_funcs(engine, loaded.component())
        .into_iter()
        .map(|(name, _)| name)
        .collect()
}

/// An instance and the store it lives in.
pub struct Instance {
    store: Store<HostState>,
    instance: WasmInstance,
    loaded: Loaded,
    /// Set by the first trap: the instance must not be entered again.
    dead: Option<String>,
}

impl Instance {
    pub(crate) fn new(store: Store<HostState>, instance: WasmInstance, loaded: Loaded) -> Instance {
        Instance {
            store,
            instance,
            loaded,
            dead: None,
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

    /// Holds the instance's next calls to `limits` (the memory limit from
    /// its next growth on). A limit the harness's engine cannot enforce is
    /// an [`Error::Config`]; see [`HarnessConfig`](crate::HarnessConfig).
    /// An instance takes one call at a time, so `max_calls` means nothing
    /// here; it counts in a mode C host
    /// ([`Harness::concurrent`](crate::Harness::concurrent)).
    pub fn set_limits(&mut self, limits: Limits) -> Result<()> {
        self.store.data_mut().wasync.set_limits(limits);
        wasync_host::apply_limits(&mut self.store)
    }

    /// The limits the instance is held to.
    pub fn limits(&self) -> Limits {
        *self.store.data().wasync.limits()
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
        lookup_func(
            &mut self.store,
            &self.instance,
            self.loaded.component(),
            name,
        )
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
        let timeout = begin_entry(&mut self.store)?;
        let out = run_entry(
            timeout,
            func.call_async(&mut self.store, args, &mut results),
        )
        .await;
        end_entry(&mut self.store);
        match out {
            Ok(()) => Ok(results),
            Err(e) => {
                let err = entry_error(&mut self.store, &self.loaded.name, name, e);
                if matches!(err.kind(), ErrorKind::Trap | ErrorKind::Limit) {
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
