//! Model-based test of the waker registry: random registers, removals,
//! re-registrations, waker swaps and host reports, with several waiters per
//! pollable, checked step by step against a plain map of waiters.
//!
//! The model is what the runtime relies on: the poll list holds each
//! pollable some unfired waiter waits on, once; a ready position wakes
//! exactly the waiters of the pollable at that position of the list the
//! host was given (with their latest wakers), and marks them fired; a
//! removed waiter leaves nothing behind; and the list's generation changes
//! whenever the list does.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::task::{Wake, Waker};

use proptest::prelude::*;
use proptest::sample::Index;

use super::registry::Registry;

/// A waker that records its id in a shared log when woken.
struct Tag {
    id: u64,
    log: Arc<Mutex<Vec<u64>>>,
}

impl Wake for Tag {
    fn wake(self: Arc<Self>) {
        self.log.lock().unwrap().push(self.id);
    }
}

#[derive(Debug, Clone)]
enum Op {
    /// A future starts waiting on pollable `handle` (few handles, so that
    /// pollables often have several waiters, and fired ones are reused).
    Register(u32),
    /// A future is dropped (its waiter fired or not).
    Remove(Index),
    /// A future is polled again with another waker.
    SetWaker(Index),
    /// The host reports positions of the list ready: some of the list, in
    /// any order and possibly twice, and positions past its end (which
    /// belong to the caller, such as the timer pollable).
    Fire(Vec<Index>, Vec<u8>),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (0u32..6).prop_map(Op::Register),
        3 => any::<Index>().prop_map(Op::Remove),
        1 => any::<Index>().prop_map(Op::SetWaker),
        2 => (
            proptest::collection::vec(any::<Index>(), 0..4),
            proptest::collection::vec(0u8..3, 0..2),
        )
            .prop_map(|(ready, beyond)| Op::Fire(ready, beyond)),
    ]
}

struct ModelWaiter {
    handle: u32,
    fired: bool,
    waker_id: u64,
    waker: Waker,
}

struct Model {
    waiters: BTreeMap<usize, ModelWaiter>,
    next_id: u64,
    log: Arc<Mutex<Vec<u64>>>,
}

impl Model {
    fn waker(&mut self) -> (u64, Waker) {
        self.next_id += 1;
        let tag = Tag {
            id: self.next_id,
            log: self.log.clone(),
        };
        (self.next_id, Waker::from(Arc::new(tag)))
    }

    fn pick(&self, i: Index) -> Option<usize> {
        let keys: Vec<usize> = self.waiters.keys().copied().collect();
        (!keys.is_empty()).then(|| keys[i.index(keys.len())])
    }

    /// The pollables some unfired waiter waits on.
    fn polled(&self) -> BTreeSet<u32> {
        self.waiters
            .values()
            .filter(|w| !w.fired)
            .map(|w| w.handle)
            .collect()
    }
}

fn apply(registry: &mut Registry, model: &mut Model, op: Op) -> Result<(), TestCaseError> {
    match op {
        Op::Register(handle) => {
            let (waker_id, waker) = model.waker();
            let w = registry.register(handle, waker.clone());
            prop_assert!(!model.waiters.contains_key(&w), "key {w} reused while live");
            model.waiters.insert(
                w,
                ModelWaiter {
                    handle,
                    fired: false,
                    waker_id,
                    waker,
                },
            );
        }
        Op::Remove(i) => {
            let Some(w) = model.pick(i) else {
                return Ok(());
            };
            let expected = model.waiters.remove(&w).expect("picked");
            let back = registry.remove(w);
            if expected.fired {
                prop_assert!(
                    back.is_none(),
                    "a fired waiter's waker was handed to `wake`"
                );
            } else {
                let back = back.expect("an unfired waiter gives its waker back");
                prop_assert!(back.will_wake(&expected.waker));
            }
            prop_assert!(registry.remove(w).is_none(), "removed twice");
        }
        Op::SetWaker(i) => {
            let Some(w) = model.pick(i) else {
                return Ok(());
            };
            let (waker_id, waker) = model.waker();
            registry.set_waker(w, &waker);
            let entry = model.waiters.get_mut(&w).expect("picked");
            entry.waker_id = waker_id;
            entry.waker = waker;
        }
        Op::Fire(ready, beyond) => {
            let list = registry.list().to_vec();
            let mut positions: Vec<u32> = Vec::new();
            if !list.is_empty() {
                positions.extend(ready.iter().map(|i| i.index(list.len()) as u32));
            }
            positions.extend(beyond.iter().map(|&b| list.len() as u32 + u32::from(b)));
            // The waiters of the pollables at those positions of the list
            // the host was given.
            let handles: BTreeSet<u32> = positions
                .iter()
                .filter_map(|&p| list.get(p as usize).copied())
                .collect();
            let mut expected: Vec<u64> = Vec::new();
            for waiter in model.waiters.values_mut() {
                if !waiter.fired && handles.contains(&waiter.handle) {
                    waiter.fired = true;
                    expected.push(waiter.waker_id);
                }
            }
            model.log.lock().unwrap().clear();
            registry.fire(&positions, Waker::wake);
            let mut woken = std::mem::take(&mut *model.log.lock().unwrap());
            woken.sort_unstable();
            expected.sort_unstable();
            prop_assert_eq!(woken, expected, "positions {:?} of {:?}", positions, list);
        }
    }
    Ok(())
}

fn check(registry: &Registry, model: &Model) -> Result<(), TestCaseError> {
    let list = registry.list();
    let distinct: BTreeSet<u32> = list.iter().copied().collect();
    prop_assert_eq!(distinct.len(), list.len(), "a pollable twice in {:?}", list);
    prop_assert_eq!(distinct, model.polled());
    prop_assert_eq!(registry.len(), list.len());
    prop_assert_eq!(registry.waiters(), model.waiters.len());
    for (&w, waiter) in &model.waiters {
        prop_assert_eq!(registry.is_fired(w), waiter.fired, "waiter {}", w);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn the_registry_wakes_what_a_map_of_waiters_says(
        ops in proptest::collection::vec(op(), 1..60),
    ) {
        let mut registry = Registry::default();
        let mut model = Model {
            waiters: BTreeMap::new(),
            next_id: 0,
            log: Arc::default(),
        };
        for op in ops {
            let (list, generation) = (registry.list().to_vec(), registry.generation());
            apply(&mut registry, &mut model, op)?;
            check(&registry, &model)?;
            if registry.list() != list.as_slice() {
                prop_assert_ne!(registry.generation(), generation, "the list changed");
            }
        }
        // Dropping every future leaves nothing registered.
        for w in model.waiters.keys() {
            registry.remove(*w);
        }
        prop_assert_eq!(registry.len(), 0);
        prop_assert_eq!(registry.waiters(), 0);
    }
}
