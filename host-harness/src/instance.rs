//! One instantiated component in its own store: calling exports by name,
//! with typed values or WAVE text, and turning traps into errors.

use wasmtime::component::{Func, Instance as WasmInstance, Val};
use wasmtime::{Engine, Store};
use wasync_host::{
    Signature, WasyncView, call_error, check_args, exported_funcs, lookup_func, parse_call,
    signature,
};

use crate::error::{Error, Result};
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

/// How often the epoch advances when time limits are on.
pub(crate) const EPOCH_TICK: std::time::Duration = std::time::Duration::from_millis(10);

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
            Some(l) => (l.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64,
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
        match func.call_async(&mut self.store, args, &mut results).await {
            Ok(()) => Ok(results),
            Err(e) => {
                let err = call_error(name, e, self.store.data().panic_message());
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
