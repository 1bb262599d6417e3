//! The [`Harness`]: one wasmtime `Engine`, one `Linker` with WASI 0.2, and a
//! cache of compiled components keyed by their bytes.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::Path;
use std::sync::{Arc, Mutex};

use wasmtime::component::{Component, InstancePre, Linker};
use wasmtime::{Config, Engine, Store};

use wasync_host::{Limits, WasyncCtx, check_component, read_component, unsatisfied};

use crate::error::{Error, Result};
use crate::host::{HostState, WasiOptions};
use crate::instance::Instance;
use crate::loaded::Loaded;

/// Engine settings. The defaults are the fastest for modes S and C.
#[derive(Debug, Clone, Default)]
pub struct HarnessConfig {
    /// wasmtime's `Config::concurrency_support`. Off by default: with it on,
    /// every synchronous component call goes through wasmtime's concurrent
    /// call machinery, which costs much more per call (wasmtime#12836; see
    /// `docs/benchmarks.md`), and modes S and C do not need it.
    pub concurrency_support: bool,
    /// Compiles guests so that a call timeout can stop them (wasmtime's
    /// epoch interruption, ticked every 10 ms by a background thread). Off
    /// by default, since it costs a little on every loop iteration of every
    /// guest; on whenever `limits` has a call timeout.
    pub time_limits: bool,
    /// Compiles guests to count fuel, so that a fuel limit can stop them.
    /// Off by default (it costs more than `time_limits`); on whenever
    /// `limits` has a fuel limit.
    pub fuel: bool,
    /// The limits every instance gets, in modes S and C, unless it is
    /// given its own ([`Harness::instantiate_with_limits`],
    /// [`Harness::concurrent_with_limits`]).
    pub limits: Limits,
    /// Writes `/tmp/perf-<pid>.map` as guests are compiled, so that `perf`
    /// names the guest's functions instead of showing bare addresses
    /// (wasmtime's `ProfilingStrategy::PerfMap`). Also on when the
    /// environment says `WASYNC_PERFMAP=1`, which reaches harnesses that
    /// the benchmarks make for themselves, and their child processes.
    pub perfmap: bool,
}

/// The environment variable that turns on [`HarnessConfig::perfmap`].
pub const PERFMAP_ENV: &str = "WASYNC_PERFMAP";

impl HarnessConfig {
    /// Whether the engine can enforce call timeouts.
    fn epochs(&self) -> bool {
        self.time_limits || self.limits.call_timeout.is_some()
    }

    /// Whether the engine can enforce fuel limits.
    fn counts_fuel(&self) -> bool {
        self.fuel || self.limits.fuel.is_some()
    }

    /// Whether the engine writes a perf map: the setting, or
    /// [`PERFMAP_ENV`], whose only values are `1` and `0` (or empty).
    fn wants_perfmap(&self) -> Result<bool> {
        match std::env::var(PERFMAP_ENV).as_deref() {
            _ if self.perfmap => Ok(true),
            Err(_) | Ok("" | "0") => Ok(false),
            Ok("1") => Ok(true),
            Ok(other) => Err(Error::Config(format!(
                "{PERFMAP_ENV}={other}: expected 1 (write a perf map) or 0"
            ))),
        }
    }
}

/// A compiled component and the bytes it was compiled from.
type CacheEntry = (Arc<[u8]>, Component);

struct Inner {
    engine: Engine,
    linker: Linker<HostState>,
    /// Mode N components: `concurrency_support` on, WASI 0.2 and 0.3.
    native_engine: Engine,
    native_linker: Linker<HostState>,
    config: HarnessConfig,
    /// Compiled components by content. Keyed by a hash, confirmed by the
    /// bytes themselves so that a collision can never alias two components.
    cache: Mutex<HashMap<u64, Vec<CacheEntry>>>,
}

/// Loads, compiles, links and instantiates components. Clone it freely: all
/// clones share one engine and one compile cache.
#[derive(Clone)]
pub struct Harness {
    inner: Arc<Inner>,
}

impl Harness {
    /// A harness with the default [`HarnessConfig`].
    pub fn new() -> Result<Harness> {
        Harness::with_config(HarnessConfig::default())
    }

    /// A harness with explicit engine settings.
    pub fn with_config(config: HarnessConfig) -> Result<Harness> {
        let engine = new_engine(&config, config.concurrency_support)?;
        // Mode N needs wasmtime's concurrency support; modes S and C are
        // faster without it, so they keep an engine of their own.
        let native_engine = new_engine(&config, true)?;
        let linker = new_linker(&engine)?;
        let mut native_linker = new_linker(&native_engine)?;
        wasmtime_wasi::p3::add_to_linker(&mut native_linker)
            .map_err(|e| Error::Config(format!("cannot link WASI 0.3: {e}")))?;
        wasmtime_wasi_http::p3::add_to_linker(&mut native_linker)
            .map_err(|e| Error::Config(format!("cannot link wasi:http 0.3: {e}")))?;
        crate::clock::count_wait_until(&mut native_linker)
            .map_err(|e| Error::Config(format!("cannot wrap wait-until: {e}")))?;
        Ok(Harness {
            inner: Arc::new(Inner {
                engine,
                linker,
                native_engine,
                native_linker,
                config,
                cache: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The engine every component of this harness is compiled for.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// The engine settings.
    pub fn config(&self) -> &HarnessConfig {
        &self.inner.config
    }

    /// The linker with everything the harness provides to guests of
    /// modes S and C.
    pub fn linker(&self) -> &Linker<HostState> {
        &self.inner.linker
    }

    /// The engine mode N (native WASI 0.3) components are compiled for:
    /// `concurrency_support` on.
    pub fn native_engine(&self) -> &Engine {
        &self.inner.native_engine
    }

    /// The linker of mode N components: WASI 0.2 and 0.3, wasi:http 0.2
    /// and 0.3.
    pub fn native_linker(&self) -> &Linker<HostState> {
        &self.inner.native_linker
    }

    /// The linker for `loaded`'s engine.
    fn linker_for(&self, loaded: &Loaded) -> &Linker<HostState> {
        if loaded.is_native() {
            &self.inner.native_linker
        } else {
            &self.inner.linker
        }
    }

    /// How many distinct components this harness has compiled.
    pub fn cached_components(&self) -> usize {
        let cache = self.inner.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.values().map(Vec::len).sum()
    }

    /// Reads and compiles a component without checking its imports, for
    /// components whose imports another component will satisfy.
    pub fn compile(&self, path: impl AsRef<Path>) -> Result<Loaded> {
        let path = path.as_ref();
        self.compile_bytes(path, &read_component(path)?)
    }

    /// [`Harness::compile`] for bytes already in memory; `origin` names
    /// them in messages.
    pub fn compile_bytes(&self, origin: impl AsRef<Path>, bytes: &[u8]) -> Result<Loaded> {
        let origin = origin.as_ref();
        check_component(origin, bytes)?;
        let name = origin.display().to_string();
        let mut h = DefaultHasher::new();
        bytes.hash(&mut h);
        let key = h.finish();
        let cache = || self.inner.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(hit) = cache()
            .get(&key)
            .and_then(|list| list.iter().find(|(b, _)| **b == *bytes))
        {
            let native = Engine::same(hit.1.engine(), &self.inner.native_engine);
            return Ok(Loaded {
                name,
                component: hit.1.clone(),
                native,
            });
        }
        // Mode N components use the 0.3 async ABI, which needs the engine
        // with concurrency support.
        let native = wasync_host::uses_native_async(bytes);
        let engine = if native {
            &self.inner.native_engine
        } else {
            &self.inner.engine
        };
        let component = Component::new(engine, bytes).map_err(|e| Error::InvalidComponent {
            path: origin.to_owned(),
            message: format!("{e:#}"),
        })?;
        cache()
            .entry(key)
            .or_default()
            .push((Arc::from(bytes), component.clone()));
        Ok(Loaded {
            name,
            component,
            native,
        })
    }

    /// Reads, compiles and checks a component: every import must be one the
    /// harness can provide.
    pub fn load(&self, path: impl AsRef<Path>) -> Result<Loaded> {
        let loaded = self.compile(path)?;
        self.check_imports(&loaded)?;
        Ok(loaded)
    }

    /// Fails with [`Error::UnsatisfiedImport`] naming the first import the
    /// harness's linker does not define (or defines with another type).
    pub fn check_imports(&self, loaded: &Loaded) -> Result<()> {
        match self.linker_for(loaded).instantiate_pre(&loaded.component) {
            Ok(_) => Ok(()),
            Err(e) => Err(unsatisfied(&e)),
        }
    }

    /// Instantiates `loaded` in a new store with the given WASI
    /// capabilities, held to the harness's [`HarnessConfig::limits`].
    pub async fn instantiate(&self, loaded: &Loaded, opts: &WasiOptions) -> Result<Instance> {
        self.instantiate_with_limits(loaded, opts, self.inner.config.limits)
            .await
    }

    /// The linker's pre-instantiation of `loaded` (on the linker of its
    /// engine), or the first import it cannot satisfy.
    pub(crate) fn instance_pre(&self, loaded: &Loaded) -> Result<InstancePre<HostState>> {
        self.linker_for(loaded)
            .instantiate_pre(&loaded.component)
            .map_err(|e| unsatisfied(&e))
    }

    /// `MissingExport` for `name`, listing the functions `loaded` does
    /// export.
    pub(crate) fn missing_export(&self, loaded: &Loaded, name: &str) -> Error {
        Error::MissingExport {
            name: name.to_owned(),
            available: wasync_host::exported_funcs(loaded.component().engine(), loaded.component())
                .into_iter()
                .map(|(n, _)| n)
                .collect(),
        }
    }

    /// A new store with the given WASI capabilities, held to the harness's
    /// [`HarnessConfig::limits`] (memory and fuel; a call timeout applies
    /// where an entry is armed with `wasync_host::begin_entry`).
    pub(crate) fn new_store(
        &self,
        engine: &Engine,
        opts: &WasiOptions,
    ) -> Result<Store<HostState>> {
        let mut state = HostState::new(opts)?;
        state.wasync = WasyncCtx::with_limits(self.inner.config.limits);
        let mut store = Store::new(engine, state);
        wasync_host::apply_limits(&mut store)?;
        Ok(store)
    }

    /// [`Harness::instantiate`] with limits of its own. A limit the
    /// harness's engine cannot enforce (a call timeout without
    /// [`HarnessConfig::time_limits`], fuel without
    /// [`HarnessConfig::fuel`]) is an [`Error::Config`].
    pub async fn instantiate_with_limits(
        &self,
        loaded: &Loaded,
        opts: &WasiOptions,
        limits: Limits,
    ) -> Result<Instance> {
        let pre = self.instance_pre(loaded)?;
        let mut state = HostState::new(opts)?;
        state.wasync = WasyncCtx::with_limits(limits);
        let mut store = Store::new(loaded.component.engine(), state);
        wasync_host::apply_limits(&mut store)?;
        let timeout = wasync_host::begin_entry(&mut store)?;
        let instance = wasync_host::run_entry(timeout, pre.instantiate_async(&mut store)).await;
        wasync_host::end_entry(&mut store);
        let instance = instance.map_err(|e| {
            wasync_host::entry_error(&mut store, &loaded.name, "<instantiation>", e)
        })?;
        Ok(Instance::new(store, instance, loaded.clone()))
    }
}

/// An engine with the harness's settings; `concurrency_support` as asked.
fn new_engine(config: &HarnessConfig, concurrency_support: bool) -> Result<Engine> {
    let mut cfg = Config::new();
    cfg.wasm_component_model(true)
        .concurrency_support(concurrency_support)
        .epoch_interruption(config.epochs())
        .consume_fuel(config.counts_fuel());
    if config.wants_perfmap()? {
        cfg.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    let engine = Engine::new(&cfg).map_err(|e| Error::Config(e.to_string()))?;
    if config.epochs() {
        wasync_host::start_epoch_ticker(&engine)?;
    }
    Ok(engine)
}

/// A linker with WASI 0.2 and wasi:http 0.2, its `wasi:io/poll` counted.
fn new_linker(engine: &Engine) -> Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)
        .map_err(|e| Error::Config(format!("cannot link WASI: {e}")))?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)
        .map_err(|e| Error::Config(format!("cannot link wasi:http: {e}")))?;
    crate::poll_counters::instrument(&mut linker, |s: &mut HostState| {
        (&mut s.table, &mut s.polls)
    })
    .map_err(|e| Error::Config(format!("cannot wrap wasi:io/poll: {e}")))?;
    Ok(linker)
}
