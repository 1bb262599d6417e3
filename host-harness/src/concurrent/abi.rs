//! The host side of the wasync ABI (`wasync:abi/host`), and the host
//! functions that forward one instance's imported async functions to
//! another instance's exports.
//!
//! Every instance of a mode C host has a store of its own (so that a trap,
//! which poisons a whole store in wasmtime, ends only that instance), and
//! its store data knows which instance it is. None of these functions calls
//! into wasm: what needs another instance (starting a forwarded call,
//! cancelling one) becomes an [`Event`] that the loop handles once the
//! current entry has returned. Instances are thus never entered
//! re-entrantly, and no entry blocks.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use wasmtime::component::{Linker, Resource, Val};
use wasmtime::{StoreContextMut, bail};
use wasmtime_wasi_io::poll::{DynPollable, Pollable, subscribe};

use crate::host::HostState;

/// The ABI interface names this host speaks.
pub(crate) const HOST_IFACE: &str = "wasync:abi/host@0.1.0";
pub(crate) const GUEST_IFACE: &str = "wasync:abi/guest@0.1.0";

/// What an entry asked of the loop.
#[derive(Debug)]
pub(crate) enum Event {
    /// The instance reported these export calls finished.
    Finished { ids: Vec<u32> },
    /// The instance started imported call `aid`: start it in its target.
    StartImport { aid: u32 },
    /// An imported call was abandoned: cancel it in `target` if it started.
    CancelImport { target: usize, call: Option<u32> },
}

/// Where an imported call stands.
#[derive(Debug)]
pub(crate) enum ImportState {
    /// Not started in the target yet; holds the arguments.
    Queued(Vec<Val>),
    /// Started; the target's call id.
    Started(u32),
    /// Finished; the results `g-finish` returns.
    Done(Vec<Val>),
    /// The target failed (trapped or died).
    Failed(String),
}

/// A call an instance made on an imported async function.
#[derive(Debug)]
pub(crate) struct ImportCall {
    pub target: usize,
    /// `iface#g` in the target.
    pub func: String,
    pub state: ImportState,
    /// Set once the call finished or failed: its pollable is then ready.
    pub done: Arc<AtomicBool>,
}

/// The ABI's part of the data of one instance's store.
#[derive(Default)]
pub struct AbiState {
    /// Whether the loop is inside an entry into this instance.
    pub(crate) entered: bool,
    /// The pollable reps of the instance's last park.
    pub(crate) parked: Vec<u32>,
    /// For each linked import: the target instance and the name of the
    /// export there that serves it.
    pub(crate) links: HashMap<String, (usize, String)>,
    /// The imported calls this instance made, by call id.
    pub(crate) imports: HashMap<u32, ImportCall>,
    pub(crate) next_import: u32,
    pub(crate) events: VecDeque<Event>,
}

impl AbiState {
    fn check_entered(&self, what: &str) -> wasmtime::Result<()> {
        if !self.entered {
            bail!("wasync ABI violation: `{what}` called outside an entry of a wasync host");
        }
        Ok(())
    }
}

/// The pollable of an imported call: ready once the call is done.
struct CallDone(Arc<AtomicBool>);

#[wasmtime_wasi_io::async_trait]
impl Pollable for CallDone {
    async fn ready(&mut self) {
        // Only the event loop sets the flag, and it rebuilds its poll after
        // every change, so a pollable that is not done yet never needs to
        // be woken from elsewhere.
        if !self.0.load(Ordering::Acquire) {
            std::future::pending::<()>().await;
        }
    }
}

fn abi<'a>(store: &'a mut StoreContextMut<'_, HostState>) -> &'a mut AbiState {
    &mut store.data_mut().abi
}

/// Defines `wasync:abi/host` in `linker`.
pub(crate) fn add_host(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    let mut host = linker.instance(HOST_IFACE)?;
    host.func_wrap(
        "park",
        |mut store: StoreContextMut<'_, HostState>,
         (waiting, finished): (Vec<Resource<DynPollable>>, Vec<u32>)| {
            let abi = abi(&mut store);
            abi.check_entered("park")?;
            abi.parked = waiting.iter().map(Resource::rep).collect();
            if !finished.is_empty() {
                abi.events.push_back(Event::Finished { ids: finished });
            }
            Ok(())
        },
    )?;
    host.func_wrap(
        "subscribe-call",
        |mut store: StoreContextMut<'_, HostState>, (aid,): (u32,)| {
            let state = store.data_mut();
            state.abi.check_entered("subscribe-call")?;
            let Some(call) = state.abi.imports.get(&aid) else {
                bail!("wasync ABI violation: `subscribe-call` for unknown imported call {aid}");
            };
            let done = CallDone(call.done.clone());
            let resource = state.table.push(done)?;
            let pollable = subscribe(&mut state.table, resource)?;
            Ok((pollable,))
        },
    )?;
    host.func_wrap(
        "cancel-call",
        |mut store: StoreContextMut<'_, HostState>, (aid,): (u32,)| {
            let abi = abi(&mut store);
            abi.check_entered("cancel-call")?;
            // An unknown id was finished or cancelled already: nothing to do.
            if let Some(call) = abi.imports.remove(&aid) {
                let started = match call.state {
                    ImportState::Started(id) => Some(id),
                    _ => None,
                };
                abi.events.push_back(Event::CancelImport {
                    target: call.target,
                    call: started,
                });
            }
            Ok(())
        },
    )?;
    Ok(())
}

/// Defines, for interface `iface`, host functions that forward the
/// imported calls of the instance to the instance its links name. `funcs`
/// are the interface's function names.
pub(crate) fn define_link(
    linker: &mut Linker<HostState>,
    iface: &str,
    funcs: &[String],
) -> wasmtime::Result<()> {
    let mut inst = linker.instance(iface)?;
    for name in funcs {
        let iface_name = iface.to_owned();
        if let Some(base) = name.strip_suffix("-start") {
            let what = format!("{iface}#{name}");
            let base = base.to_owned();
            inst.func_new(name, move |mut store, _ty, args, results| {
                let abi = abi(&mut store);
                abi.check_entered(&what)?;
                let Some((target, export)) = abi.links.get(&iface_name).cloned() else {
                    bail!("the instance imports `{iface_name}`, which is linked to no instance");
                };
                let target_func = format!("{export}#{base}");
                abi.next_import = abi.next_import.wrapping_add(1).max(1);
                let aid = abi.next_import;
                abi.imports.insert(
                    aid,
                    ImportCall {
                        target,
                        func: target_func.clone(),
                        state: ImportState::Queued(args.to_vec()),
                        done: Arc::new(AtomicBool::new(false)),
                    },
                );
                abi.events.push_back(Event::StartImport { aid });
                // The target starts once this entry returns: report the
                // call as pending.
                results[0] = Val::Result(Err(Some(Box::new(Val::U32(aid)))));
                Ok(())
            })?;
        } else if name.ends_with("-finish") {
            let what = format!("{iface}#{name}");
            inst.func_new(name, move |mut store, _ty, args, results| {
                let abi = abi(&mut store);
                abi.check_entered(&what)?;
                let Some(Val::U32(aid)) = args.first() else {
                    bail!("`{what}` takes a call id");
                };
                let Some(call) = abi.imports.remove(aid) else {
                    bail!("wasync ABI violation: `{what}` for unknown imported call {aid}");
                };
                match call.state {
                    ImportState::Done(vals) => {
                        for (slot, v) in results.iter_mut().zip(vals) {
                            *slot = v;
                        }
                        Ok(())
                    }
                    ImportState::Failed(why) => {
                        bail!("the imported call `{}` failed: {why}", call.func)
                    }
                    _ => bail!("wasync ABI violation: `{what}` for call {aid} before it finished"),
                }
            })?;
        } else {
            let what = format!("{iface}#{name}");
            inst.func_new(name, move |_store, _ty, _args, _results| {
                bail!(
                    "`{what}` is a plain `func` of a host-mediated link: mode C composition forwards \
                     `async func`s only, because a plain call would have to enter the other \
                     instance while this one is running; compose statically (mode S) instead"
                )
            })?;
        }
    }
    Ok(())
}
