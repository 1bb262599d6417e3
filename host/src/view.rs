//! What the wasync host needs from the embedder's store data, in the manner
//! of wasmtime-wasi's `WasiView`: the store data holds a
//! [`crate::WasyncCtx`] and a resource table, and says where
//! they are.

use wasmtime::component::ResourceTable;

use crate::state::WasyncCtx;

/// Borrowed views of the wasync context and the resource table of a store.
///
/// The table is the one every host interface of the store shares (WASI's
/// included): the pollables a mode C guest parks are its entries.
pub struct WasyncCtxView<'a> {
    /// The wasync state of the instance.
    pub ctx: &'a mut WasyncCtx,
    /// The store's resource table.
    pub table: &'a mut ResourceTable,
}

/// Store data that a wasync host can drive. Implement it for your store
/// data type; see [`WasyncCtx`] for an example.
pub trait WasyncView: Send + 'static {
    /// The wasync context and the resource table of this store.
    fn wasync(&mut self) -> WasyncCtxView<'_>;

    /// What the guest printed when it panicked, if the embedder keeps its
    /// stderr: a trap then carries it (see [`crate::Error::Trap`]). The
    /// default keeps nothing.
    fn panic_message(&self) -> Option<String> {
        None
    }
}
