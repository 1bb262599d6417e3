//! The mode C event loop: one task that owns every instance (each in its
//! own store), waits on all their parked pollables and on callers at once,
//! and enters instances one at a time.
//!
//! Ground rules:
//! - Every entry into an instance (`f-start`, `f-finish`, `wake`,
//!   `cancel`) ends with the guest's `park` when anything changed: the loop
//!   then has, before it does anything else, the new waiting list and every
//!   call id that finished during the entry, whichever call's entry it was.
//! - Events those entries raised (finished calls, imported calls to start
//!   or cancel in another instance) are handled to exhaustion before the
//!   loop waits again. Handling one may enter another instance, which may
//!   raise more.
//! - A parked list is valid until its instance is next entered; the loop
//!   reads all of them fresh before each wait.
//! - An instance that traps is dead: its calls fail, calls it serves to
//!   other instances fail, and it is never entered again. Its store is
//!   its own, so the others carry on.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures::future::select_all;
use tokio::sync::{mpsc, oneshot};
use wasmtime::component::{Func, Resource, Val};
use wasmtime_wasi_io::bindings::wasi::io::poll::Host as _;
use wasmtime_wasi_io::poll::DynPollable;

use super::abi::{Event, GUEST_IFACE, ImportState};
use super::{AsyncExport, HostStats, Member, Request, Shared, TraceEvent};
use crate::error::{Error, ErrorKind, Result};
use crate::instance::call_error;

/// Who waits for a call's result.
enum Waiter {
    /// A caller outside the host, by its driver key.
    External {
        key: u64,
        reply: oneshot::Sender<Result<Vec<Val>>>,
    },
    /// Imported call `aid` of instance `caller` (a host-mediated link).
    Import { caller: usize, aid: u32 },
}

/// A call started in an instance and not finished there yet.
struct InFlight {
    /// The function's name (`f` or `iface#f`), for messages.
    func: String,
    finish: Func,
    waiter: Waiter,
    trace: Option<usize>,
}

/// What an entry calls, named for messages only when one is needed.
#[derive(Clone, Copy)]
enum Entry<'a> {
    Plain(&'a str),
    Start(&'a str),
    Finish(&'a str),
    Wake,
    Cancel,
}

impl fmt::Display for Entry<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Entry::Plain(name) => f.write_str(name),
            Entry::Start(name) => write!(f, "{name}-start"),
            Entry::Finish(name) => write!(f, "{name}-finish"),
            Entry::Wake => write!(f, "{GUEST_IFACE}#wake"),
            Entry::Cancel => write!(f, "{GUEST_IFACE}#cancel"),
        }
    }
}

/// What an `f-start` returned.
enum Started {
    Finished(Vec<Val>),
    Pending(u32),
}

fn decode_start(entry: Entry<'_>, results: Vec<Val>) -> std::result::Result<Started, String> {
    match results.into_iter().next() {
        Some(Val::Result(Ok(v))) => Ok(Started::Finished(v.map(|v| vec![*v]).unwrap_or_default())),
        Some(Val::Result(Err(Some(id)))) => match *id {
            Val::U32(id) => Ok(Started::Pending(id)),
            other => Err(format!("`{entry}` returned err({other:?}), not a call id")),
        },
        other => Err(format!(
            "`{entry}` returned {other:?}, not a result<_, u32>"
        )),
    }
}

pub(crate) struct Loop {
    members: Vec<Member>,
    rx: mpsc::UnboundedReceiver<Request>,
    shared: Arc<Shared>,
    /// Every call in flight, by (instance, call id), whoever made it.
    calls: HashMap<(usize, u32), InFlight>,
    /// External calls in flight by driver key, for cancelling.
    by_key: HashMap<u64, (usize, u32)>,
    entries: u64,
}

enum Woke {
    Request(Option<Request>),
    /// Instance `.0`'s pollables at these positions are ready.
    Ready(usize, wasmtime::Result<Vec<u32>>),
}

impl Loop {
    pub(crate) fn new(
        members: Vec<Member>,
        rx: mpsc::UnboundedReceiver<Request>,
        shared: Arc<Shared>,
    ) -> Loop {
        Loop {
            members,
            rx,
            shared,
            calls: HashMap::new(),
            by_key: HashMap::new(),
            entries: 0,
        }
    }

    pub(crate) async fn run(mut self) {
        loop {
            self.drain_events().await;
            let woke = {
                // One poll per instance that parked something, over its own
                // resource table; whichever is ready first wins.
                let mut polls = Vec::new();
                for (inst, m) in self.members.iter_mut().enumerate() {
                    if m.dead.is_some() || m.store.data().abi.parked.is_empty() {
                        continue;
                    }
                    let list: Vec<Resource<DynPollable>> = m
                        .store
                        .data()
                        .abi
                        .parked
                        .iter()
                        .map(|&rep| Resource::new_borrow(rep))
                        .collect();
                    let table = &mut m.store.data_mut().table;
                    polls.push(Box::pin(async move { (inst, table.poll(list).await) }));
                }
                if polls.is_empty() {
                    Woke::Request(self.rx.recv().await)
                } else {
                    tokio::select! {
                        biased;
                        req = self.rx.recv() => Woke::Request(req),
                        ((inst, ready), _, _) = select_all(polls) => Woke::Ready(inst, ready),
                    }
                }
            };
            match woke {
                Woke::Request(None) => break,
                Woke::Request(Some(req)) => self.handle(req).await,
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
                Woke::Ready(inst, Ok(ready)) => {
                    if let Some(guest) = self.members[inst].guest {
                        let list = Val::List(ready.into_iter().map(Val::U32).collect());
                        let _ = self.enter(inst, guest.wake, Entry::Wake, &[list]).await;
                    }
                }
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

    /// Hands a call's result to whoever waits for it.
    fn settle(&mut self, waiter: Waiter, trace: Option<usize>, result: Result<Vec<Val>>) {
        let outcome = match &result {
            Ok(_) => "ok",
            Err(e) if e.kind() == ErrorKind::Cancelled => "cancelled",
            Err(_) => "error",
        };
        self.trace_end(trace, outcome);
        match waiter {
            Waiter::External { key, reply } => {
                self.by_key.remove(&key);
                let _ = reply.send(result);
            }
            Waiter::Import { caller, aid } => {
                // Gone if the caller abandoned the call, or died, meanwhile.
                let abi = &mut self.members[caller].store.data_mut().abi;
                if let Some(call) = abi.imports.get_mut(&aid) {
                    call.state = match result {
                        Ok(vals) => ImportState::Done(vals),
                        Err(e) => ImportState::Failed(e.headline()),
                    };
                    call.done.store(true, Ordering::Release);
                }
            }
        }
    }

    /// Calls `func` of instance `inst`. A trap kills the instance.
    async fn enter(
        &mut self,
        inst: usize,
        func: Func,
        entry: Entry<'_>,
        args: &[Val],
    ) -> Result<Vec<Val>> {
        if let Some(first) = &self.members[inst].dead {
            return Err(Error::InstanceDead {
                first: first.clone(),
            });
        }
        let store = &mut self.members[inst].store;
        let n = func.ty(&*store).results().len();
        let mut results = vec![Val::Bool(false); n];
        self.entries += 1;
        store.data_mut().abi.entered = true;
        let out = func.call_async(&mut *store, args, &mut results).await;
        store.data_mut().abi.entered = false;
        match out {
            Ok(()) => Ok(results),
            Err(e) => {
                let err = call_error(entry, e, store);
                if matches!(err.kind(), ErrorKind::Trap) {
                    self.kill(inst, Error::Other(anyhow::anyhow!("{}", err.headline())));
                }
                Err(err)
            }
        }
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
        let abi = &mut member.store.data_mut().abi;
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
                let dead = Error::InstanceDead {
                    first: first.clone(),
                };
                self.settle(call.waiter, call.trace, Err(dead));
            }
        }
    }

    /// The next event any instance raised, and which instance raised it.
    /// Instances are scanned in the order they were added, targets of links
    /// before their callers: a target's report that a call finished is so
    /// handled before a caller's cancel of it raised at the same time.
    fn next_event(&mut self) -> Option<(usize, Event)> {
        self.members
            .iter_mut()
            .enumerate()
            .find_map(|(i, m)| m.store.data_mut().abi.events.pop_front().map(|e| (i, e)))
    }

    /// Handles every event the entries so far raised, and those that
    /// handling them raises.
    async fn drain_events(&mut self) {
        while let Some((inst, event)) = self.next_event() {
            match event {
                Event::Finished { ids } => {
                    for id in ids {
                        self.finished(inst, id).await;
                    }
                }
                Event::StartImport { aid } => self.start_import(inst, aid).await,
                Event::CancelImport { target, call } => {
                    if let Some(id) = call {
                        self.cancel(target, id, "cancelled").await;
                    }
                }
            }
        }
    }

    /// Cancels call `id` of `inst` in the guest, if it is still in flight.
    async fn cancel(&mut self, inst: usize, id: u32, outcome: &str) -> Option<Waiter> {
        let call = self.calls.remove(&(inst, id))?;
        self.trace_end(call.trace, outcome);
        if let Some(guest) = self.members[inst].guest {
            let _ = self
                .enter(inst, guest.cancel, Entry::Cancel, &[Val::U32(id)])
                .await;
        }
        Some(call.waiter)
    }

    /// Call `id` of `inst` finished: fetch its result for whoever waits.
    async fn finished(&mut self, inst: usize, id: u32) {
        let Some(call) = self.calls.remove(&(inst, id)) else {
            let name = self.members[inst].name.clone();
            self.kill(
                inst,
                Error::Protocol(format!(
                    "{name} reported call {id} finished, which is not a call in flight"
                )),
            );
            return;
        };
        let result = self
            .enter(
                inst,
                call.finish,
                Entry::Finish(&call.func),
                &[Val::U32(id)],
            )
            .await;
        self.settle(call.waiter, call.trace, result);
    }

    /// Starts async function `func` of `inst`. It finishes at once, or is
    /// in flight until the instance reports it finished.
    async fn start(
        &mut self,
        inst: usize,
        export: AsyncExport,
        func: String,
        args: &[Val],
        waiter: Waiter,
        trace: Option<usize>,
    ) {
        let entry = Entry::Start(&func);
        let started = match self.enter(inst, export.start, entry, args).await {
            Ok(results) => decode_start(entry, results),
            Err(e) => return self.settle(waiter, trace, Err(e)),
        };
        match started {
            Ok(Started::Finished(vals)) => self.settle(waiter, trace, Ok(vals)),
            Ok(Started::Pending(id)) => {
                if self.calls.contains_key(&(inst, id)) {
                    let name = self.members[inst].name.clone();
                    let msg = format!("{name} returned call id {id}, which is already in flight");
                    self.settle(waiter, trace, Err(Error::Protocol(msg.clone())));
                    self.kill(inst, Error::Protocol(msg));
                    return;
                }
                match &waiter {
                    Waiter::External { key, .. } => {
                        self.by_key.insert(*key, (inst, id));
                    }
                    Waiter::Import { caller, aid } => {
                        let abi = &mut self.members[*caller].store.data_mut().abi;
                        if let Some(call) = abi.imports.get_mut(aid) {
                            call.state = ImportState::Started(id);
                        }
                    }
                }
                let finish = export.finish;
                self.calls.insert(
                    (inst, id),
                    InFlight {
                        func,
                        finish,
                        waiter,
                        trace,
                    },
                );
            }
            Err(msg) => {
                self.settle(waiter, trace, Err(Error::Protocol(msg.clone())));
                self.kill(inst, Error::Protocol(msg));
            }
        }
    }

    /// Starts imported call `aid` of `caller` in the instance it is linked to.
    async fn start_import(&mut self, caller: usize, aid: u32) {
        let abi = &mut self.members[caller].store.data_mut().abi;
        let Some(call) = abi.imports.get_mut(&aid) else {
            return;
        };
        let ImportState::Queued(args) = std::mem::replace(&mut call.state, ImportState::Started(0))
        else {
            return;
        };
        let (target, func) = (call.target, call.func.clone());
        let waiter = Waiter::Import { caller, aid };
        let trace = self.trace_start(None, target, &func, Some(caller));
        match self.members[target].asyncs.get(&func).copied() {
            Some(export) => self.start(target, export, func, &args, waiter, trace).await,
            None => {
                let name = &self.members[target].name;
                let err = Error::Compose(format!("{name} has no async export `{func}`"));
                self.settle(waiter, trace, Err(err));
            }
        }
    }

    async fn handle(&mut self, req: Request) {
        match req {
            Request::Call {
                key,
                inst,
                func,
                args,
                reply,
            } => self.call(key, inst, func, args, reply).await,
            Request::Cancel { key } => {
                if let Some((inst, id)) = self.by_key.remove(&key)
                    && let Some(waiter) = self.cancel(inst, id, "cancelled").await
                {
                    self.settle(waiter, None, Err(Error::Cancelled));
                }
            }
            Request::Stats { reply } => {
                let mut stats = HostStats {
                    pending_calls: self.by_key.len(),
                    entries: self.entries,
                    ..HostStats::default()
                };
                for m in &mut self.members {
                    stats.table_entries += m.store.data_mut().table().iter_mut().count();
                    let abi = &m.store.data().abi;
                    stats.import_calls += abi.imports.len();
                    stats.parked += abi.parked.len();
                }
                let _ = reply.send(stats);
            }
        }
    }

    async fn call(
        &mut self,
        key: u64,
        inst: usize,
        func: String,
        args: Vec<Val>,
        reply: oneshot::Sender<Result<Vec<Val>>>,
    ) {
        let trace = self.trace_start(Some(key), inst, &func, None);
        let waiter = Waiter::External { key, reply };
        let member = &self.members[inst];
        if let Some(export) = member.asyncs.get(&func).copied() {
            return self.start(inst, export, func, &args, waiter, trace).await;
        }
        // The driver checked the name against the same exports.
        let result = match member.funcs.get(&func).copied() {
            Some(f) => self.enter(inst, f, Entry::Plain(&func), &args).await,
            None => Err(Error::MissingExport {
                name: func.clone(),
                available: member.funcs.keys().cloned().collect(),
            }),
        };
        self.settle(waiter, trace, result);
    }
}
