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
use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures::future::select_all;
use tokio::sync::{mpsc, oneshot};
use wasmtime::component::{Func, Resource, Val};
use wasmtime_wasi_io::bindings::wasi::io::poll::Host as _;
use wasmtime_wasi_io::poll::DynPollable;

use super::abi::{Event, GUEST_IFACE, ImportState};
use super::{HostStats, Member, Request, Shared, TraceEvent};
use crate::error::{Error, ErrorKind, Result};
use crate::instance::{call_error, lookup_func};

/// An external call the loop owes a reply.
struct Pending {
    key: u64,
    /// The function called (`iface#f`); its finish is `iface#f-finish`.
    func: String,
    reply: oneshot::Sender<Result<Vec<Val>>>,
    trace: usize,
}

pub(crate) struct Loop {
    members: Vec<Member>,
    rx: mpsc::UnboundedReceiver<Request>,
    shared: Arc<Shared>,
    funcs: HashMap<(usize, String), Func>,
    /// External calls started in an instance and not finished, by
    /// (instance, call id).
    pending: HashMap<(usize, u32), Pending>,
    by_key: HashMap<u64, (usize, u32)>,
    /// Calls an instance serves for another: (target, id) -> (caller, aid).
    serving: HashMap<(usize, u32), (usize, u32)>,
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
            funcs: HashMap::new(),
            pending: HashMap::new(),
            by_key: HashMap::new(),
            serving: HashMap::new(),
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
                    let wake = format!("{GUEST_IFACE}#wake");
                    let list = Val::List(ready.into_iter().map(Val::U32).collect());
                    let _ = self.enter(inst, &wake, &[list]).await;
                }
            }
        }
    }

    fn trace_start(&self, key: u64, inst: usize, func: &str) -> usize {
        let mut trace = self.shared.trace.lock().unwrap_or_else(|e| e.into_inner());
        trace.push(TraceEvent {
            call: key,
            instance: self.members[inst].name.clone(),
            func: func.to_owned(),
            start_us: self.shared.started.elapsed().as_micros() as u64,
            end_us: None,
            outcome: String::new(),
        });
        trace.len() - 1
    }

    fn trace_end(&self, at: usize, outcome: &str) {
        let mut trace = self.shared.trace.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(ev) = trace.get_mut(at) {
            ev.end_us = Some(self.shared.started.elapsed().as_micros() as u64);
            ev.outcome = outcome.to_owned();
        }
    }

    fn reply(&self, pending: Pending, result: Result<Vec<Val>>) {
        let outcome = match &result {
            Ok(_) => "ok",
            Err(e) if e.kind() == ErrorKind::Cancelled => "cancelled",
            Err(_) => "error",
        };
        self.trace_end(pending.trace, outcome);
        let _ = pending.reply.send(result);
    }

    /// Calls export `name` of instance `inst`. A trap kills the instance.
    async fn enter(&mut self, inst: usize, name: &str, args: &[Val]) -> Result<Vec<Val>> {
        if let Some(first) = &self.members[inst].dead {
            return Err(Error::InstanceDead {
                first: first.clone(),
            });
        }
        let func = match self.funcs.get(&(inst, name.to_owned())) {
            Some(f) => *f,
            None => {
                let m = &mut self.members[inst];
                let f = lookup_func(&mut m.store, &m.instance, &m.loaded, name)?;
                self.funcs.insert((inst, name.to_owned()), f);
                f
            }
        };
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
                let err = call_error(name, e, store);
                if matches!(err.kind(), ErrorKind::Trap) {
                    self.kill(inst, Error::Other(anyhow::anyhow!("{}", err.headline())));
                }
                Err(err)
            }
        }
    }

    /// Marks `inst` dead and fails everything that depends on it.
    fn kill(&mut self, inst: usize, why: Error) {
        let first = why.headline();
        if self.members[inst].dead.is_none() {
            self.members[inst].dead = Some(first.clone());
        }
        self.members[inst].store.data_mut().abi.parked.clear();
        for k in keys_of(&self.pending, inst) {
            if let Some(p) = self.pending.remove(&k) {
                self.by_key.remove(&p.key);
                self.reply(
                    p,
                    Err(Error::InstanceDead {
                        first: first.clone(),
                    }),
                );
            }
        }
        for k in keys_of(&self.serving, inst) {
            if let Some(caller) = self.serving.remove(&k) {
                self.fail_import(caller, &first);
            }
        }
    }

    fn fail_import(&mut self, (caller, aid): (usize, u32), why: &str) {
        if let Some(call) = self.members[caller]
            .store
            .data_mut()
            .abi
            .imports
            .get_mut(&aid)
        {
            call.state = ImportState::Failed(why.to_owned());
            call.done.store(true, Ordering::Release);
        }
    }

    fn finish_import(&mut self, (caller, aid): (usize, u32), results: Vec<Val>) {
        if let Some(call) = self.members[caller]
            .store
            .data_mut()
            .abi
            .imports
            .get_mut(&aid)
        {
            call.state = ImportState::Done(results);
            call.done.store(true, Ordering::Release);
        }
    }

    /// The next event any instance raised, and which instance raised it.
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
                        self.serving.remove(&(target, id));
                        let cancel = format!("{GUEST_IFACE}#cancel");
                        let _ = self.enter(target, &cancel, &[Val::U32(id)]).await;
                    }
                }
            }
        }
    }

    /// Call `id` of `inst` finished: fetch its result for whoever waits.
    async fn finished(&mut self, inst: usize, id: u32) {
        if let Some(p) = self.pending.remove(&(inst, id)) {
            self.by_key.remove(&p.key);
            let finish = format!("{}-finish", p.func);
            let result = self.enter(inst, &finish, &[Val::U32(id)]).await;
            self.reply(p, result);
        } else if let Some((caller, aid)) = self.serving.remove(&(inst, id)) {
            let func = self.members[caller]
                .store
                .data()
                .abi
                .imports
                .get(&aid)
                .map(|c| c.func.clone());
            let Some(func) = func else {
                // The caller abandoned it meanwhile; its cancel found the
                // call finished.
                return;
            };
            let finish = format!("{func}-finish");
            match self.enter(inst, &finish, &[Val::U32(id)]).await {
                Ok(results) => self.finish_import((caller, aid), results),
                Err(e) => self.fail_import((caller, aid), &e.headline()),
            }
        } else {
            let name = self.members[inst].name.clone();
            self.kill(
                inst,
                Error::Protocol(format!(
                    "{name} reported call {id} finished, which is not a call in flight"
                )),
            );
        }
    }

    async fn start_import(&mut self, caller: usize, aid: u32) {
        let (target, func, args) = {
            let abi = &mut self.members[caller].store.data_mut().abi;
            let Some(call) = abi.imports.get_mut(&aid) else {
                return;
            };
            let args = match std::mem::replace(&mut call.state, ImportState::Started(0)) {
                ImportState::Queued(args) => args,
                other => {
                    call.state = other;
                    return;
                }
            };
            (call.target, call.func.clone(), args)
        };
        let start = format!("{func}-start");
        match self.enter(target, &start, &args).await {
            Ok(results) => match results.into_iter().next() {
                Some(Val::Result(Ok(v))) => {
                    self.finish_import((caller, aid), v.map(|v| vec![*v]).unwrap_or_default())
                }
                Some(Val::Result(Err(Some(id)))) if matches!(*id, Val::U32(_)) => {
                    let Val::U32(id) = *id else { unreachable!() };
                    if let Some(call) = self.members[caller]
                        .store
                        .data_mut()
                        .abi
                        .imports
                        .get_mut(&aid)
                    {
                        call.state = ImportState::Started(id);
                    }
                    if self.serving.insert((target, id), (caller, aid)).is_some() {
                        let name = self.members[target].name.clone();
                        self.kill(
                            target,
                            Error::Protocol(format!(
                                "{name} returned call id {id}, which is already in flight"
                            )),
                        );
                    }
                }
                other => {
                    let msg = format!("`{start}` returned {other:?}, not a result<_, u32>");
                    self.fail_import((caller, aid), &msg);
                    self.kill(target, Error::Protocol(msg));
                }
            },
            Err(e) => self.fail_import((caller, aid), &e.headline()),
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
                    && let Some(p) = self.pending.remove(&(inst, id))
                {
                    let cancel = format!("{GUEST_IFACE}#cancel");
                    let _ = self.enter(inst, &cancel, &[Val::U32(id)]).await;
                    self.reply(p, Err(Error::Cancelled));
                }
            }
            Request::Stats { reply } => {
                let mut stats = HostStats {
                    pending_calls: self.pending.len(),
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
        let trace = self.trace_start(key, inst, &func);
        let pending = Pending {
            key,
            func: func.clone(),
            reply,
            trace,
        };
        let start = format!("{func}-start");
        let is_async =
            self.members[inst].concurrent && self.shared.signatures[inst].contains_key(&start);
        if !is_async {
            let result = self.enter(inst, &func, &args).await;
            self.reply(pending, result);
            return;
        }
        match self.enter(inst, &start, &args).await {
            Ok(results) => match results.into_iter().next() {
                Some(Val::Result(Ok(v))) => {
                    self.reply(pending, Ok(v.map(|v| vec![*v]).unwrap_or_default()))
                }
                Some(Val::Result(Err(Some(id)))) if matches!(*id, Val::U32(_)) => {
                    let Val::U32(id) = *id else { unreachable!() };
                    if self.pending.contains_key(&(inst, id))
                        || self.serving.contains_key(&(inst, id))
                    {
                        let name = self.members[inst].name.clone();
                        let err = Error::Protocol(format!(
                            "{name} returned call id {id}, which is already in flight"
                        ));
                        self.reply(pending, Err(Error::Protocol(err.to_string())));
                        self.kill(inst, err);
                        return;
                    }
                    self.by_key.insert(key, (inst, id));
                    self.pending.insert((inst, id), pending);
                }
                other => {
                    let msg = format!("`{start}` returned {other:?}, not a result<_, u32>");
                    self.reply(pending, Err(Error::Protocol(msg.clone())));
                    self.kill(inst, Error::Protocol(msg));
                }
            },
            Err(e) => self.reply(pending, Err(e)),
        }
    }
}

/// The keys in `map` that belong to instance `inst`, collected so the map can
/// be changed while they are visited.
fn keys_of<V>(map: &HashMap<(usize, u32), V>, inst: usize) -> Vec<(usize, u32)> {
    map.keys().filter(|(i, _)| *i == inst).copied().collect()
}
