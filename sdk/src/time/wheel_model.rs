//! Model-based test of the timing wheel: random inserts, cancels, resets
//! and advances, checked step by step against a sorted map of deadlines.
//!
//! The model is what a timer wheel promises: an entry fires at the first
//! advance that reaches its deadline, never before, exactly once; a
//! deadline not after the current time is refused (the caller treats it as
//! due); and a fired entry keeps its key until it is removed. Deadlines
//! range from the past to far beyond the top level's span, and advances
//! from nothing to more than the whole wheel, so cascading and the top
//! level's wrap-around are exercised.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use proptest::sample::Index;

use super::wheel::{Key, MAX_TICKS, Wheel};

/// Ticks relative to the wheel's current time.
fn offset() -> impl Strategy<Value = i64> {
    let max = MAX_TICKS as i64;
    prop_oneof![
        // In the past, or now: refused.
        2 => -70i64..=0,
        // Level 0, and the first levels above it.
        6 => 1i64..64,
        4 => 64i64..5_000,
        3 => 5_000i64..(1 << 24),
        // Around the top level's span, and past it (wrap-around).
        1 => (max - 100)..(max + 100),
        1 => max..(4 * max),
    ]
}

/// How far one advance goes.
fn step() -> impl Strategy<Value = u64> {
    prop_oneof![
        3 => 0u64..3,
        4 => 0u64..70,
        3 => 0u64..5_000,
        2 => 0u64..(1 << 25),
        1 => Just(MAX_TICKS),
        1 => 0u64..(4 * MAX_TICKS),
    ]
}

#[derive(Debug, Clone)]
enum Op {
    Insert(i64),
    /// Removes an entry (fired or not), chosen among the live ones.
    Cancel(Index),
    /// Removes an entry and inserts it again at another deadline, as
    /// `Sleep::reset` does.
    Reset(Index, i64),
    Advance(u64),
    /// Advances exactly to the wheel's next expiration, as the runtime does
    /// when the single timer pollable it armed for it is ready.
    AdvanceToNext,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => offset().prop_map(Op::Insert),
        2 => any::<Index>().prop_map(Op::Cancel),
        2 => (any::<Index>(), offset()).prop_map(|(i, o)| Op::Reset(i, o)),
        3 => step().prop_map(Op::Advance),
        2 => Just(Op::AdvanceToNext),
    ]
}

/// What the wheel must hold: pending deadlines, and fired keys not yet
/// removed. Each entry's value is its own id, so firings can be matched.
struct Model {
    now: u64,
    pending: BTreeMap<Key, u64>,
    fired: BTreeSet<Key>,
}

impl Model {
    fn live(&self) -> Vec<Key> {
        self.pending.keys().chain(&self.fired).copied().collect()
    }
}

fn insert(wheel: &mut Wheel<u64>, model: &mut Model, offset: i64) -> Result<(), TestCaseError> {
    let when = model.now.saturating_add_signed(offset);
    match wheel.insert(when, when) {
        Ok(key) => {
            prop_assert!(
                when > model.now,
                "accepted {when}, not after now {}",
                model.now
            );
            prop_assert!(!model.pending.contains_key(&key) && !model.fired.contains(&key));
            model.pending.insert(key, when);
        }
        Err(back) => {
            prop_assert_eq!(back, when);
            prop_assert!(when <= model.now, "refused {when}, after now {}", model.now);
        }
    }
    Ok(())
}

fn remove(wheel: &mut Wheel<u64>, model: &mut Model, key: Key) -> Result<(), TestCaseError> {
    let expected = match model.pending.remove(&key) {
        Some(when) => when,
        None => {
            prop_assert!(model.fired.remove(&key));
            prop_assert!(wheel.is_fired(key));
            // A fired entry's value is its deadline too.
            *wheel.get_mut(key).expect("a fired entry keeps its key")
        }
    };
    prop_assert_eq!(wheel.remove(key), Some(expected));
    prop_assert_eq!(wheel.remove(key), None, "removed twice");
    Ok(())
}

/// Advances to `to`. With `exact`, `to` is the wheel's next expiration, and
/// whatever fires must be due exactly then.
fn advance(
    wheel: &mut Wheel<u64>,
    model: &mut Model,
    to: u64,
    exact: bool,
) -> Result<(), TestCaseError> {
    let mut fired = BTreeMap::new();
    wheel.advance(to, |key, when| {
        fired.insert(key, *when);
    });
    // Exactly the model's due entries fire: none early, none missed.
    let due: BTreeMap<Key, u64> = model
        .pending
        .iter()
        .filter(|&(_, &when)| when <= to)
        .map(|(&k, &w)| (k, w))
        .collect();
    prop_assert_eq!(&fired, &due, "advance from {} to {}", model.now, to);
    if exact {
        prop_assert!(
            fired.values().all(|&when| when == to),
            "late: {fired:?} at {to}"
        );
    }
    for key in due.keys() {
        model.pending.remove(key);
        model.fired.insert(*key);
    }
    model.now = model.now.max(to);
    Ok(())
}

fn check(wheel: &Wheel<u64>, model: &Model) -> Result<(), TestCaseError> {
    prop_assert_eq!(wheel.elapsed(), model.now);
    prop_assert_eq!(wheel.pending(), model.pending.len());
    prop_assert_eq!(wheel.len(), model.pending.len() + model.fired.len());
    for (&key, &when) in &model.pending {
        prop_assert!(!wheel.is_fired(key), "{key:?} (due {when}) fired early");
    }
    for &key in &model.fired {
        prop_assert!(wheel.is_fired(key));
    }
    // The next expiration is after now and no later than the earliest
    // deadline (a slot above level 0 expires when it must cascade, which
    // may be earlier).
    match (wheel.next_expiration(), model.pending.values().min()) {
        (None, None) => {}
        (Some(exp), Some(&earliest)) => {
            prop_assert!(exp.deadline > model.now);
            prop_assert!(exp.deadline <= earliest, "{exp:?}, earliest {earliest}");
        }
        (exp, earliest) => prop_assert!(false, "next {exp:?}, earliest {earliest:?}"),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    #[test]
    fn the_wheel_fires_what_a_sorted_map_says_and_never_early(
        start in 0u64..(1 << 40),
        ops in proptest::collection::vec(op(), 1..40),
    ) {
        let mut wheel = Wheel::new(start);
        let mut model = Model { now: start, pending: BTreeMap::new(), fired: BTreeSet::new() };
        for op in ops {
            match op {
                Op::Insert(offset) => insert(&mut wheel, &mut model, offset)?,
                Op::Cancel(i) => {
                    let live = model.live();
                    if !live.is_empty() {
                        remove(&mut wheel, &mut model, live[i.index(live.len())])?;
                    }
                }
                Op::Reset(i, offset) => {
                    let live = model.live();
                    if !live.is_empty() {
                        remove(&mut wheel, &mut model, live[i.index(live.len())])?;
                        insert(&mut wheel, &mut model, offset)?;
                    }
                }
                Op::Advance(by) => {
                    let to = model.now.saturating_add(by);
                    advance(&mut wheel, &mut model, to, false)?
                }
                Op::AdvanceToNext => {
                    if let Some(exp) = wheel.next_expiration() {
                        advance(&mut wheel, &mut model, exp.deadline, true)?;
                    }
                }
            }
            check(&wheel, &model)?;
        }
        // Finally everything still pending fires, each at its deadline.
        while let Some(exp) = wheel.next_expiration() {
            advance(&mut wheel, &mut model, exp.deadline, true)?;
            check(&wheel, &model)?;
        }
        prop_assert!(model.pending.is_empty());
    }
}
