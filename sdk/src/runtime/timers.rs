//! The runtime's side of the timer wheel: milliseconds from nanoseconds,
//! lazy creation, and the single host pollable that stands for every timer.
//!
//! Ground rules:
//! - Deadlines round *up* to the next millisecond and the clock rounds
//!   *down*, so a timer never fires before its deadline.
//! - One `subscribe-instant` pollable serves all timers. It is replaced only
//!   when the wheel's next expiration moves, and dropped as soon as no timer
//!   is left. (Mode N has no pollables: its one `wait-until` lives in the
//!   timer task of `runtime::native`, which reads [`Timers::next_tick`].)

use std::task::Waker;

use crate::backend;
use crate::time::wheel::{Key, Wheel};

const NS_PER_MS: u64 = 1_000_000;

fn ceil_ms(ns: u64) -> u64 {
    ns.div_ceil(NS_PER_MS)
}

#[derive(Default)]
pub(crate) struct Timers {
    /// Each timer's waker; a fired timer's is a no-op waker, so that the
    /// wheel's entries need no `Option` (see `wheel::Entry`).
    wheel: Option<Wheel<Waker>>,
    /// The host pollable and the tick it is set for.
    #[cfg(any(not(target_family = "wasm"), not(feature = "native")))]
    armed: Option<(u64, backend::Pollable)>,
    /// Counts the pollables armed so far, never reset: it tells one armed
    /// pollable from the next even when both are set for the same tick.
    #[cfg(any(not(target_family = "wasm"), not(feature = "native")))]
    serial: u64,
    pub(crate) rearms: u64,
}

impl Timers {
    /// Timers in the wheel, fired or not.
    pub(crate) fn len(&self) -> usize {
        self.wheel.as_ref().map_or(0, Wheel::len)
    }

    /// Timers not yet fired.
    pub(crate) fn pending(&self) -> usize {
        self.wheel.as_ref().map_or(0, Wheel::pending)
    }

    /// Registers a timer for `deadline_ns`, or returns `None` if it is due.
    pub(crate) fn register(&mut self, deadline_ns: u64, waker: &Waker) -> Option<Key> {
        let when = ceil_ms(deadline_ns);
        let wheel = match &mut self.wheel {
            Some(w) => {
                if w.pending() == 0 {
                    // The wheel idled and its notion of now went stale.
                    w.advance(backend::now_ns() / NS_PER_MS, |_, _| {});
                }
                w
            }
            None => self.wheel.insert(Wheel::new(backend::now_ns() / NS_PER_MS)),
        };
        wheel.insert(when, waker.clone()).ok()
    }

    pub(crate) fn is_fired(&self, key: Key) -> bool {
        self.wheel.as_ref().is_some_and(|w| w.is_fired(key))
    }

    /// Stores a newer waker for a timer that has not fired.
    pub(crate) fn set_waker(&mut self, key: Key, waker: &Waker) {
        if let Some(slot) = self.wheel.as_mut().and_then(|w| w.get_mut(key)) {
            // Clones only if `waker` would wake another task.
            slot.clone_from(waker);
        }
    }

    /// Removes a timer, fired or not. Returns its waker for dropping
    /// outside the runtime borrow.
    pub(crate) fn remove(&mut self, key: Key) -> Option<Waker> {
        let waker = self.wheel.as_mut()?.remove(key);
        #[cfg(any(not(target_family = "wasm"), not(feature = "native")))]
        if self.pending() == 0 {
            self.armed = None;
        }
        waker
    }

    /// The tick (millisecond) of the wheel's next expiration.
    pub(crate) fn next_tick(&self) -> Option<u64> {
        self.wheel
            .as_ref()
            .and_then(|w| w.next_expiration())
            .map(|e| e.deadline)
    }

    /// Nanoseconds at which `tick` starts.
    #[cfg(any(not(target_family = "wasm"), feature = "native"))]
    pub(crate) fn tick_ns(tick: u64) -> u64 {
        tick.saturating_mul(NS_PER_MS)
    }
}

#[cfg(any(not(target_family = "wasm"), not(feature = "native")))]
impl Timers {
    /// Points the host pollable at the wheel's next expiration.
    pub(crate) fn arm(&mut self) {
        let next = self.next_tick();
        match next {
            None => self.armed = None,
            Some(tick) if self.armed.as_ref().is_some_and(|(t, _)| *t == tick) => {}
            Some(tick) => {
                self.armed = Some((tick, backend::timer_at(tick * NS_PER_MS)));
                self.serial += 1;
                self.rearms += 1;
            }
        }
    }

    /// Which host pollable is armed, if any: changes whenever it is
    /// replaced or dropped, even for another one at the same tick (whose
    /// handle differs, or names another resource meanwhile).
    #[cfg_attr(
        all(target_family = "wasm", not(feature = "concurrent")),
        allow(dead_code)
    )]
    pub(crate) fn armed_serial(&self) -> Option<u64> {
        self.armed.as_ref().map(|_| self.serial)
    }

    pub(crate) fn armed_handle(&self) -> Option<u32> {
        self.armed.as_ref().map(|(_, p)| backend::handle(p))
    }
}

impl Timers {
    /// Advances the wheel to `now_ns`, waking every timer due; returns how
    /// many fired.
    pub(crate) fn advance(&mut self, now_ns: u64, mut wake: impl FnMut(Waker)) -> u64 {
        let Some(wheel) = &mut self.wheel else {
            return 0;
        };
        let mut fired = 0;
        wheel.advance(now_ns / NS_PER_MS, |_, waker| {
            fired += 1;
            wake(std::mem::replace(waker, Waker::noop().clone()));
        });
        #[cfg(any(not(target_family = "wasm"), not(feature = "native")))]
        if wheel.pending() == 0 {
            self.armed = None;
        }
        fired
    }
}

#[cfg(test)]
mod tests {
    use super::ceil_ms;

    #[test]
    fn deadlines_round_up_to_whole_milliseconds() {
        assert_eq!(ceil_ms(0), 0);
        assert_eq!(ceil_ms(1), 1);
        assert_eq!(ceil_ms(1_000_000), 1);
        assert_eq!(ceil_ms(1_000_001), 2);
    }
}
