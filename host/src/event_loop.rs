//! The mode C event loop: one task that owns every instance (each in its
//! own store), waits on all their parked pollables and on callers at once,
//! and enters instances one at a time.
//!
//! Ground rules:
//! - Every entry into an instance (a plain call, `f-start`, `f-finish`,
//!   `wake`, `cancel`) ends with the guest's `park` when anything changed:
//!   the loop then has, before it does anything else, the new waiting list
//!   and every call id that finished during the entry, whichever call's
//!   entry it was.
//! - Events those entries raised (finished calls, imported calls to start
//!   or cancel in another instance) are handled to exhaustion before the
//!   loop waits again. Handling one may enter another instance, which may
//!   raise more.
//! - A parked list is valid until its instance is next entered; the loop
//!   reads all of them fresh before each wait.
//! - While nothing waits on it, the loop lends its state out (module
//!   `seat`), and a caller may handle the requests in its own task, with
//!   the same code (`Loop::serve`).
//! - The loop yields to the runtime at least every few rounds, however
//!   busy its guests keep it.
//! - An instance that traps is dead: its calls fail, calls it serves to
//!   other instances fail, and it is never entered again. Its store is
//!   its own, so the others carry on.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures::future::select_all;
use wasmtime::Store;
use wasmtime::component::{Func, Resource, Val};
use wasmtime_wasi_io::bindings::wasi::io::poll::Host as _;
use wasmtime_wasi_io::poll::DynPollable;

use crate::abi::GUEST_IFACE;
use crate::error::{Error, ErrorKind, Result};
use crate::job::{BoxFuture, Entered, LoopJob, Settled, Target, ValJob, ValWaiter};
use crate::limits;
use crate::seat::{Lend, Seat};
use crate::shared::{FastMap, HostStats, Member, Request, Shared, names};
use crate::state::{Event, ImportState};
use crate::trace::TraceEvent;
use crate::view::WasyncView;

/// A call started in an instance and not finished there yet.
struct InFlight<T: 'static> {
    job: LoopJob<T>,
    /// The instance the call runs in.
    inst: usize,
    /// The driver key of a call from outside.
    key: Option<u64>,
    trace: Option<usize>,
    /// Its key in [`Loop::deadlines`], for a call from outside into an
    /// instance with a call timeout.
    deadline: Option<(Instant, u64)>,
}

/// What an entry calls, named for messages only when one is needed.
#[derive(Clone, Copy)]
enum Entry<'a> {
    Start(&'a str),
    Finish(&'a str),
    Wake,
    Cancel,
}

impl fmt::Display for Entry<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Entry::Start(name) => f.write_str(name),
            Entry::Finish(name) => write!(f, "{name}-finish"),
            Entry::Wake => write!(f, "{GUEST_IFACE}#wake"),
            Entry::Cancel => write!(f, "{GUEST_IFACE}#cancel"),
        }
    }
}

pub(crate) struct Loop<T: 'static> {
    members: Vec<Member<T>>,
    /// Requests taken from the seat's queue, to handle in order.
    inbox: VecDeque<Request<T>>,
    shared: Arc<Shared>,
    /// Every call in flight, by (instance, call id), whoever made it.
    calls: FastMap<(usize, u32), InFlight<T>>,
    /// External calls in flight by driver key, for cancelling.
    by_key: FastMap<u64, (usize, u32)>,
    /// When calls from outside run out of time, in order; each keyed by
    /// its deadline and a sequence number, so none collide.
    deadlines: BTreeMap<(Instant, u64), (usize, u32)>,
    next_deadline: u64,
    entries: u64,
}

enum Woke {
    /// Nudged: requests may wait in the seat.
    Request,
    /// Instance `.0`'s pollables at these positions are ready.
    Ready(usize, wasmtime::Result<Vec<u32>>),
    /// The first deadline in [`Loop::deadlines`] has passed.
    Deadline,
}

impl<T: WasyncView> Loop<T> {
    pub(crate) fn new(members: Vec<Member<T>>, shared: Arc<Shared>) -> Loop<T> {
        Loop {
            members,
            inbox: VecDeque::new(),
            shared,
            calls: FastMap::default(),
            by_key: FastMap::default(),
            deadlines: BTreeMap::new(),
            next_deadline: 0,
            entries: 0,
        }
    }

    /// The loop task: waits on every instance's parked pollables, the
    /// deadlines and the seat's requests, and handles what comes; while
    /// the loop is idle its state is lent out through `seat` (see
    /// `crate::seat`).
    pub(crate) async fn run(mut self: Box<Self>, seat: Arc<Seat<T>>) {
        loop {
            // A guest may keep a pollable parked that is always ready (a
            // busy guest; wasmtime makes a zero-length timer so): then
            // every round finds work at once and nothing below returns to
            // the runtime, whose other tasks on this thread (callers, their
            // timeouts, other hosts) would never run again. A unit of
            // tokio's cooperative budget per round makes the loop yield
            // once the budget is spent.
            tokio::task::coop::consume_budget().await;
            self.drain_events().await;
            // One request a round, so that the budget counts them too.
            if let Some(req) = self.inbox.pop_front() {
                self.handle(req).await;
                continue;
            }
            if self.is_idle() {
                match seat.lend(self) {
                    Lend::Lent => {
                        self = seat.reclaim().await;
                        continue;
                    }
                    // Requests wait: handled at the top of the loop.
                    Lend::Busy(state) => {
                        self = state;
                        continue;
                    }
                    // Every driver is gone, and nothing is in flight.
                    Lend::Over(state) => {
                        drop(state);
                        break;
                    }
                }
            }
            let woke = {
                // One poll per instance that parked something, over its own
                // resource table; whichever is ready first wins.
                let mut polls = Vec::new();
                for (inst, m) in self.members.iter_mut().enumerate() {
                    let view = m.store.data_mut().wasync();
                    if m.dead.is_some() || view.ctx.abi.parked.is_empty() {
                        continue;
                    }
                    let list: Vec<Resource<DynPollable>> = view
                        .ctx
                        .abi
                        .parked
                        .iter()
                        .map(|&rep| Resource::new_borrow(rep))
                        .collect();
                    let table = view.table;
                    polls.push(Box::pin(async move { (inst, table.poll(list).await) }));
                }
                let first_deadline = self.deadlines.keys().next().map(|(at, _)| *at);
                let deadline = async move {
                    match first_deadline {
                        Some(at) => tokio::time::sleep_until(at.into()).await,
                        None => std::future::pending().await,
                    }
                };
                let ready = async move {
                    if polls.is_empty() {
                        std::future::pending().await
                    } else {
                        select_all(polls).await.0
                    }
                };
                tokio::select! {
                    biased;
                    () = seat.nudged() => Woke::Request,
                    () = deadline => Woke::Deadline,
                    (inst, ready) = ready => Woke::Ready(inst, ready),
                }
            };
            match woke {
                // Handled at the top of the loop. With none, every driver
                // is gone: what is still in flight cannot reach anyone.
                Woke::Request => {
                    if !seat.take_requests(&mut self) {
                        break;
                    }
                }
                Woke::Ready(inst, Err(e)) => {
                    // A parked handle the table does not know: the guest
                    // parked a pollable and dropped it.
                    let name = self.members[inst].name.clone();
                    self.kill(
                        inst,
                        Error::Protocol(format!(
                            "{name} parked a pollable it no longer has: {e:#}"
                        )),
                    );
                }
                Woke::Deadline => self.time_out().await,
                Woke::Ready(inst, Ok(ready)) => {
                    if let Some(guest) = self.members[inst].guest {
                        let list = [Val::List(ready.into_iter().map(Val::U32).collect())];
                        self.enter_abi(inst, Entry::Wake, guest.wake, &list).await;
                    }
                }
            }
        }
    }

    /// Whether nothing waits on the loop: no call in flight, nothing
    /// parked, no event to handle, no imported call waiting for a place.
    pub(crate) fn is_idle(&mut self) -> bool {
        self.calls.is_empty()
            && self.deadlines.is_empty()
            && self.members.iter_mut().all(|m| {
                let abi = &m.store.data_mut().wasync().ctx.abi;
                m.waiting.is_empty() && abi.parked.is_empty() && abi.events.is_empty()
            })
    }

    /// Whether a request waits in the inbox.
    pub(crate) fn has_requests(&self) -> bool {
        !self.inbox.is_empty()
    }

    /// Takes every request of `queue` (the seat's), after those already in
    /// the inbox.
    pub(crate) fn receive(&mut self, queue: &mut VecDeque<Request<T>>) {
        if self.inbox.is_empty() {
            // Both keep their buffers: no allocation from call to call.
            std::mem::swap(&mut self.inbox, queue);
        } else {
            self.inbox.append(queue);
        }
    }

    /// Handles every request in the inbox, and the events they raise, as
    /// the loop task would, without waiting for anything: a caller's turn
    /// with the state (see `crate::seat`), or a round of the loop task.
    pub(crate) async fn serve(&mut self) {
        loop {
            self.drain_events().await;
            match self.inbox.pop_front() {
                Some(req) => self.handle(req).await,
                None => return,
            }
        }
    }

    /// Records the start of a call if tracing is on. An external call is
    /// traced under its driver key, a forwarded one under a fresh key.
    fn trace_start(
        &self,
        key: Option<u64>,
        inst: usize,
        func: &str,
        caller: Option<usize>,
    ) -> Option<usize> {
        if !self.shared.tracing.load(Ordering::Relaxed) {
            return None;
        }
        let mut trace = self.shared.trace.lock().unwrap_or_else(|e| e.into_inner());
        trace.push(TraceEvent {
            call: key.unwrap_or_else(|| self.shared.next_key.fetch_add(1, Ordering::Relaxed)),
            instance: self.members[inst].name.clone(),
            caller: caller.map(|c| self.members[c].name.clone()),
            func: func.to_owned(),
            start_us: self.shared.started.elapsed().as_micros() as u64,
            end_us: None,
            outcome: String::new(),
        });
        Some(trace.len() - 1)
    }

    fn trace_end(&self, at: Option<usize>, outcome: &str) {
        let Some(at) = at else { return };
        let mut trace = self.shared.trace.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(ev) = trace.get_mut(at) {
            ev.end_us = Some(self.shared.started.elapsed().as_micros() as u64);
            ev.outcome = outcome.to_owned();
        }
    }

    /// Hands a call's outcome to whoever waits for it.
    fn settle(&mut self, call: InFlight<T>, outcome: Result<()>) {
        let label = match &outcome {
            Ok(()) => "ok",
            Err(e) if e.kind() == ErrorKind::Cancelled => "cancelled",
            Err(_) => "error",
        };
        self.trace_end(call.trace, label);
        if let Some(key) = call.key {
            self.by_key.remove(&key);
        }
        if let Some(at) = call.deadline {
            self.deadlines.remove(&at);
        }
        self.shared.gauges[call.inst].give_back();
        if let Settled::Import {
            caller,
            aid,
            result,
        } = call.job.settle(outcome)
        {
            self.finish_import(caller, aid, result);
        }
    }

    /// Hands the result of imported call `aid` to its caller, whose
    /// pollable for it becomes ready.
    fn finish_import(&mut self, caller: usize, aid: u32, result: Result<Vec<Val>>) {
        // Gone if the caller abandoned the call, or died, meanwhile.
        let abi = &mut self.members[caller].store.data_mut().wasync().ctx.abi;
        if let Some(import) = abi.imports.get_mut(&aid) {
            import.state = match result {
                Ok(vals) => ImportState::Done(vals),
                Err(e) => ImportState::Failed(e.headline()),
            };
            import.done.store(true, Ordering::Release);
        }
    }

    fn fail_import(&mut self, caller: usize, aid: u32, err: Error) {
        self.finish_import(caller, aid, Err(err));
    }

    /// Prepares an entry into `inst`: the store to call into, or why the
    /// instance may not be entered. Pair it with [`Loop::end`].
    /// The entry's call timeout comes with the store, for
    /// [`crate::run_entry`].
    fn begin(&mut self, inst: usize) -> Result<(&mut Store<T>, Option<Duration>)> {
        if let Some(first) = &self.members[inst].dead {
            return Err(Error::InstanceDead {
                first: first.clone(),
            });
        }
        self.entries += 1;
        let store = &mut self.members[inst].store;
        let timeout = limits::begin_entry(store)?;
        store.data_mut().wasync().ctx.abi.entered = true;
        Ok((store, timeout))
    }

    /// Ends an entry into `inst`: an error becomes typed, and a trap kills
    /// the instance.
    fn end<R>(&mut self, inst: usize, entry: Entry<'_>, out: wasmtime::Result<R>) -> Result<R> {
        let member = &mut self.members[inst];
        let store = &mut member.store;
        limits::end_entry(store);
        store.data_mut().wasync().ctx.abi.entered = false;
        match out {
            Ok(r) => Ok(r),
            Err(e) => {
                let err = limits::entry_error(store, &member.name, entry, e);
                match &err {
                    Error::Limit {
                        limit, instance, ..
                    } => {
                        let why = Error::Limit {
                            limit: *limit,
                            instance: instance.clone(),
                            stopped: true,
                        };
                        self.kill(inst, why);
                    }
                    Error::Trap { .. } => {
                        self.kill(inst, Error::Other(anyhow::anyhow!("{}", err.headline())));
                    }
                    _ => {}
                }
                Err(err)
            }
        }
    }

    /// Calls one of the guest's own ABI functions (`wake`, `cancel`).
    async fn enter_abi(&mut self, inst: usize, entry: Entry<'_>, func: Func, args: &[Val]) {
        let out = match self.begin(inst) {
            Ok((store, timeout)) => {
                let mut results = vec![Val::Bool(false); func.ty(&*store).results().len()];
                // Boxed: wasmtime's call future is about 1.5 KB, and inline it
                // would size every future that may cancel or wake (the loop's
                // `serve` among them), which each call then allocates and copies.
                let call: BoxFuture<'_, _> =
                    Box::pin(func.call_async(&mut *store, args, &mut results));
                limits::run_entry(timeout, call).await
            }
            Err(_) => return,
        };
        let _ = self.end(inst, entry, out);
    }

    /// Marks `inst` dead and fails everything that depends on it: the
    /// calls it was serving fail, and the calls it made into other
    /// instances are cancelled there.
    fn kill(&mut self, inst: usize, why: Error) {
        let first = why.headline();
        let member = &mut self.members[inst];
        if member.dead.is_none() {
            member.dead = Some(first.clone());
        }
        let abi = &mut member.store.data_mut().wasync().ctx.abi;
        abi.parked.clear();
        abi.events.clear();
        let abandoned: Vec<(usize, u32)> = abi
            .imports
            .drain()
            .filter_map(|(_, call)| match call.state {
                ImportState::Started(id) => Some((call.target, id)),
                _ => None,
            })
            .collect();
        for (target, id) in abandoned {
            self.members[target]
                .store
                .data_mut()
                .wasync()
                .ctx
                .abi
                .events
                .push_back(Event::CancelImport {
                    target,
                    call: Some(id),
                });
        }
        let served: Vec<(usize, u32)> = self
            .calls
            .keys()
            .filter(|(i, _)| *i == inst)
            .copied()
            .collect();
        for k in served {
            if let Some(call) = self.calls.remove(&k) {
                // A breach fails every call of the instance with the limit
                // it went over; anything else, as the instance's death.
                let dead = match &why {
                    Error::Limit {
                        limit, instance, ..
                    } => Error::Limit {
                        limit: *limit,
                        instance: instance.clone(),
                        stopped: true,
                    },
                    _ => Error::InstanceDead {
                        first: first.clone(),
                    },
                };
                self.settle(call, Err(dead));
            }
        }
    }

    /// The next event any instance raised, and which instance raised it.
    /// Instances are scanned in the order they were added, targets of links
    /// before their callers: a target's report that a call finished is so
    /// handled before a caller's cancel of it raised at the same time.
    fn next_event(&mut self) -> Option<(usize, Event)> {
        self.members.iter_mut().enumerate().find_map(|(i, m)| {
            let event = m.store.data_mut().wasync().ctx.abi.events.pop_front();
            event.map(|e| (i, e))
        })
    }

    /// Handles every event the entries so far raised, and those that
    /// handling them raises.
    async fn drain_events(&mut self) {
        loop {
            let Some((inst, event)) = self.next_event() else {
                // Then the imported calls that waited for a place.
                match self.next_admitted() {
                    Some((caller, aid)) => {
                        self.start_import(caller, aid).await;
                        continue;
                    }
                    None => break,
                }
            };
            match event {
                Event::Finished { ids } => {
                    for id in ids {
                        self.finished(inst, id).await;
                    }
                }
                Event::StartImport { aid } => self.start_import(inst, aid).await,
                Event::CancelImport { target, call } => {
                    if let Some(id) = call
                        && let Some(call) = self.cancel(target, id, "cancelled").await
                    {
                        self.settle(call, Err(Error::Cancelled));
                    }
                }
            }
        }
    }

    /// The first imported call waiting for a place in an instance that now
    /// has one.
    fn next_admitted(&mut self) -> Option<(usize, u32)> {
        let shared = &self.shared;
        self.members
            .iter_mut()
            .enumerate()
            .find(|(i, m)| !m.waiting.is_empty() && shared.gauges[*i].has_room())
            .and_then(|(_, m)| m.waiting.pop_front())
    }

    /// Cancels every call from outside whose deadline has passed: it fails
    /// with the instance's call timeout, and the instance lives on.
    async fn time_out(&mut self) {
        let now = Instant::now();
        while let Some(entry) = self.deadlines.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let (inst, id) = entry.remove();
            let Some(call) = self.cancel(inst, id, "timed out").await else {
                continue;
            };
            let member = &mut self.members[inst];
            let limit = member.store.data_mut().wasync().ctx.limits().call_timeout;
            let err = match limit {
                Some(timeout) => Error::Limit {
                    limit: crate::Limit::CallTimeout { timeout },
                    instance: member.name.clone(),
                    stopped: false,
                },
                None => Error::Cancelled,
            };
            self.settle(call, Err(err));
        }
    }

    /// Cancels call `id` of `inst` in the guest, if it is still in flight,
    /// and gives it back to be settled.
    async fn cancel(&mut self, inst: usize, id: u32, outcome: &str) -> Option<InFlight<T>> {
        let mut call = self.calls.remove(&(inst, id))?;
        self.trace_end(call.trace.take(), outcome);
        if let Some(guest) = self.members[inst].guest {
            self.enter_abi(inst, Entry::Cancel, guest.cancel, &[Val::U32(id)])
                .await;
        }
        Some(call)
    }

    /// Call `id` of `inst` finished: fetch its result for whoever waits.
    async fn finished(&mut self, inst: usize, id: u32) {
        let Some(mut call) = self.calls.remove(&(inst, id)) else {
            let name = self.members[inst].name.clone();
            self.kill(
                inst,
                Error::Protocol(format!(
                    "{name} reported call {id} finished, which is not a call in flight"
                )),
            );
            return;
        };
        let out = match self.begin(inst) {
            Ok((store, timeout)) => limits::run_entry(timeout, call.job.finish(store, id)).await,
            Err(e) => return self.settle(call, Err(e)),
        };
        let outcome = self.end(inst, Entry::Finish(call.job.func()), out);
        self.settle(call, outcome);
    }

    /// Starts `call` in `inst`. It finishes at once, or is in flight until
    /// the instance reports it finished.
    async fn start(&mut self, inst: usize, mut call: InFlight<T>) {
        let out = match self.begin(inst) {
            Ok((store, timeout)) => limits::run_entry(timeout, call.job.start(store)).await,
            Err(e) => return self.settle(call, Err(e)),
        };
        match self.end(inst, Entry::Start(call.job.func()), out) {
            Err(e) => self.settle(call, Err(e)),
            Ok(Entered::Done) => self.settle(call, Ok(())),
            Ok(Entered::Pending(id)) => {
                if self.calls.contains_key(&(inst, id)) {
                    let name = self.members[inst].name.clone();
                    let msg = format!("{name} returned call id {id}, which is already in flight");
                    self.settle(call, Err(Error::Protocol(msg.clone())));
                    self.kill(inst, Error::Protocol(msg));
                    return;
                }
                if let Some(key) = call.key {
                    self.by_key.insert(key, (inst, id));
                    let timeout = self.members[inst]
                        .store
                        .data_mut()
                        .wasync()
                        .ctx
                        .limits()
                        .call_timeout;
                    if let Some(timeout) = timeout {
                        let at = (Instant::now() + timeout, self.next_deadline);
                        self.next_deadline += 1;
                        self.deadlines.insert(at, (inst, id));
                        call.deadline = Some(at);
                    }
                }
                if let Some((caller, aid)) = call.job.import_of() {
                    let abi = &mut self.members[caller].store.data_mut().wasync().ctx.abi;
                    if let Some(import) = abi.imports.get_mut(&aid) {
                        import.state = ImportState::Started(id);
                    }
                }
                self.calls.insert((inst, id), call);
            }
            Ok(Entered::Invalid(msg)) => {
                self.settle(call, Err(Error::Protocol(msg.clone())));
                self.kill(inst, Error::Protocol(msg));
            }
        }
    }

    /// Starts imported call `aid` of `caller` in the instance it is linked to.
    async fn start_import(&mut self, caller: usize, aid: u32) {
        let abi = &mut self.members[caller].store.data_mut().wasync().ctx.abi;
        let Some(import) = abi.imports.get_mut(&aid) else {
            return;
        };
        let ImportState::Queued(args) =
            std::mem::replace(&mut import.state, ImportState::Started(0))
        else {
            return;
        };
        let (target, func) = (import.target, import.func.clone());
        if !self.shared.gauges[target].take() {
            // The target is at its limit of calls: the call waits for a
            // place, which the loop gives it when one of them settles.
            import.state = ImportState::Queued(args);
            self.members[target].waiting.push_back((caller, aid));
            return;
        }
        let trace = self.trace_start(None, target, &func, Some(caller));
        let Some((func, target_fn @ Target::Async(_))) = self.members[target]
            .targets
            .get_key_value(func.as_str())
            .map(|(name, target)| (name.clone(), *target))
        else {
            let name = &self.members[target].name;
            let err = Error::Compose(format!("{name} has no async export `{func}`"));
            self.trace_end(trace, "error");
            self.shared.gauges[target].give_back();
            return self.fail_import(caller, aid, err);
        };
        let job = Box::new(ValJob {
            func,
            target: target_fn,
            args,
            results: Vec::new(),
            waiter: ValWaiter::Import { caller, aid },
        });
        let call = InFlight {
            job: LoopJob::Val(job),
            inst: target,
            key: None,
            trace,
            deadline: None,
        };
        self.start(target, call).await;
    }

    async fn handle(&mut self, req: Request<T>) {
        match req {
            Request::Call { key, inst, job } => self.call(key, inst, job).await,
            Request::Typed {
                inst,
                func,
                check,
                reply,
            } => {
                let member = &self.members[inst];
                let result = match member.targets.get(func.as_str()) {
                    Some(&target) => {
                        check(&member.store, target).map_err(|e| Error::BadArguments {
                            func: func.clone(),
                            message: format!(
                                "the typed call does not match the export's type: {e:#}"
                            ),
                        })
                    }
                    None => Err(Error::MissingExport {
                        name: func,
                        available: names(&member.targets),
                    }),
                };
                let _ = reply.send(result);
            }
            Request::Cancel { key } => {
                if let Some((inst, id)) = self.by_key.remove(&key)
                    && let Some(call) = self.cancel(inst, id, "cancelled").await
                {
                    self.settle(call, Err(Error::Cancelled));
                }
            }
            Request::Stats { reply } => {
                let mut stats = HostStats {
                    pending_calls: self.by_key.len(),
                    entries: self.entries,
                    ..HostStats::default()
                };
                for m in &mut self.members {
                    let view = m.store.data_mut().wasync();
                    stats.table_entries += view.table.iter_mut().count();
                    stats.import_calls += view.ctx.abi.imports.len();
                    stats.parked += view.ctx.abi.parked.len();
                }
                let _ = reply.send(stats);
            }
        }
    }

    async fn call(&mut self, key: u64, inst: usize, job: LoopJob<T>) {
        let trace = self.trace_start(Some(key), inst, job.func(), None);
        let call = InFlight {
            job,
            inst,
            key: Some(key),
            trace,
            deadline: None,
        };
        self.start(inst, call).await;
    }
}
