//! [`Pages`]: the timer wheel's entries, a slab in pages of fixed size.
//!
//! Why not one `Slab`: it grows by doubling one vector, which copies every
//! entry at each step and touches about twice the memory it ends up with.
//! In a wasm instance every first touch of a 4 KiB page is a host page
//! fault: a storm of 100,000 sleeps took about 1,000 more faults, and a
//! `memmove` at every doubling, in its setup (docs/benchmarks.md).
//!
//! Ground rules:
//! - Page `p` holds keys `p * PAGE ..= p * PAGE + PAGE - 1` and never more
//!   than `PAGE` entries, so an entry never moves and a key stays valid
//!   while the store grows.
//! - The first page starts empty and grows by doubling up to `PAGE`
//!   entries, so that a wheel of a few timers stays small. Later pages are
//!   allocated at full size, once.
//! - Inserts go to the last page that got room (`open`, a stack).
//! - A page that becomes empty is cleared. Its vacant entries were chained
//!   in the order they were freed, which after a storm is firing order,
//!   not key order: the next storm's inserts would follow that chain all
//!   over the page, a cache miss each. Cleared, the page fills in key order
//!   again. A clear costs at most one step per insert since the last one.
//!   Once the whole store is empty, pages fill from the first again.

use std::ops::{Index, IndexMut};

use slab::Slab;

/// Small pages in tests, so that every test of the wheel crosses pages.
#[cfg(not(test))]
const PAGE_BITS: u32 = 12;
#[cfg(test)]
const PAGE_BITS: u32 = 3;
const PAGE: usize = 1 << PAGE_BITS;
const MASK: usize = PAGE - 1;

/// A slab of `T` in pages of `PAGE` entries.
pub(crate) struct Pages<T> {
    pages: Vec<Slab<T>>,
    /// The pages with room, the one to fill next last.
    open: Vec<usize>,
    len: usize,
}

impl<T> Pages<T> {
    pub(crate) const fn new() -> Pages<T> {
        Pages {
            pages: Vec::new(),
            open: Vec::new(),
            len: 0,
        }
    }

    /// Entries stored.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Stores `value` and returns its key.
    pub(crate) fn insert(&mut self, value: T) -> usize {
        let p = match self.open.last() {
            Some(&p) => p,
            None => {
                let page = if self.pages.is_empty() {
                    Slab::new()
                } else {
                    Slab::with_capacity(PAGE)
                };
                self.pages.push(page);
                self.open.push(self.pages.len() - 1);
                self.pages.len() - 1
            }
        };
        let page = &mut self.pages[p];
        let key = page.insert(value);
        if page.len() == PAGE {
            self.open.pop();
        }
        self.len += 1;
        (p << PAGE_BITS) | key
    }

    pub(crate) fn get(&self, key: usize) -> Option<&T> {
        self.pages.get(key >> PAGE_BITS)?.get(key & MASK)
    }

    pub(crate) fn get_mut(&mut self, key: usize) -> Option<&mut T> {
        self.pages.get_mut(key >> PAGE_BITS)?.get_mut(key & MASK)
    }

    /// Removes the entry of `key`, if there is one.
    pub(crate) fn remove(&mut self, key: usize) -> Option<T> {
        let p = key >> PAGE_BITS;
        let page = self.pages.get_mut(p)?;
        let was_full = page.len() == PAGE;
        let value = page.try_remove(key & MASK)?;
        self.len -= 1;
        if was_full {
            self.open.push(p);
        }
        if page.is_empty() {
            page.clear();
        }
        if self.len == 0 {
            // Every page has room now: fill them from the first.
            self.open.sort_unstable_by(|a, b| b.cmp(a));
        }
        Some(value)
    }
}

impl<T> Index<usize> for Pages<T> {
    type Output = T;

    fn index(&self, key: usize) -> &T {
        &self.pages[key >> PAGE_BITS][key & MASK]
    }
}

impl<T> IndexMut<usize> for Pages<T> {
    fn index_mut(&mut self, key: usize) -> &mut T {
        &mut self.pages[key >> PAGE_BITS][key & MASK]
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;
    use proptest::sample::Index as Pick;

    use super::*;

    #[test]
    fn a_store_emptied_in_any_order_fills_in_key_order_again() {
        let mut pages = Pages::new();
        let keys: Vec<usize> = (0..3 * PAGE).map(|i| pages.insert(i)).collect();
        assert_eq!(keys, (0..3 * PAGE).collect::<Vec<_>>());
        // Interleaved across the pages, so each page gets room at another
        // time.
        for k in (0..3 * PAGE)
            .rev()
            .step_by(2)
            .chain((0..3 * PAGE).step_by(2))
        {
            pages.remove(k);
        }
        assert_eq!(pages.len(), 0);
        let again: Vec<usize> = (0..3 * PAGE).map(|i| pages.insert(i)).collect();
        assert_eq!(again, keys, "not in the order the keys were freed");
    }

    #[test]
    fn pages_past_the_first_are_allocated_once_at_full_size() {
        let mut pages = Pages::new();
        for i in 0..3 * PAGE {
            pages.insert(i);
        }
        assert_eq!(pages.pages.len(), 3);
        assert!(pages.pages.iter().all(|p| p.capacity() == PAGE));
    }

    #[test]
    fn a_page_that_gets_room_is_filled_first() {
        let mut pages = Pages::new();
        for i in 0..2 * PAGE {
            pages.insert(i);
        }
        assert_eq!(pages.remove(3), Some(3));
        assert_eq!(pages.insert(99), 3, "page 0's hole, before a new page");
        assert_eq!(pages.insert(100), 2 * PAGE, "then a third page");
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert,
        Remove(Pick),
        RemoveStale(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            5 => Just(Op::Insert),
            4 => any::<Pick>().prop_map(Op::Remove),
            1 => (0usize..8 * PAGE).prop_map(Op::RemoveStale),
        ]
    }

    proptest! {
        /// Against a map from key to value: every key is unique among the
        /// live ones, every value stays where its key says, and a key that
        /// is not live finds nothing.
        #[test]
        fn keys_find_their_values_across_pages(ops in proptest::collection::vec(op(), 1..400)) {
            let mut pages = Pages::new();
            let mut model: HashMap<usize, u32> = HashMap::new();
            let mut next = 0u32;
            for op in ops {
                match op {
                    Op::Insert => {
                        let key = pages.insert(next);
                        prop_assert!(model.insert(key, next).is_none(), "key {key} handed out twice");
                        next += 1;
                    }
                    Op::Remove(pick) if !model.is_empty() => {
                        let mut live: Vec<usize> = model.keys().copied().collect();
                        live.sort_unstable();
                        let key = live[pick.index(live.len())];
                        prop_assert_eq!(pages.remove(key), model.remove(&key));
                    }
                    Op::Remove(_) => {}
                    Op::RemoveStale(key) => {
                        prop_assert_eq!(pages.remove(key), model.remove(&key));
                    }
                }
                prop_assert_eq!(pages.len(), model.len());
                for (&key, value) in &model {
                    prop_assert_eq!(pages.get(key), Some(value));
                    prop_assert_eq!(pages[key], *value);
                }
            }
        }
    }
}
