//! Speaks the wasync ABI by hand, and wrongly on request: the host must
//! answer each violation with a clear error and never panic.

mod bindings {
    // The world names the ABI itself (mode S adds nothing to it): the
    // `wasync:abi` and `wasi:io` WIT come from what wasync ships.
    ::wasync::generate!({
        inline: "
            package rogue:test;
            world rogue {
                import wasync:abi/host@0.1.0;
                export wasync:abi/guest@0.1.0;
                /// How to misbehave: 0 reports an unknown call finished,
                /// 1 returns a call id that is already in flight,
                /// 2 parks a pollable and then drops it, leaving the host
                /// a stale handle,
                /// 3 behaves,
                /// 4 reports its call finished twice in one list,
                /// 5 reports its call finished again after the host
                /// fetched the result (an id reused after finishing).
                export job-start: func(how: u32) -> result<u32, u32>;
                export job-finish: func(call-id: u32) -> u32;
                /// From now on, every entry (`job-start`, `job-finish`,
                /// `wake`, `cancel`) follows the next list of this script
                /// instead, each list a run of (op, a, b) triples:
                /// (0, ms, _) subscribes to a timer of `ms` and holds it;
                /// (1, i, _) drops held pollable i (modulo how many);
                /// (2, mask, _) parks the held pollables whose bits are set
                /// in `mask`; (3, id, id2) parks nothing and reports `id`
                /// and, unless it is 4294967295, `id2` finished;
                /// (4, _, _) traps; (5, v, 0) makes `job-start` return
                /// `err(v)` (a call id), (5, v, 1) `ok(v)`. Once the script
                /// is used up, entries do nothing (`job-start` returns
                /// `ok(0)`).
                export load-script: func(entries: list<list<u32>>);
            }
        ",
        world: "rogue",
        with: { "wasi:io/poll@0.2.12": wasip2::io::poll },
    });
}

use std::cell::RefCell;
use std::collections::VecDeque;

use bindings::wasync::abi::host;
use wasip2::io::poll::Pollable;

thread_local! {
    /// The script's entries not run yet; `None` until one is loaded.
    static SCRIPT: RefCell<Option<VecDeque<Vec<u32>>>> = const { RefCell::new(None) };
    /// The pollables the script holds.
    static HELD: RefCell<Vec<Pollable>> = const { RefCell::new(Vec::new()) };
}

/// Runs the next entry of the script, if one is loaded; returns what
/// `job-start` should return, or `None` when no script is loaded.
fn scripted() -> Option<Result<u32, u32>> {
    let entry = SCRIPT.with(|s| {
        s.borrow_mut()
            .as_mut()
            .map(|entries| entries.pop_front().unwrap_or_default())
    })?;
    let mut start = Ok(0);
    for op in entry.chunks(3) {
        let [op, a, b] = [0, 1, 2].map(|i| op.get(i).copied().unwrap_or(0));
        match op % 6 {
            0 => {
                let ms = u64::from(a % 50);
                let p = wasip2::clocks::monotonic_clock::subscribe_duration(ms * 1_000_000);
                HELD.with(|h| h.borrow_mut().push(p));
            }
            1 => HELD.with(|h| {
                let mut held = h.borrow_mut();
                if !held.is_empty() {
                    let i = a as usize % held.len();
                    drop(held.remove(i));
                }
            }),
            2 => HELD.with(|h| {
                let held = h.borrow();
                let waiting: Vec<&Pollable> = held
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i < 32 && a & (1 << i) != 0)
                    .map(|(_, p)| p)
                    .collect();
                host::park(&waiting, &[]);
            }),
            3 => {
                let finished: Vec<u32> = [a, b].into_iter().filter(|&id| id != u32::MAX).collect();
                host::park(&[], &finished);
            }
            4 => unreachable!("the script says: trap"),
            _ => start = if b == 0 { Err(a) } else { Ok(a) },
        }
    }
    Some(start)
}

struct Rogue;

impl bindings::Guest for Rogue {
    fn load_script(entries: Vec<Vec<u32>>) {
        SCRIPT.with(|s| *s.borrow_mut() = Some(entries.into()));
    }

    fn job_start(how: u32) -> Result<u32, u32> {
        if let Some(start) = scripted() {
            return start;
        }
        match how {
            0 => {
                host::park(&[], &[99]);
                Err(7)
            }
            1 => Err(5),
            2 => {
                let pollable =
                    wasip2::clocks::monotonic_clock::subscribe_duration(3_600_000_000_000);
                host::park(&[&pollable], &[]);
                drop(pollable);
                Err(8)
            }
            4 => {
                host::park(&[], &[12, 12]);
                Err(12)
            }
            5 => {
                host::park(&[], &[13]);
                Err(13)
            }
            _ => Ok(how),
        }
    }

    fn job_finish(call_id: u32) -> u32 {
        if scripted().is_some() {
            return call_id;
        }
        if call_id == 13 {
            host::park(&[], &[13]);
        }
        call_id
    }
}

impl bindings::exports::wasync::abi::guest::Guest for Rogue {
    fn wake(_ready: Vec<u32>) {
        scripted();
    }

    fn cancel(_call_id: u32) {
        scripted();
    }
}

bindings::export!(Rogue with_types_in bindings);
