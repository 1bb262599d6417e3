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

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use wasmtime::component::{Linker, Resource, Val};
use wasmtime::{StoreContextMut, bail};
use wasmtime_wasi_io::poll::{DynPollable, Pollable, subscribe};

use crate::state::{AbiState, Event, ImportCall, ImportState};
use crate::view::WasyncView;

/// The interface a mode C guest imports from its host.
pub const HOST_IFACE: &str = "wasync:abi/host@0.1.0";
/// The interface a mode C guest exports to its host.
pub const GUEST_IFACE: &str = "wasync:abi/guest@0.1.0";

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

fn abi<'a, T: WasyncView>(store: &'a mut StoreContextMut<'_, T>) -> &'a mut AbiState {
    let view = store.data_mut().wasync();
    &mut view.ctx.abi
}

/// Defines `wasync:abi/host`, the imports of a mode C guest, in `linker`.
///
/// [`Concurrent::new`](crate::Concurrent::new) calls it for you; call it
/// yourself to check components against a linker of your own.
///
/// # Examples
///
/// ```
/// # struct MyState { wasync: wasync_host::WasyncCtx, table: wasmtime::component::ResourceTable }
/// # impl wasync_host::WasyncView for MyState {
/// #     fn wasync(&mut self) -> wasync_host::WasyncCtxView<'_> {
/// #         wasync_host::WasyncCtxView { ctx: &mut self.wasync, table: &mut self.table }
/// #     }
/// # }
/// let engine = wasmtime::Engine::default();
/// let mut linker = wasmtime::component::Linker::<MyState>::new(&engine);
/// wasync_host::add_to_linker(&mut linker)?;
/// # Ok::<(), wasmtime::Error>(())
/// ```
pub fn add_to_linker<T: WasyncView>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    let mut host = linker.instance(HOST_IFACE)?;
    host.func_wrap(
        "park",
        |mut store: StoreContextMut<'_, T>,
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
        |mut store: StoreContextMut<'_, T>, (aid,): (u32,)| {
            let view = store.data_mut().wasync();
            let abi = &mut view.ctx.abi;
            abi.check_entered("subscribe-call")?;
            let Some(call) = abi.imports.get(&aid) else {
                bail!("wasync ABI violation: `subscribe-call` for unknown imported call {aid}");
            };
            let done = CallDone(call.done.clone());
            let resource = view.table.push(done)?;
            let pollable = subscribe(view.table, resource)?;
            Ok((pollable,))
        },
    )?;
    host.func_wrap(
        "cancel-call",
        |mut store: StoreContextMut<'_, T>, (aid,): (u32,)| {
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
pub(crate) fn define_link<T: WasyncView>(
    linker: &mut Linker<T>,
    iface: &str,
    funcs: &[String],
) -> wasmtime::Result<()> {
    let mut inst = linker.instance(iface)?;
    for name in funcs {
        let iface_name = iface.to_owned();
        if let Some(base) = name.strip_suffix("-start") {
            let what = format!("{iface}#{name}");
            let base = base.to_owned();
            inst.func_new(
                name,
                move |mut store: StoreContextMut<'_, T>, _ty, args, results| {
                    let abi = abi(&mut store);
                    abi.check_entered(&what)?;
                    let Some((target, export)) = abi.links.get(&iface_name).cloned() else {
                        bail!(
                            "the instance imports `{iface_name}`, which is linked to no instance"
                        );
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
                },
            )?;
        } else if name.ends_with("-finish") {
            let what = format!("{iface}#{name}");
            inst.func_new(
                name,
                move |mut store: StoreContextMut<'_, T>, _ty, args, results| {
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
                        _ => bail!(
                            "wasync ABI violation: `{what}` for call {aid} before it finished"
                        ),
                    }
                },
            )?;
        } else {
            let what = format!("{iface}#{name}");
            inst.func_new(name, move |_store: StoreContextMut<'_, T>, _ty, _args, _results| {
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
