//! Serving a `wasi:http/incoming-handler@0.2` proxy: each request gets a
//! fresh instance in a store of its own, as `wasmtime serve` does for 0.2,
//! so requests run in parallel and a trap ends only its request.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use hyper::body::Incoming;
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasync_host::WasyncView;

use super::ServeStats;
use crate::{Harness, WasiOptions};

/// What every request of a 0.2 proxy needs.
pub(super) struct Proxy {
    pub harness: Harness,
    pub pre: ProxyPre<crate::HostState>,
    pub wasi: WasiOptions,
    pub stats: Arc<ServeStats>,
}

impl Proxy {
    /// Serves `req` in a new instance; the error says why there is no
    /// response.
    pub async fn handle(
        &self,
        req: hyper::Request<Incoming>,
    ) -> Result<hyper::Response<HyperOutgoingBody>, String> {
        let mut store = self
            .harness
            .new_store(self.pre.engine(), &self.wasi)
            .map_err(|e| e.to_string())?;
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let req = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, req)
            .map_err(|e| format!("cannot pass the request to the guest: {e}"))?;
        let out = store
            .data_mut()
            .http()
            .new_response_outparam(sender)
            .map_err(|e| format!("cannot pass the request to the guest: {e}"))?;
        let pre = self.pre.clone();
        let stats = self.stats.clone();
        // The call runs on: it writes the body after the head went out.
        let call = tokio::spawn(async move {
            let proxy = match pre.instantiate_async(&mut store).await {
                Ok(p) => p,
                Err(e) => {
                    let panic = store.data().panic_message();
                    return Err(wasync_host::call_error("<instantiation>", e, panic).to_string());
                }
            };
            stats.instances.fetch_add(1, Ordering::Relaxed);
            let result = proxy
                .wasi_http_incoming_handler()
                .call_handle(&mut store, req, out)
                .await;
            result.map_err(|e| {
                let panic = store.data().panic_message();
                wasync_host::call_error("wasi:http/incoming-handler#handle", e, panic).to_string()
            })
        });
        match receiver.await {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(code)) => Err(format!("the guest answered with an error: {code:?}")),
            // The guest returned (or trapped) without setting a response.
            Err(_) => match call.await {
                Ok(Ok(())) => Err("the guest returned without setting a response".to_owned()),
                Ok(Err(message)) => Err(message),
                Err(e) => Err(format!("the guest's task failed: {e}")),
            },
        }
    }
}
