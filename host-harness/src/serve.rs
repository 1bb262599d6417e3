//! Serving a `wasi:http` proxy component (one that exports
//! `wasi:http/incoming-handler@0.2`) over HTTP/1.1 on a local address, as
//! `wasmtime serve` does: each request gets a fresh instance in a store of
//! its own, so requests run in parallel and a trap ends only its request.
//!
//! The response's head goes to the client as soon as the guest sets it,
//! and the body streams while the guest writes it. The server counts the
//! requests it served and the instances it made, which `bench http`
//! reports.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasync_host::WasyncView;

use crate::error::{Error, Result};
use crate::host::HostState;
use crate::{Harness, Loaded, WasiOptions};

/// What a running server did so far.
///
/// # Examples
///
/// ```no_run
/// # fn demo(server: &wasync_harness::serve::Server) {
/// use std::sync::atomic::Ordering;
///
/// let stats = server.stats();
/// println!(
///     "{} requests, {} instances",
///     stats.requests.load(Ordering::Relaxed),
///     stats.instances.load(Ordering::Relaxed)
/// );
/// # }
/// ```
#[derive(Debug, Default)]
pub struct ServeStats {
    /// Requests that reached the component.
    pub requests: AtomicU64,
    /// Instances made (one per request).
    pub instances: AtomicU64,
    /// Requests that failed in the host or the guest (a trap, no
    /// response): answered `500`.
    pub failures: AtomicU64,
}

/// A running server; it stops when this is dropped.
///
/// # Examples
///
/// ```no_run
/// # async fn demo() -> wasync_harness::Result<()> {
/// use wasync_harness::{Harness, WasiOptions};
///
/// let harness = Harness::new()?;
/// let service = harness.load("http-service.wasm")?;
/// let server = harness
///     .serve(&service, "127.0.0.1:0".parse().unwrap(), &WasiOptions::captured())
///     .await?;
/// println!("try {}/hello", server.url());
/// # Ok(()) }
/// ```
pub struct Server {
    addr: SocketAddr,
    stats: Arc<ServeStats>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    /// The address it listens on.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn demo(server: &wasync_harness::serve::Server) {
    /// let port = server.addr().port();
    /// # }
    /// ```
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`, to prefix paths with.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn demo(server: &wasync_harness::serve::Server) {
    /// let hello = format!("{}/hello", server.url());
    /// # }
    /// ```
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What it served so far.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn demo(server: &wasync_harness::serve::Server) {
    /// let failures = server.stats().failures.load(std::sync::atomic::Ordering::Relaxed);
    /// # }
    /// ```
    pub fn stats(&self) -> &ServeStats {
        &self.stats
    }
}

/// Whether `loaded` is an HTTP proxy (exports `wasi:http/incoming-handler`).
///
/// # Examples
///
/// ```no_run
/// # fn demo() -> wasync_harness::Result<()> {
/// let harness = wasync_harness::Harness::new()?;
/// let loaded = harness.load("service.wasm")?;
/// assert!(wasync_harness::serve::is_proxy(&loaded));
/// # Ok(()) }
/// ```
pub fn is_proxy(loaded: &Loaded) -> bool {
    wasync_host::exported_funcs(loaded.component().engine(), loaded.component())
        .iter()
        .any(|(name, _)| {
            name.starts_with("wasi:http/incoming-handler") && name.ends_with("#handle")
        })
}

struct Shared {
    harness: Harness,
    pre: ProxyPre<HostState>,
    wasi: WasiOptions,
    stats: Arc<ServeStats>,
}

impl Harness {
    /// Serves the proxy component `loaded` on `addr` (port 0 picks a free
    /// port) with `wasi` as every instance's capabilities. A component that
    /// does not export `wasi:http/incoming-handler` is a `MissingExport`
    /// error.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo() -> wasync_harness::Result<()> {
    /// use wasync_harness::{Harness, HttpAccess, WasiOptions};
    ///
    /// let harness = Harness::new()?;
    /// let service = harness.load("service.wasm")?;
    /// // Its instances may call loopback HTTP servers themselves.
    /// let wasi = WasiOptions { http: HttpAccess::Loopback, ..WasiOptions::default() };
    /// let server = harness.serve(&service, "127.0.0.1:8080".parse().unwrap(), &wasi).await?;
    /// # Ok(()) }
    /// ```
    pub async fn serve(
        &self,
        loaded: &Loaded,
        addr: SocketAddr,
        wasi: &WasiOptions,
    ) -> Result<Server> {
        if !is_proxy(loaded) {
            return Err(self.missing_export(loaded, "wasi:http/incoming-handler#handle"));
        }
        let pre = ProxyPre::new(self.instance_pre(loaded)?)
            .map_err(|e| Error::Other(anyhow::Error::from(e).context("loading the proxy")))?;
        // A bad option (a directory that does not exist) fails here, not
        // at the first request.
        drop(self.new_store(loaded.component().engine(), wasi)?);
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| Error::Config(format!("cannot listen on {addr}: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::Config(format!("cannot listen on {addr}: {e}")))?;
        let stats = Arc::new(ServeStats::default());
        let shared = Arc::new(Shared {
            harness: self.clone(),
            pre,
            wasi: wasi.clone(),
            stats: stats.clone(),
        });
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let shared = shared.clone();
                        async move { Ok::<_, std::convert::Infallible>(handle(&shared, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Server { addr, stats, task })
    }
}

/// Serves one request in a new instance; a failure becomes a `500` whose
/// body says what went wrong.
async fn handle(
    shared: &Shared,
    req: hyper::Request<Incoming>,
) -> hyper::Response<HyperOutgoingBody> {
    shared.stats.requests.fetch_add(1, Ordering::Relaxed);
    match try_handle(shared, req).await {
        Ok(resp) => resp,
        Err(message) => {
            shared.stats.failures.fetch_add(1, Ordering::Relaxed);
            let body = Full::new(bytes::Bytes::from(format!("{message}\n")))
                .map_err(|never| match never {})
                .boxed_unsync();
            let mut r = hyper::Response::new(body);
            *r.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
            r
        }
    }
}

async fn try_handle(
    shared: &Shared,
    req: hyper::Request<Incoming>,
) -> std::result::Result<hyper::Response<HyperOutgoingBody>, String> {
    let mut store = shared
        .harness
        .new_store(shared.pre.engine(), &shared.wasi)
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
    let pre = shared.pre.clone();
    let stats = shared.stats.clone();
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
