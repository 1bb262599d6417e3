//! A hierarchical timing wheel, with index links through paged entries.
//!
//! Ground rules:
//! - Time is in whole milliseconds ("ticks"), the host's resolution.
//! - There are [`LEVELS`] levels of [`SLOTS`] slots. A slot at level `l`
//!   spans `64^l` ticks, so level 0 holds the next 64 ms tick by tick and the
//!   top level spans about 2.2 years; later deadlines wrap around the top
//!   level and are re-checked when their slot comes up.
//! - An entry's level is given by the most significant bit in which its
//!   deadline differs from the wheel's current time (`elapsed`): entries on
//!   lower levels therefore always expire before entries on higher ones.
//! - Each slot is a doubly linked list threaded through the entries by index,
//!   and each level keeps a 64-bit occupancy mask. Insert and remove are
//!   O(1); finding the next expiration looks at one mask per level and never
//!   walks a list.
//! - Advancing the wheel visits only slots that expire: entries of a level-0
//!   slot fire, entries of a higher slot cascade down to the level that
//!   their exact deadline now selects. An entry never fires before its
//!   deadline.
//! - Entries live in [`Pages`], a slab that grows a page at a time, never by
//!   copying.
//! - Fired entries are unlinked but stay stored until removed, so that
//!   the key their owner holds stays valid (and unambiguous) until the
//!   owner has seen the firing.

use std::num::NonZeroU32;

use super::pages::Pages;

/// Slots per level.
pub(crate) const SLOTS: usize = 64;
const SLOT_BITS: u32 = 6;
const SLOT_MASK: u64 = (SLOTS as u64) - 1;
/// Levels in the hierarchy.
pub(crate) const LEVELS: usize = 6;
/// The furthest ahead (in ticks) an entry is placed without wrapping.
pub(crate) const MAX_TICKS: u64 = (1 << (SLOT_BITS as u64 * LEVELS as u64)) - 1;

const NIL: u32 = u32::MAX;

/// Ticks spanned by one slot at `level`.
fn slot_range(level: usize) -> u64 {
    1 << (SLOT_BITS as usize * level)
}

/// Ticks spanned by a whole `level`.
fn level_range(level: usize) -> u64 {
    1 << (SLOT_BITS as usize * (level + 1))
}

/// The level an entry due at `when` belongs on, seen from `elapsed`.
fn level_for(elapsed: u64, when: u64) -> usize {
    // OR-ing in the slot mask makes every deadline within the current
    // level-0 span land on level 0.
    let mut masked = (elapsed ^ when) | SLOT_MASK;
    if masked >= MAX_TICKS {
        masked = MAX_TICKS - 1;
    }
    let significant = 63 - masked.leading_zeros() as usize;
    significant / SLOT_BITS as usize
}

/// The slot of `when` at `level`.
fn slot_for(when: u64, level: usize) -> usize {
    ((when >> (SLOT_BITS as usize * level)) & SLOT_MASK) as usize
}

/// The key of an entry: its index in [`Pages`], plus one, so that the
/// `Option<Key>` every `Sleep` holds takes four bytes: a storm of 100,000
/// sleeps is 100,000 task cells, and each byte of them is a byte of fresh
/// memory to fault in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Key(NonZeroU32);

impl Key {
    fn new(index: usize) -> Key {
        // Indices are below `NIL` (`u32::MAX`), as the links require.
        Key(NonZeroU32::MIN.saturating_add(index as u32))
    }

    fn index(self) -> usize {
        self.0.get() as usize - 1
    }
}

/// The largest tick an entry holds; later deadlines are stored as it. The
/// runtime's ticks are milliseconds of a 64-bit nanosecond clock, below
/// 2^45, so its wheel never reaches this tick: such an entry never fires,
/// as its own deadline would not within the clock's range either.
const MAX_WHEN: u64 = (1 << WHEN_BITS) - 1;
const WHEN_BITS: u32 = 48;

/// An entry takes 24 bytes on wasm32 with the runtime's `Waker` as its
/// value, and the slab stores it without a tag of its own: the waker's
/// vtable pointer, never null, is the niche that marks a vacant entry.
/// With a separate `Option<(u8, u8)>` and an `Option<Waker>` value, one
/// storm of 100,000 sleeps faulted in about 740 more pages.
struct Entry<T> {
    /// The deadline in the low [`WHEN_BITS`] bits; above them, where the
    /// entry is linked: `1 + level * SLOTS + slot`, or 0 while unlinked
    /// (fired).
    word: u64,
    prev: u32,
    next: u32,
    value: T,
}

#[cfg(target_pointer_width = "32")]
const _: () = assert!(size_of::<Entry<std::task::Waker>>() == 24);

impl<T> Entry<T> {
    fn when(&self) -> u64 {
        self.word & MAX_WHEN
    }

    /// `(level, slot)` while linked into a slot list; `None` once fired.
    fn at(&self) -> Option<(usize, usize)> {
        let code = (self.word >> WHEN_BITS) as usize;
        code.checked_sub(1).map(|c| (c / SLOTS, c % SLOTS))
    }

    fn set_at(&mut self, at: Option<(usize, usize)>) {
        let code = at.map_or(0, |(level, slot)| 1 + level * SLOTS + slot) as u64;
        self.word = self.when() | code << WHEN_BITS;
    }
}

struct Level {
    occupied: u64,
    heads: [u32; SLOTS],
}

/// The next slot that needs processing, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Expiration {
    pub level: usize,
    pub slot: usize,
    pub deadline: u64,
}

/// A timing wheel holding one `T` per timer.
pub(crate) struct Wheel<T> {
    elapsed: u64,
    entries: Pages<Entry<T>>,
    levels: [Level; LEVELS],
    /// Entries still linked, i.e. not yet fired.
    pending: usize,
}

impl<T> Wheel<T> {
    /// An empty wheel whose current time is `now`.
    pub(crate) fn new(now: u64) -> Wheel<T> {
        Wheel {
            elapsed: now,
            entries: Pages::new(),
            levels: std::array::from_fn(|_| Level {
                occupied: 0,
                heads: [NIL; SLOTS],
            }),
            pending: 0,
        }
    }

    /// The wheel's current time: every pending entry is due after it.
    #[cfg(test)]
    pub(crate) fn elapsed(&self) -> u64 {
        self.elapsed
    }

    /// Entries not yet fired.
    pub(crate) fn pending(&self) -> usize {
        self.pending
    }

    /// Entries stored, fired or not.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Adds an entry due at `when`, or gives `value` back if `when` is not
    /// after the wheel's current time (it is due already).
    pub(crate) fn insert(&mut self, when: u64, value: T) -> Result<Key, T> {
        if when <= self.elapsed {
            return Err(value);
        }
        let index = self.entries.insert(Entry {
            word: when.min(MAX_WHEN),
            prev: NIL,
            next: NIL,
            value,
        });
        self.link(index);
        self.pending += 1;
        Ok(Key::new(index))
    }

    /// Removes an entry, fired or not, and returns its value.
    pub(crate) fn remove(&mut self, key: Key) -> Option<T> {
        let index = key.index();
        if self.entries.get(index)?.at().is_some() {
            self.unlink(index);
            self.pending -= 1;
        }
        self.entries.remove(index).map(|e| e.value)
    }

    /// Whether `key` has fired (and is waiting to be removed).
    pub(crate) fn is_fired(&self, key: Key) -> bool {
        self.entries
            .get(key.index())
            .is_some_and(|e| e.at().is_none())
    }

    /// The value of an entry.
    pub(crate) fn get_mut(&mut self, key: Key) -> Option<&mut T> {
        self.entries.get_mut(key.index()).map(|e| &mut e.value)
    }

    fn link(&mut self, key: usize) {
        let when = self.entries[key].when();
        let level = level_for(self.elapsed, when);
        let slot = slot_for(when, level);
        let head = self.levels[level].heads[slot];
        {
            let e = &mut self.entries[key];
            e.prev = NIL;
            e.next = head;
            e.set_at(Some((level, slot)));
        }
        if head != NIL {
            self.entries[head as usize].prev = key as u32;
        }
        let lvl = &mut self.levels[level];
        lvl.heads[slot] = key as u32;
        lvl.occupied |= 1 << slot;
    }

    fn unlink(&mut self, key: usize) {
        let (prev, next, at) = {
            let e = &mut self.entries[key];
            let out = (e.prev, e.next, e.at());
            e.set_at(None);
            e.prev = NIL;
            e.next = NIL;
            out
        };
        let Some((level, slot)) = at else { return };
        if prev == NIL {
            self.levels[level].heads[slot] = next;
        } else {
            self.entries[prev as usize].next = next;
        }
        if next != NIL {
            self.entries[next as usize].prev = prev;
        }
        if self.levels[level].heads[slot] == NIL {
            self.levels[level].occupied &= !(1 << slot);
        }
    }

    /// The next slot to process: the earliest occupied slot on the lowest
    /// occupied level. Its deadline is when the earliest entry fires or,
    /// on a higher level, when its slot must cascade.
    pub(crate) fn next_expiration(&self) -> Option<Expiration> {
        if self.pending == 0 {
            return None;
        }
        (0..LEVELS).find_map(|level| self.level_expiration(level))
    }

    fn level_expiration(&self, level: usize) -> Option<Expiration> {
        let occupied = self.levels[level].occupied;
        if occupied == 0 {
            return None;
        }
        // Search from the slot after the current one, so that the current
        // slot comes last: its span has begun, so only the top level can
        // hold entries there, and those wrapped around from the next
        // rotation. Lower levels never hold entries in their current slot.
        let first = (slot_for(self.elapsed, level) as u32 + 1) % SLOTS as u32;
        let slot = (occupied.rotate_right(first).trailing_zeros() + first) as usize % SLOTS;
        let level_start = self.elapsed & !(level_range(level) - 1);
        let mut deadline = level_start + slot as u64 * slot_range(level);
        if deadline <= self.elapsed {
            // Only the top level wraps: its slots behind the current one
            // hold deadlines of the next rotation.
            deadline += level_range(level);
        }
        Some(Expiration {
            level,
            slot,
            deadline,
        })
    }

    /// Advances the wheel to `now`, calling `fire` for every entry due at or
    /// before it, in deadline order across slots.
    pub(crate) fn advance(&mut self, now: u64, mut fire: impl FnMut(Key, &mut T)) {
        while let Some(exp) = self.next_expiration() {
            if exp.deadline > now {
                break;
            }
            self.process(exp, &mut fire);
        }
        if now > self.elapsed {
            self.elapsed = now;
        }
    }

    fn process(&mut self, exp: Expiration, fire: &mut impl FnMut(Key, &mut T)) {
        // Detach the whole slot first: re-linked entries may land in
        // another slot of the same level (never this one, whose span has
        // now begun).
        let mut cursor = std::mem::replace(&mut self.levels[exp.level].heads[exp.slot], NIL);
        self.levels[exp.level].occupied &= !(1 << exp.slot);
        self.elapsed = self.elapsed.max(exp.deadline);
        while cursor != NIL {
            let key = cursor as usize;
            let e = &mut self.entries[key];
            cursor = e.next;
            e.prev = NIL;
            e.next = NIL;
            e.set_at(None);
            if e.when() <= self.elapsed {
                self.pending -= 1;
                fire(Key::new(key), &mut e.value);
            } else {
                self.link(key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_is_the_most_significant_differing_six_bit_group() {
        assert_eq!(level_for(0, 1), 0);
        assert_eq!(level_for(0, 63), 0);
        assert_eq!(level_for(0, 64), 1);
        assert_eq!(level_for(0, 4095), 1);
        assert_eq!(level_for(0, 4096), 2);
        assert_eq!(level_for(100, 127), 0, "same 64-tick span as 100");
        assert_eq!(level_for(100, 128), 1);
        assert_eq!(level_for(0, 1 << 30), 5);
        assert_eq!(
            level_for(0, u64::MAX),
            LEVELS - 1,
            "far deadlines clamp to the top"
        );
    }

    #[test]
    fn slot_is_the_six_bit_group_of_the_level() {
        assert_eq!(slot_for(0b101_000011, 0), 0b000011);
        assert_eq!(slot_for(0b101_000011, 1), 0b101);
        assert_eq!(slot_for(3 << 12, 2), 3);
        assert_eq!(slot_range(0), 1);
        assert_eq!(slot_range(2), 4096);
        assert_eq!(level_range(0), 64);
        assert_eq!(MAX_TICKS, (1 << 36) - 1);
    }

    #[test]
    fn next_expiration_is_exact_on_level_zero_and_a_slot_start_above() {
        let mut w = Wheel::new(1000);
        w.insert(1010, ()).unwrap();
        assert_eq!(w.next_expiration().unwrap().deadline, 1010);
        let mut w = Wheel::new(0);
        w.insert(5000, ()).unwrap();
        let exp = w.next_expiration().unwrap();
        assert_eq!(exp.level, 2);
        assert_eq!(exp.deadline, 4096, "the start of the slot holding 5000");
    }

    #[test]
    fn a_deadline_not_after_now_is_refused() {
        let mut w = Wheel::new(50);
        assert_eq!(w.insert(50, 'a'), Err('a'));
        assert_eq!(w.insert(49, 'b'), Err('b'));
        assert!(w.insert(51, 'c').is_ok());
    }

    fn drain(w: &mut Wheel<u64>, until: u64) -> Vec<(u64, u64)> {
        let mut fired = Vec::new();
        let mut now = w.elapsed();
        while now < until {
            now = w.next_expiration().map_or(until, |e| e.deadline.min(until));
            w.advance(now, |_, v| fired.push((*v, now)));
        }
        fired
    }

    #[test]
    fn entries_fire_in_deadline_order_and_never_early() {
        let mut w = Wheel::new(7);
        let deadlines = [8, 70, 64, 9000, 65, 1 << 20, 4096, 4095, 300_000, 12];
        for d in deadlines {
            w.insert(d, d).unwrap();
        }
        let fired = drain(&mut w, 2 << 20);
        let mut sorted = deadlines.to_vec();
        sorted.sort();
        assert_eq!(fired.iter().map(|f| f.0).collect::<Vec<_>>(), sorted);
        for (deadline, at) in fired {
            assert_eq!(deadline, at, "fired exactly at its deadline");
        }
        assert_eq!(w.pending(), 0);
        assert_eq!(w.len(), deadlines.len(), "fired entries wait for removal");
    }

    #[test]
    fn removing_unlinks_and_clears_the_slot() {
        let mut w = Wheel::new(0);
        let a = w.insert(10, 1).unwrap();
        let b = w.insert(10, 2).unwrap();
        let c = w.insert(10, 3).unwrap();
        assert_eq!(w.remove(b), Some(2));
        assert_eq!(w.next_expiration().unwrap().deadline, 10);
        assert_eq!(w.remove(a), Some(1));
        assert_eq!(w.remove(c), Some(3));
        assert_eq!(w.next_expiration(), None);
        assert_eq!(w.levels[0].occupied, 0);
        assert_eq!(w.remove(c), None, "a removed key is gone");
    }

    #[test]
    fn fired_entries_keep_their_key_until_removed() {
        let mut w = Wheel::new(0);
        let a = w.insert(3, 'a').unwrap();
        w.advance(3, |_, _| {});
        assert!(w.is_fired(a));
        assert_eq!(w.get_mut(a), Some(&mut 'a'));
        assert_eq!(w.remove(a), Some('a'));
        assert_eq!(w.len(), 0);
    }

    #[test]
    fn a_wheel_emptied_in_any_order_hands_out_keys_in_order_again() {
        // After a storm, entries go in firing order, which is not key
        // order. Keys handed out in the order they were freed would send
        // the next storm's inserts all over the entries' memory.
        let mut w = Wheel::new(0);
        let keys: Vec<Key> = (1..=20).map(|d| w.insert(d, d).unwrap()).collect();
        for i in [
            7, 3, 19, 0, 12, 5, 16, 1, 9, 14, 2, 18, 6, 11, 4, 17, 10, 15, 8, 13,
        ] {
            w.remove(keys[i]);
        }
        assert_eq!(w.len(), 0);
        let again: Vec<Key> = (1..=20).map(|d| w.insert(d, d).unwrap()).collect();
        assert_eq!(again, keys);
    }

    #[test]
    fn far_deadlines_wrap_the_top_level_and_fire_on_time() {
        let start = 5;
        let mut w = Wheel::new(start);
        let far = start + MAX_TICKS + 12_345;
        w.insert(far, far).unwrap();
        let fired = drain(&mut w, far + 10);
        assert_eq!(fired, vec![(far, far)]);
    }

    #[test]
    fn a_deadline_past_the_largest_tick_waits_at_that_tick() {
        let mut w = Wheel::new(MAX_WHEN - 10);
        let key = w.insert(u64::MAX, 'x').unwrap();
        w.advance(MAX_WHEN - 1, |_, _| panic!("fired early"));
        assert!(!w.is_fired(key));
        w.advance(MAX_WHEN, |_, v| assert_eq!(*v, 'x'));
        assert!(w.is_fired(key));
    }

    #[test]
    fn a_wrapped_entry_in_the_current_top_slot_does_not_hide_later_slots() {
        let mut w = Wheel::new(0);
        // Beyond the top level's span: it wraps into the top level's
        // current slot, which comes up again only a whole rotation later.
        let far = (1 << 36) + 5;
        // Also on the top level (it crosses a 2^30 boundary), one slot on.
        let near = (1 << 30) + 7;
        w.insert(far, far).unwrap();
        w.insert(near, near).unwrap();
        assert_eq!(w.next_expiration().unwrap().deadline, 1 << 30);
        let fired = drain(&mut w, far + 1);
        assert_eq!(fired, vec![(near, near), (far, far)]);
    }

    #[test]
    #[cfg_attr(miri, ignore = "a million entries take hours under miri")]
    fn a_million_timers_fire_in_order() {
        let mut w = Wheel::new(0);
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut deadlines = Vec::with_capacity(1_000_000);
        for _ in 0..1_000_000 {
            // xorshift: deterministic deadlines spread over ~17 minutes.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let d = 1 + x % 1_000_000;
            deadlines.push(d);
            w.insert(d, d).unwrap();
        }
        let mut last = 0;
        let mut count = 0;
        let mut now = 0;
        while let Some(exp) = w.next_expiration() {
            now = exp.deadline;
            w.advance(now, |_, v| {
                assert!(*v <= now, "early: {v} at {now}");
                assert!(*v >= last, "out of order");
                last = *v;
                count += 1;
            });
        }
        assert_eq!(count, 1_000_000);
        assert_eq!(now, *deadlines.iter().max().unwrap());
    }
}
