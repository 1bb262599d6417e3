//! Serving a `wasi:http/handler@0.3` service (mode N): one instance takes
//! many requests at once, as `wasmtime serve` does for 0.3, since a 0.3
//! handler is an async export that the component model lets overlap.
//!
//! Ground rules:
//! - A request is routed when it arrives, under one lock: to the oldest
//!   live instance with fewer than [`MAX_CONCURRENT`] requests in flight,
//!   else to a new instance. So a burst fills instances one after another
//!   and the count of instances follows from the burst, not from timing.
//! - Each instance lives in a store of its own, driven by a tokio task of
//!   its own inside `run_concurrent`: its requests overlap in it, and the
//!   body a handler writes after it returned streams on from there.
//! - An instance takes [`MAX_REQUESTS`] requests in all, then retires; one
//!   idle for [`IDLE`] retires too. A retired instance ends once its
//!   background work (bodies still being written) is done.
//! - A request that traps (or runs past the call timeout) is answered `500`
//!   and stops its instance from taking new requests; the instance's other
//!   requests in flight fail with it when the trap ended the store, and
//!   every other instance goes on. The next request gets a live instance.
//! - Limits: memory and fuel as the harness's store gives them (the fuel
//!   budget is refilled when each request starts, so it is per request, as
//!   for 0.2, shared with the requests it overlaps); the call timeout bounds
//!   each request until its response head.

use std::future::poll_fn;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use hyper::body::Incoming;
use tokio::sync::{mpsc, oneshot, watch};
use wasmtime::AsContextMut;
use wasmtime::component::Accessor;
use wasmtime_wasi_http::p3::bindings::{Service, ServicePre};
use wasmtime_wasi_http::{FieldMap, WasiBody, WasiHttpView};
use wasync_host::{Limit, Limits, WasyncView};

use super::ServeStats;
use crate::error::Error;
use crate::{Harness, HostState, WasiOptions};

/// The most requests one instance has in flight at once (as
/// `wasmtime serve`'s default for 0.3).
///
/// # Examples
///
/// ```
/// // A burst of 40 overlapping requests needs 3 instances.
/// assert_eq!(40usize.div_ceil(wasync_harness::serve::MAX_CONCURRENT), 3);
/// ```
pub const MAX_CONCURRENT: usize = 16;

/// The most requests one instance takes in all before it retires (as
/// `wasmtime serve`'s default for 0.3), so that what a long-lived instance
/// leaks stays bounded.
///
/// # Examples
///
/// ```
/// assert!(wasync_harness::serve::MAX_REQUESTS >= wasync_harness::serve::MAX_CONCURRENT);
/// ```
pub const MAX_REQUESTS: usize = 128;

/// How long an instance with nothing to do (no request in flight, no body
/// still being written) waits for another request before it retires: long
/// enough that a client's next request after a pause finds it.
///
/// # Examples
///
/// ```
/// assert_eq!(wasync_harness::serve::IDLE.as_secs(), 5);
/// ```
pub const IDLE: Duration = Duration::from_secs(5);

/// The export every request calls, for messages.
const HANDLE: &str = "wasi:http/handler#handle";

/// The answer to one request: the response, or why there is none.
type Reply = Result<http::Response<WasiBody>, String>;

/// A request on its way to an instance.
struct Job {
    req: hyper::Request<Incoming>,
    reply: oneshot::Sender<Reply>,
}

/// A live instance as the router sees it.
struct Slot {
    id: u64,
    jobs: mpsc::UnboundedSender<Job>,
    in_flight: usize,
    taken: usize,
    /// Why it ended, once it has.
    ended: watch::Receiver<Option<String>>,
}

#[derive(Default)]
struct Slots {
    next_id: u64,
    /// Instances that take requests, oldest first.
    live: Vec<Slot>,
}

/// What every request of a 0.3 service needs, and its instances.
pub(super) struct Pool {
    pub harness: Harness,
    pub pre: ServicePre<HostState>,
    pub wasi: WasiOptions,
    pub stats: Arc<ServeStats>,
    /// The component's name, for limit messages.
    pub name: String,
    slots: Mutex<Slots>,
}

/// Counts a routed request out of its instance's in-flight requests when
/// it ends, answered or given up by the client.
struct InFlight<'a> {
    pool: &'a Pool,
    id: u64,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if let Some(slot) = self.pool.slots().live.iter_mut().find(|s| s.id == self.id) {
            slot.in_flight -= 1;
        }
    }
}

impl Pool {
    pub fn new(
        harness: Harness,
        pre: ServicePre<HostState>,
        wasi: WasiOptions,
        stats: Arc<ServeStats>,
        name: String,
    ) -> Pool {
        Pool {
            harness,
            pre,
            wasi,
            stats,
            name,
            slots: Mutex::new(Slots::default()),
        }
    }

    fn slots(&self) -> MutexGuard<'_, Slots> {
        // The lock guards counters only: a panic cannot leave them torn.
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Serves `req` in an instance with room for it; the error says why
    /// there is no response.
    pub async fn handle(self: &Arc<Self>, req: hyper::Request<Incoming>) -> Reply {
        let (reply, answer) = oneshot::channel();
        let (id, mut ended) = self.route(Job { req, reply });
        let _in_flight = InFlight { pool: self, id };
        match answer.await {
            Ok(reply) => reply,
            // The instance ended without answering: its store trapped or
            // its task failed. It says why when it is gone.
            Err(_) => match ended.wait_for(Option::is_some).await {
                Ok(why) => Err(why.clone().unwrap_or_default()),
                Err(_) => Err("the instance's task failed".to_owned()),
            },
        }
    }

    /// Hands `job` to an instance with room for it, made if need be, and
    /// returns the instance's id and its end.
    fn route(self: &Arc<Self>, mut job: Job) -> (u64, watch::Receiver<Option<String>>) {
        let mut slots = self.slots();
        loop {
            let index = match slots.live.iter().position(|s| s.in_flight < MAX_CONCURRENT) {
                Some(i) => i,
                None => {
                    let id = slots.next_id;
                    slots.next_id += 1;
                    slots.live.push(self.start(id));
                    slots.live.len() - 1
                }
            };
            let slot = &mut slots.live[index];
            match slot.jobs.send(job) {
                Ok(()) => {
                    slot.in_flight += 1;
                    slot.taken += 1;
                    let routed = (slot.id, slot.ended.clone());
                    if slot.taken >= MAX_REQUESTS {
                        // Dropping its sender lets it end after this one.
                        slots.live.remove(index);
                    }
                    return routed;
                }
                // It ended before it could be retired: never again.
                Err(mpsc::error::SendError(back)) => {
                    job = back;
                    slots.live.remove(index);
                }
            }
        }
    }

    /// Starts instance `id` in a task of its own.
    fn start(self: &Arc<Self>, id: u64) -> Slot {
        let (jobs, rx) = mpsc::unbounded_channel();
        let (end, ended) = watch::channel(None);
        let pool = self.clone();
        tokio::spawn(async move {
            let why = pool.run(id, rx).await;
            pool.retire(id, |_| true);
            end.send_replace(Some(why));
        });
        Slot {
            id,
            jobs,
            in_flight: 0,
            taken: 0,
            ended,
        }
    }

    /// Retires every instance: each ends once it has served what it has.
    pub fn close(&self) {
        self.slots().live.clear();
    }

    /// Takes instance `id` out of the routing if `when` says so: it gets
    /// no new requests, and ends once it has served those it has.
    fn retire(&self, id: u64, when: impl FnOnce(&Slot) -> bool) {
        let mut slots = self.slots();
        if let Some(i) = slots.live.iter().position(|s| s.id == id)
            && when(&slots.live[i])
        {
            slots.live.remove(i);
        }
    }

    /// Runs instance `id` until it is retired and done, or stopped by a
    /// trap; returns why it ended, for requests it leaves unanswered.
    async fn run(&self, id: u64, mut rx: mpsc::UnboundedReceiver<Job>) -> String {
        let mut store = match self.harness.new_store(self.pre.engine(), &self.wasi) {
            Ok(s) => s,
            Err(e) => return e.to_string(),
        };
        let guest = match self.pre.instantiate_async(&mut store).await {
            Ok(g) => g,
            Err(e) => {
                let panic = store.data().panic_message();
                return wasync_host::call_error("<instantiation>", e, panic).to_string();
            }
        };
        self.stats.instances.fetch_add(1, Ordering::Relaxed);
        let limits = *store.data().wasync.limits();
        let outcome = store
            .run_concurrent(async |accessor| {
                self.serve(id, accessor, &guest, limits, &mut rx).await
            })
            .await;
        match outcome {
            Ok(why) => why,
            Err(e) => {
                let panic = store.data().panic_message();
                wasync_host::call_error(HANDLE, e, panic).to_string()
            }
        }
    }

    /// Serves the requests `rx` brings inside the instance's
    /// `run_concurrent`, overlapping them.
    async fn serve(
        &self,
        id: u64,
        accessor: &Accessor<HostState>,
        guest: &Service,
        limits: Limits,
        rx: &mut mpsc::UnboundedReceiver<Job>,
    ) -> String {
        let mut running = FuturesUnordered::new();
        let mut open = true;
        // Set by a trap or a timeout: the instance takes nothing more.
        let mut broken: Option<String> = None;
        loop {
            tokio::select! {
                job = rx.recv(), if open => match job {
                    Some(job) => running.push(self.serve_one(id, accessor, guest, limits, job)),
                    None => open = false,
                },
                Some(stopped) = running.next(), if !running.is_empty() => {
                    if broken.is_none() {
                        broken = stopped;
                    }
                }
                () = idle(accessor), if open && running.is_empty() => {
                    self.retire(id, |slot| slot.in_flight == 0);
                }
                else => break,
            }
        }
        if let Some(why) = broken {
            // Its tasks may never end: drop them with the store.
            return why;
        }
        // Bodies the guest still writes after its handlers returned.
        poll_fn(|cx| accessor.poll_no_interesting_tasks(cx)).await;
        "the instance retired".to_owned()
    }

    /// Serves one request and answers it; returns why instance `id` takes
    /// no more requests, if it does not. It is out of the routing before
    /// the answer goes, so the client's next request finds another.
    async fn serve_one(
        &self,
        id: u64,
        accessor: &Accessor<HostState>,
        guest: &Service,
        limits: Limits,
        job: Job,
    ) -> Option<String> {
        let Job { req, reply } = job;
        if let Some(fuel) = limits.fuel {
            // Only an engine without fuel refuses, and then there is no
            // fuel limit to apply (the harness turns fuel on for one).
            let _ = accessor.with(|mut access| access.as_context_mut().set_fuel(fuel));
        }
        let (request, io) = to_guest(accessor, req);
        let handled = guest.handle(accessor, request);
        let handled = match limits.call_timeout {
            None => handled.await,
            Some(timeout) => match tokio::time::timeout(timeout, handled).await {
                Ok(handled) => handled,
                Err(_) => {
                    let why = Error::Limit {
                        limit: Limit::CallTimeout { timeout },
                        instance: self.name.clone(),
                        stopped: true,
                    }
                    .to_string();
                    self.retire(id, |_| true);
                    let _ = reply.send(Err(why.clone()));
                    return Some(why);
                }
            },
        };
        let (answer, stop) = match handled {
            Ok(Ok(response)) => {
                let response = accessor.with(|mut access| response.into_http(&mut access, io));
                let answer =
                    response.map_err(|e| format!("the guest's response is not valid HTTP: {e:#}"));
                (answer, None)
            }
            Ok(Err(code)) => (
                Err(format!("the guest answered with an error: {code:?}")),
                None,
            ),
            Err(e) => {
                let panic = accessor.with(|mut access| access.data_mut().panic_message());
                let why = wasync_host::call_error(HANDLE, e, panic).to_string();
                self.retire(id, |_| true);
                (Err(why.clone()), Some(why))
            }
        };
        let _ = reply.send(answer);
        stop
    }
}

/// Waits until the instance has nothing to do (no body still being
/// written), then [`IDLE`] more.
async fn idle(accessor: &Accessor<HostState>) {
    poll_fn(|cx| accessor.poll_no_interesting_tasks(cx)).await;
    tokio::time::sleep(IDLE).await;
}

/// `req` as the guest's `wasi:http/types.request`, and the future that
/// reports how its body was consumed. It gets the scheme and authority the
/// 0.2 host gives a request (from its `Host` header), so a guest sees the
/// same URI in either mode.
fn to_guest(
    accessor: &Accessor<HostState>,
    req: hyper::Request<Incoming>,
) -> (
    wasmtime_wasi_http::p3::Request,
    impl Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send + 'static,
) {
    let (parts, body) = req.into_parts();
    let uri = parts.uri.into_parts();
    let authority = uri.authority.or_else(|| {
        parts
            .headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.parse().ok())
    });
    // Forbidden headers never reach the guest.
    let headers = accessor
        .with(|mut access| FieldMap::new_immutable(access.data_mut().http().hooks, parts.headers));
    wasmtime_wasi_http::p3::Request::new(
        parts.method,
        Some(uri.scheme.unwrap_or(http::uri::Scheme::HTTP)),
        authority,
        uri.path_and_query,
        headers,
        None,
        body,
    )
}
