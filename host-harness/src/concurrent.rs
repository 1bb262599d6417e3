//! The mode C host of `wasync-host`, over the harness's store data
//! ([`HostState`]): each instance gets the WASI capabilities of the
//! [`WasiOptions`] it was made with.

pub use wasync_host::{Call, HostStats, InstanceId, TraceEvent, TypedExport};

use wasync_host::{Limits, WasyncCtx};

use crate::error::Result;
use crate::{Harness, HostState, Loaded, WasiOptions};

/// A mode C host whose instances have the harness's store data.
pub type Concurrent = wasync_host::Concurrent<HostState>;
/// Sends calls to a running [`Concurrent`] host.
pub type Driver = wasync_host::Driver<HostState>;

impl Harness {
    /// A mode C host on this harness's engine and linker, whose instances
    /// each get a store with the capabilities of `opts`.
    pub fn concurrent(&self, opts: &WasiOptions) -> Result<Concurrent> {
        let limits = self.config().limits;
        self.concurrent_with_limits(opts, move |_| limits)
    }

    /// [`Harness::concurrent`] with each instance's limits given by
    /// `limits_of`, from the instance's name.
    pub fn concurrent_with_limits(
        &self,
        opts: &WasiOptions,
        mut limits_of: impl FnMut(&str) -> Limits + Send + 'static,
    ) -> Result<Concurrent> {
        let opts = opts.clone();
        let host = Concurrent::new(self.engine(), self.linker(), move |name| {
            let mut state = HostState::new(&opts)?;
            state.wasync = WasyncCtx::with_limits(limits_of(name));
            Ok(state)
        })?;
        Ok(host.with_native(self.native_engine(), self.native_linker()))
    }
}

/// Whether `loaded` is a mode C component (it exports `wasync:abi/guest`).
pub fn speaks_wasync_abi(harness: &Harness, loaded: &Loaded) -> bool {
    wasync_host::speaks_wasync_abi(harness.engine(), loaded.component())
}

/// The trace as a JSON array.
pub fn trace_json(events: &[TraceEvent]) -> String {
    serde_json::to_string_pretty(events).unwrap_or_else(|_| "[]".to_owned())
}
