//! Serving an HTTP component over HTTP/1.1 on a local address, as
//! `wasmtime serve` does, in either of its two shapes:
//!
//! - a `wasi:http/incoming-handler@0.2` proxy (modes S and C): each request
//!   gets a fresh instance in a store of its own (`p2.rs`);
//! - a `wasi:http/handler@0.3` service (mode N): an instance takes up to
//!   [`MAX_CONCURRENT`] requests at once, and a new one is made when every
//!   instance is full or one has trapped (`p3.rs`).
//!
//! Either way requests run in parallel, a trap answers `500` and ends only
//! its instance, the response's head goes to the client as soon as the
//! guest sets it, and both bodies stream. The server counts the requests it
//! served and the instances it made, which `bench http` reports.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use wasmtime_wasi_http::WasiBody;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p3::bindings::ServicePre;

use crate::error::{Error, Result};
use crate::{Harness, Loaded, WasiOptions};

mod p2;
mod p3;

pub use p3::{IDLE, MAX_CONCURRENT, MAX_REQUESTS};

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
    /// Instances made: one per request for a 0.2 proxy; for a 0.3
    /// service, one per up to [`MAX_CONCURRENT`] overlapping requests.
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
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
        if let Backend::P3(pool) = &self.shared.backend {
            pool.close();
        }
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
        &self.shared.stats
    }
}

/// Whether `loaded` is a 0.2 HTTP proxy (exports
/// `wasi:http/incoming-handler`).
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

/// Whether `loaded` is a 0.3 HTTP service (exports `wasi:http/handler@0.3`,
/// as `#[wasync::http_service]` does in mode N).
///
/// # Examples
///
/// ```no_run
/// # fn demo() -> wasync_harness::Result<()> {
/// let harness = wasync_harness::Harness::new()?;
/// let loaded = harness.load("service-n.wasm")?;
/// assert!(wasync_harness::serve::is_service(&loaded));
/// # Ok(()) }
/// ```
pub fn is_service(loaded: &Loaded) -> bool {
    loaded.is_native()
        && wasync_host::exported_funcs(loaded.component().engine(), loaded.component())
            .iter()
            .any(|(name, _)| name.starts_with("wasi:http/handler@0.3") && name.ends_with("#handle"))
}

/// The two shapes of HTTP component, ready to serve.
enum Backend {
    P2(p2::Proxy),
    P3(Arc<p3::Pool>),
}

impl Backend {
    async fn handle(
        &self,
        req: hyper::Request<Incoming>,
    ) -> std::result::Result<hyper::Response<WasiBody>, String> {
        match self {
            Backend::P2(proxy) => proxy.handle(req).await,
            Backend::P3(pool) => pool.handle(req).await,
        }
    }
}

struct Shared {
    backend: Backend,
    stats: Arc<ServeStats>,
}

impl Harness {
    /// Serves the HTTP component `loaded` on `addr` (port 0 picks a free
    /// port) with `wasi` as every instance's capabilities, and the
    /// harness's limits. A 0.3 service (mode N) shares instances between
    /// overlapping requests; a 0.2 proxy gets one instance per request. A
    /// component that exports neither `wasi:http/handler@0.3` nor
    /// `wasi:http/incoming-handler@0.2` is a `MissingExport` error.
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
        let loading =
            |e| Error::Other(anyhow::Error::from(e).context("loading the HTTP component"));
        let stats = Arc::new(ServeStats::default());
        let backend = if is_service(loaded) {
            let pre = ServicePre::new(self.instance_pre(loaded)?).map_err(loading)?;
            Backend::P3(Arc::new(p3::Pool::new(
                self.clone(),
                pre,
                wasi.clone(),
                stats.clone(),
                loaded.name.clone(),
            )))
        } else if is_proxy(loaded) {
            Backend::P2(p2::Proxy {
                harness: self.clone(),
                pre: ProxyPre::new(self.instance_pre(loaded)?).map_err(loading)?,
                wasi: wasi.clone(),
                stats: stats.clone(),
            })
        } else {
            return Err(self.missing_export(
                loaded,
                "wasi:http/incoming-handler#handle (0.2) or wasi:http/handler#handle (0.3)",
            ));
        };
        // A bad option (a directory that does not exist) fails here, not
        // at the first request.
        drop(self.new_store(loaded.component().engine(), wasi)?);
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| Error::Config(format!("cannot listen on {addr}: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::Config(format!("cannot listen on {addr}: {e}")))?;
        let shared = Arc::new(Shared { backend, stats });
        let task = tokio::spawn({
            let shared = shared.clone();
            async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    // Small pieces of a streamed body go out at once.
                    let _ = stream.set_nodelay(true);
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
            }
        });
        Ok(Server { addr, shared, task })
    }
}

/// Serves one request; a failure becomes a `500` whose body says what
/// went wrong.
async fn handle(shared: &Shared, req: hyper::Request<Incoming>) -> hyper::Response<WasiBody> {
    shared.stats.requests.fetch_add(1, Ordering::Relaxed);
    match shared.backend.handle(req).await {
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
