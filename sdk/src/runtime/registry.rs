//! The waker registry: every pollable some future waits on, kept as one
//! dense poll list, so that one `wasi:io/poll.poll` call per turn covers the
//! whole instance.
//!
//! Ground rules:
//! - One entry per distinct pollable handle, however many futures wait on
//!   it; each waiting future is a *waiter* of that entry.
//! - The host's answer is authoritative: a reported position marks every
//!   waiter of that entry fired and drops the entry from the list. Nothing
//!   calls `ready()` afterwards, and positions the host did not report
//!   simply stay registered for the next poll (it may report only some).
//! - Removing a waiter is immediate, and removing an entry's last waiter
//!   removes the entry: a dropped future leaves nothing behind to poll.

use std::collections::HashMap;
use std::task::Waker;

use slab::Slab;

struct Entry {
    handle: u32,
    /// Position in `list`.
    pos: usize,
    waiters: Vec<usize>,
}

struct Waiter {
    /// The entry it waits on; `None` once fired.
    entry: Option<usize>,
    waker: Option<Waker>,
}

#[derive(Default)]
pub(crate) struct Registry {
    entries: Slab<Entry>,
    by_handle: HashMap<u32, usize>,
    /// The poll list: handles in the order the host sees them.
    list: Vec<u32>,
    /// The entry at each list position.
    owners: Vec<usize>,
    waiters: Slab<Waiter>,
    /// Scratch for `fire`, kept to avoid allocating per turn.
    fired_entries: Vec<usize>,
    /// Bumped whenever the list changes, so a mode C guest can tell
    /// whether it must park again.
    generation: u64,
}

impl Registry {
    /// The handles to poll, one per distinct pollable.
    pub(crate) fn list(&self) -> &[u32] {
        &self.list
    }

    /// Changes whenever `list` changes.
    #[cfg_attr(
        all(target_family = "wasm", not(feature = "concurrent")),
        allow(dead_code)
    )]
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// Distinct pollables registered.
    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }

    /// Futures waiting, counting fired ones not yet observed.
    pub(crate) fn waiters(&self) -> usize {
        self.waiters.len()
    }

    /// Registers a waiter on `handle` and returns its key.
    pub(crate) fn register(&mut self, handle: u32, waker: Waker) -> usize {
        let entry = match self.by_handle.get(&handle) {
            Some(&e) => e,
            None => {
                let pos = self.list.len();
                let e = self.entries.insert(Entry {
                    handle,
                    pos,
                    waiters: Vec::new(),
                });
                self.list.push(handle);
                self.owners.push(e);
                self.generation += 1;
                self.by_handle.insert(handle, e);
                e
            }
        };
        let w = self.waiters.insert(Waiter {
            entry: Some(entry),
            waker: Some(waker),
        });
        self.entries[entry].waiters.push(w);
        w
    }

    /// Whether the host reported the pollable of waiter `w` ready.
    pub(crate) fn is_fired(&self, w: usize) -> bool {
        self.waiters.get(w).is_some_and(|w| w.entry.is_none())
    }

    /// Replaces the waker of a waiter that has not fired. A fired waiter
    /// keeps none: nothing will wake it again.
    pub(crate) fn set_waker(&mut self, w: usize, waker: &Waker) {
        if let Some(waiter) = self.waiters.get_mut(w)
            && waiter.entry.is_some()
        {
            match &mut waiter.waker {
                Some(old) if old.will_wake(waker) => {}
                slot => *slot = Some(waker.clone()),
            }
        }
    }

    /// Removes a waiter, and its entry with it if it was the last one.
    pub(crate) fn remove(&mut self, w: usize) -> Option<Waker> {
        let waiter = self.waiters.try_remove(w)?;
        if let Some(e) = waiter.entry {
            let entry = &mut self.entries[e];
            if let Some(i) = entry.waiters.iter().position(|&x| x == w) {
                entry.waiters.swap_remove(i);
            }
            if entry.waiters.is_empty() {
                self.remove_entry(e);
            }
        }
        waiter.waker
    }

    fn remove_entry(&mut self, e: usize) {
        self.generation += 1;
        let entry = self.entries.remove(e);
        self.by_handle.remove(&entry.handle);
        self.list.swap_remove(entry.pos);
        self.owners.swap_remove(entry.pos);
        if let Some(&moved) = self.owners.get(entry.pos) {
            self.entries[moved].pos = entry.pos;
        }
    }

    /// Applies a poll result: `ready` holds positions in the list as it was
    /// polled (positions past its end belong to the caller). Every waiter of
    /// a ready entry is marked fired and its waker handed to `wake`.
    pub(crate) fn fire(&mut self, ready: &[u32], mut wake: impl FnMut(Waker)) {
        // Resolve positions to entries before any removal reorders the list.
        self.fired_entries.clear();
        for &pos in ready {
            if let Some(&e) = self.owners.get(pos as usize) {
                self.fired_entries.push(e);
            }
        }
        let fired = std::mem::take(&mut self.fired_entries);
        for &e in &fired {
            if !self.entries.contains(e) {
                continue;
            }
            let waiters = std::mem::take(&mut self.entries[e].waiters);
            for w in waiters {
                let waiter = &mut self.waiters[w];
                waiter.entry = None;
                if let Some(waker) = waiter.waker.take() {
                    wake(waker);
                }
            }
            self.remove_entry(e);
        }
        self.fired_entries = fired;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiters_on_one_handle_share_one_list_entry() {
        let mut r = Registry::default();
        let a = r.register(7, Waker::noop().clone());
        let b = r.register(7, Waker::noop().clone());
        let c = r.register(9, Waker::noop().clone());
        assert_eq!(r.list(), &[7, 9]);
        r.remove(a);
        assert_eq!(r.list(), &[7, 9], "b still waits on 7");
        r.remove(b);
        assert_eq!(r.list(), &[9]);
        r.remove(c);
        assert_eq!(r.len(), 0);
        assert_eq!(r.waiters(), 0);
    }

    #[test]
    fn firing_is_by_position_and_partial_results_stay_registered() {
        let mut r = Registry::default();
        let ws: Vec<usize> = [10, 11, 12, 13]
            .iter()
            .map(|&h| r.register(h, Waker::noop().clone()))
            .collect();
        let mut woken = 0;
        // The host reports positions 0 and 2 only (and 4, the caller's).
        r.fire(&[0, 2, 4], |_| woken += 1);
        assert_eq!(woken, 2);
        assert!(r.is_fired(ws[0]) && r.is_fired(ws[2]));
        assert!(!r.is_fired(ws[1]) && !r.is_fired(ws[3]));
        let mut left = r.list().to_vec();
        left.sort();
        assert_eq!(left, [11, 13]);
        // A fired waiter is removed without touching the list.
        r.remove(ws[0]);
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn swap_removal_keeps_positions_consistent() {
        let mut r = Registry::default();
        let ws: Vec<usize> = (0..5)
            .map(|h| r.register(h, Waker::noop().clone()))
            .collect();
        r.remove(ws[1]);
        r.remove(ws[0]);
        for (pos, &h) in r.list().iter().enumerate() {
            let e = r.by_handle[&h];
            assert_eq!(r.entries[e].pos, pos);
            assert_eq!(r.owners[pos], e);
        }
        let mut woken = 0;
        let pos_of_4 = r.list().iter().position(|&h| h == 4).unwrap() as u32;
        r.fire(&[pos_of_4], |_| woken += 1);
        assert!(r.is_fired(ws[4]));
        assert_eq!(woken, 1);
    }
}
