//! A simulated host for native tests: a virtual monotonic clock and
//! pollables that tests make ready by hand or at a virtual instant.
//!
//! Time never passes on its own. A blocking poll with nothing ready jumps
//! the clock straight to the earliest instant at which a polled pollable
//! becomes ready (like a paused tokio clock), so a test that sleeps an hour
//! finishes at once and every ordering is deterministic. State is per
//! thread, like the runtime itself, so tests run in parallel.
//!
//! Mode N is simulated too: `wasi:clocks@0.3` `wait-until` subtasks (which
//! [`advance`] and [`advance_to_next_wait`] complete) and the keeper that
//! the runtime puts into a component-model task ([`take_keepers`]); a test
//! plays the host's part of running those tasks.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use wasync::sim;
//! use wasync::time::{Instant, sleep};
//!
//! wasync::block_on(async {
//!     let start = Instant::now();
//!     sleep(Duration::from_secs(3600)).await;
//!     assert!(start.elapsed() >= Duration::from_secs(3600));
//! });
//! ```

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use slab::Slab;

struct State {
    ready: bool,
    ready_at: Option<u64>,
}

struct Sim {
    clock_ns: u64,
    pollables: Slab<State>,
    limit: Option<usize>,
    /// Mode C: what the guest last parked, and imported-call traffic.
    parks: Vec<Park>,
    calls: Vec<(u32, u32)>,
    cancelled_calls: Vec<u32>,
    /// Mode N: outstanding `wait-until`s (deadline, waker), and counts.
    waits: Slab<(u64, Option<Waker>)>,
    wait_stats: WaitStats,
    keepers: Vec<Pin<Box<dyn Future<Output = ()>>>>,
    /// `wasync::rand`: the seed and the generator's state.
    seed: u64,
    rng: u64,
}

/// Mode N: what the simulated host saw of `wait-until`.
///
/// # Examples
///
/// ```
/// let w = wasync::sim::wait_stats();
/// assert_eq!(w.outstanding, 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WaitStats {
    /// `wait-until` calls made.
    pub calls: u64,
    /// Of those, cancelled before they completed.
    pub cancelled: u64,
    /// Outstanding now.
    pub outstanding: usize,
    /// The most outstanding at once.
    pub max_outstanding: usize,
}

/// One `park` of a simulated mode C guest.
///
/// # Examples
///
/// ```
/// let park = wasync::sim::Park { waiting: vec![1], finished: vec![] };
/// assert_eq!(park.waiting, [1]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Park {
    /// Handles of the parked pollables.
    pub waiting: Vec<u32>,
    /// Export calls reported finished.
    pub finished: Vec<u32>,
}

thread_local! {
    static SIM: RefCell<Sim> = const {
        RefCell::new(Sim {
            // Far from zero, so that arithmetic that would underflow on a
            // real clock misbehaves here too.
            clock_ns: 1_000_000_000_000,
            pollables: Slab::new(),
            limit: None,
            parks: Vec::new(),
            calls: Vec::new(),
            cancelled_calls: Vec::new(),
            waits: Slab::new(),
            wait_stats: WaitStats {
                calls: 0,
                cancelled: 0,
                outstanding: 0,
                max_outstanding: 0,
            },
            keepers: Vec::new(),
            seed: DEFAULT_SEED,
            rng: DEFAULT_SEED,
        })
    };
}

/// The seed every thread's simulated `wasi:random` starts from.
const DEFAULT_SEED: u64 = 0x5eed_fa57_c0de;

fn with<R>(f: impl FnOnce(&mut Sim) -> R) -> R {
    SIM.with(|s| f(&mut s.borrow_mut()))
}

/// A simulated `wasi:io/poll.pollable`. Like the real one it is not
/// `Clone`; dropping it frees its handle for reuse.
///
/// # Examples
///
/// ```
/// use wasync::sim::Pollable;
///
/// let p = Pollable::new();
/// wasync::block_on(async {
///     wasync::spawn({
///         let handle = p.handle();
///         async move { wasync::sim::set_ready(handle) }
///     });
///     wasync::wait_for(&p).await;
/// });
/// assert!(p.is_ready());
/// ```
#[derive(Debug)]
pub struct Pollable {
    id: u32,
}

impl Pollable {
    /// A pollable that is ready only once [`Pollable::set_ready`] is called.
    ///
    /// # Examples
    ///
    /// ```
    /// let p = wasync::sim::Pollable::new();
    /// assert!(!p.is_ready());
    /// ```
    pub fn new() -> Pollable {
        Pollable::with_state(None)
    }

    /// A pollable that becomes ready when the virtual clock reaches
    /// `after` from now.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let p = wasync::sim::Pollable::ready_after(Duration::from_secs(1));
    /// assert!(!p.is_ready());
    /// wasync::sim::advance(Duration::from_secs(1));
    /// assert!(p.is_ready());
    /// ```
    pub fn ready_after(after: Duration) -> Pollable {
        let at = now_ns().saturating_add(after.as_nanos().try_into().unwrap_or(u64::MAX));
        Pollable::with_state(Some(at))
    }

    fn with_state(ready_at: Option<u64>) -> Pollable {
        let key = with(|s| {
            s.pollables.insert(State {
                ready: false,
                ready_at,
            })
        });
        Pollable {
            id: u32::try_from(key).expect("fewer than 2^32 simulated pollables"),
        }
    }

    /// Makes this pollable ready, for good.
    ///
    /// # Examples
    ///
    /// ```
    /// let p = wasync::sim::Pollable::new();
    /// p.set_ready();
    /// assert!(p.is_ready());
    /// ```
    pub fn set_ready(&self) {
        set_ready(self.id);
    }

    /// Whether the host would report this pollable as ready now.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!wasync::sim::Pollable::new().is_ready());
    /// ```
    pub fn is_ready(&self) -> bool {
        with(|s| {
            s.pollables
                .get(self.id as usize)
                .is_some_and(|p| is_ready(p, s.clock_ns))
        })
    }

    /// The handle, which a task can capture to make the pollable ready
    /// with [`set_ready`] while another future borrows it.
    ///
    /// # Examples
    ///
    /// ```
    /// let p = wasync::sim::Pollable::new();
    /// wasync::sim::set_ready(p.handle());
    /// assert!(p.is_ready());
    /// ```
    pub fn handle(&self) -> u32 {
        self.id
    }
}

impl Default for Pollable {
    fn default() -> Pollable {
        Pollable::new()
    }
}

impl Drop for Pollable {
    fn drop(&mut self) {
        // At thread exit the simulation may already be gone.
        let _ = SIM.try_with(|s| {
            if let Ok(mut s) = s.try_borrow_mut() {
                s.pollables.try_remove(self.id as usize);
            }
        });
    }
}

fn is_ready(p: &State, now: u64) -> bool {
    p.ready || p.ready_at.is_some_and(|t| t <= now)
}

/// Makes the pollable with `handle` ready. Unknown handles are ignored.
///
/// # Examples
///
/// ```
/// let p = wasync::sim::Pollable::new();
/// wasync::sim::set_ready(p.handle());
/// wasync::sim::set_ready(u32::MAX); // unknown: ignored
/// assert!(p.is_ready());
/// ```
pub fn set_ready(handle: u32) {
    with(|s| {
        if let Some(p) = s.pollables.get_mut(handle as usize) {
            p.ready = true;
        }
    });
}

/// Moves the virtual clock forward.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wasync::time::Instant;
///
/// let t = Instant::now();
/// wasync::sim::advance(Duration::from_millis(7));
/// assert_eq!(Instant::now() - t, Duration::from_millis(7));
/// ```
pub fn advance(by: Duration) {
    with(|s| {
        s.clock_ns = s
            .clock_ns
            .saturating_add(by.as_nanos().try_into().unwrap_or(u64::MAX));
    });
    wake_due_waits();
}

/// Mode N: moves the virtual clock to the earliest outstanding
/// `wait-until` and completes it (and any other due by then). Returns
/// false if none is outstanding.
///
/// # Examples
///
/// ```
/// assert!(!wasync::sim::advance_to_next_wait());
/// ```
pub fn advance_to_next_wait() -> bool {
    let next = with(|s| {
        // Completed ones whose future has not looked yet do not count.
        let now = s.clock_ns;
        let next = s
            .waits
            .iter()
            .filter(|(_, (t, w))| *t > now || w.is_some())
            .map(|(_, (t, _))| *t)
            .min()?;
        s.clock_ns = s.clock_ns.max(next);
        Some(next)
    });
    wake_due_waits();
    next.is_some()
}

/// Mode N: counts of the simulated `wait-until` subtasks.
///
/// # Examples
///
/// ```
/// assert_eq!(wasync::sim::wait_stats().calls, 0);
/// ```
pub fn wait_stats() -> WaitStats {
    with(|s| s.wait_stats)
}

/// Mode N: the futures the runtime put into the component-model task whose
/// future was being polled (wit-bindgen's `spawn_local`), to be run by that
/// task from now on. Forgets them.
///
/// # Examples
///
/// ```
/// assert!(wasync::sim::take_keepers().is_empty());
/// ```
pub fn take_keepers() -> Vec<Pin<Box<dyn Future<Output = ()>>>> {
    with(|s| std::mem::take(&mut s.keepers))
}

/// Wakes the `wait-until`s due by now, outside the simulation's borrow.
fn wake_due_waits() {
    let due: Vec<Waker> = with(|s| {
        let now = s.clock_ns;
        s.waits
            .iter_mut()
            .filter(|(_, (t, _))| *t <= now)
            .filter_map(|(_, (_, w))| w.take())
            .collect()
    });
    for w in due {
        w.wake();
    }
}

/// Mode N: one simulated `wait-until` subtask. Dropping it before it
/// completes cancels it.
struct WaitUntil {
    deadline: u64,
    key: Option<usize>,
}

impl Future for WaitUntil {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let deadline = self.deadline;
        let key = self.key;
        let ready = with(|s| {
            let key = match key {
                Some(k) => k,
                None => {
                    s.wait_stats.calls += 1;
                    s.wait_stats.outstanding += 1;
                    s.wait_stats.max_outstanding =
                        s.wait_stats.max_outstanding.max(s.wait_stats.outstanding);
                    s.waits.insert((deadline, None))
                }
            };
            if s.clock_ns >= deadline {
                s.waits.remove(key);
                s.wait_stats.outstanding -= 1;
                return None;
            }
            s.waits[key].1 = Some(cx.waker().clone());
            Some(key)
        });
        match ready {
            None => {
                self.key = None;
                Poll::Ready(())
            }
            Some(k) => {
                self.key = Some(k);
                Poll::Pending
            }
        }
    }
}

impl Drop for WaitUntil {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            let _ = SIM.try_with(|s| {
                if let Ok(mut s) = s.try_borrow_mut() {
                    s.waits.try_remove(key);
                    s.wait_stats.outstanding -= 1;
                    s.wait_stats.cancelled += 1;
                }
            });
        }
    }
}

/// Reports at most `limit` ready pollables per poll, as wasmtime does for
/// clock pollables (128 per call); `None` reports all of them.
///
/// # Examples
///
/// ```
/// wasync::sim::set_poll_limit(Some(128));
/// wasync::sim::set_poll_limit(None);
/// ```
pub fn set_poll_limit(limit: Option<usize>) {
    with(|s| s.limit = limit);
}

fn now_ns() -> u64 {
    with(|s| s.clock_ns)
}

/// Mode C: every park so far, oldest first (and forgets them).
///
/// # Examples
///
/// ```
/// assert!(wasync::sim::take_parks().is_empty());
/// ```
pub fn take_parks() -> Vec<Park> {
    with(|s| std::mem::take(&mut s.parks))
}

/// Mode C: the positions in `handles` (a parked list) of the pollables that
/// are ready now, as a host would pass them to `wake`. Unknown handles are
/// never ready. Does not wait and does not move the clock.
///
/// # Examples
///
/// ```
/// let (a, b) = (wasync::sim::Pollable::new(), wasync::sim::Pollable::new());
/// b.set_ready();
/// let ready = wasync::sim::ready_positions(&[a.handle(), b.handle(), u32::MAX]);
/// assert_eq!(ready, [1]);
/// ```
pub fn ready_positions(handles: &[u32]) -> Vec<u32> {
    with(|s| {
        (0..)
            .zip(handles)
            .filter(|(_, h)| {
                s.pollables
                    .get(**h as usize)
                    .is_some_and(|p| is_ready(p, s.clock_ns))
            })
            .map(|(i, _)| i)
            .collect()
    })
}

/// Mode C: finishes imported call `id` (an `err(id)` from an imported
/// `g-start`): its pollable becomes ready.
///
/// # Examples
///
/// ```
/// // No imported call 3 is in flight: nothing happens.
/// wasync::sim::finish_imported_call(3);
/// ```
pub fn finish_imported_call(id: u32) {
    let handle = with(|s| s.calls.iter().find(|(c, _)| *c == id).map(|(_, h)| *h));
    if let Some(h) = handle {
        set_ready(h);
    }
}

/// Mode C: imported calls the guest abandoned (and forgets them).
///
/// # Examples
///
/// ```
/// assert!(wasync::sim::take_cancelled_calls().is_empty());
/// ```
pub fn take_cancelled_calls() -> Vec<u32> {
    with(|s| std::mem::take(&mut s.cancelled_calls))
}

/// Restarts this thread's simulated `wasi:random` from `seed`:
/// [`crate::rand`] then gives the same numbers again.
///
/// # Examples
///
/// ```
/// wasync::sim::seed_random(7);
/// let a = wasync::rand::u64();
/// wasync::sim::seed_random(7);
/// assert_eq!(wasync::rand::u64(), a);
/// ```
pub fn seed_random(seed: u64) {
    with(|s| {
        s.seed = seed;
        s.rng = seed;
    });
}

/// The next number of the simulated `wasi:random` (splitmix64).
pub(crate) fn random_u64() -> u64 {
    with(|s| {
        s.rng = s.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = s.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    })
}

/// Fills `buf` from [`random_u64`].
pub(crate) fn random_bytes(buf: &mut [u8]) {
    for chunk in buf.chunks_mut(8) {
        let n = random_u64().to_le_bytes();
        chunk.copy_from_slice(&n[..chunk.len()]);
    }
}

/// The simulated `wasi:random/insecure-seed`: fixed by the seed.
pub(crate) fn random_seed() -> (u64, u64) {
    with(|s| (s.seed, s.seed.rotate_left(32)))
}

/// What the runtime uses in place of the wasi and p3 backends.
pub(crate) mod backend {
    use std::future::Future;

    use super::Pollable;
    use super::{is_ready, with};

    pub(crate) fn wait_until(deadline_ns: u64) -> impl Future<Output = ()> + 'static {
        super::WaitUntil {
            deadline: deadline_ns,
            key: None,
        }
    }

    pub(crate) fn spawn_keeper(future: impl Future<Output = ()> + 'static) {
        with(|s| s.keepers.push(Box::pin(future)));
    }

    pub(crate) fn handle(p: &Pollable) -> u32 {
        p.id
    }

    pub(crate) fn now_ns() -> u64 {
        super::now_ns()
    }

    pub(crate) fn timer_at(deadline_ns: u64) -> Pollable {
        Pollable::with_state(Some(deadline_ns))
    }

    pub(crate) fn immediate() -> Pollable {
        let p = Pollable::new();
        p.set_ready();
        p
    }

    #[derive(Default)]
    pub(crate) struct Poller;

    pub(crate) fn subscribe_call(id: u32) -> Pollable {
        let p = Pollable::new();
        with(|s| s.calls.push((id, p.id)));
        p
    }

    pub(crate) fn cancel_call(id: u32) {
        with(|s| {
            s.calls.retain(|(c, _)| *c != id);
            s.cancelled_calls.push(id);
        });
    }

    impl Poller {
        pub(crate) fn park(&mut self, handles: &[u32], finished: &[u32]) {
            with(|s| {
                s.parks.push(super::Park {
                    waiting: handles.to_vec(),
                    finished: finished.to_vec(),
                })
            });
        }

        pub(crate) fn poll(&mut self, handles: &[u32], out: &mut Vec<u32>) {
            with(|s| {
                let collect = |s: &super::Sim, out: &mut Vec<u32>| {
                    out.clear();
                    for (i, h) in handles.iter().enumerate() {
                        if s.pollables
                            .get(*h as usize)
                            .is_some_and(|p| is_ready(p, s.clock_ns))
                        {
                            out.push(i as u32);
                        }
                    }
                };
                collect(s, out);
                if out.is_empty() {
                    let next = handles
                        .iter()
                        .filter_map(|h| s.pollables.get(*h as usize)?.ready_at)
                        .min();
                    match next {
                        Some(t) => s.clock_ns = s.clock_ns.max(t),
                        None => panic!(
                            "wasync sim: a blocking poll would wait forever: none of the {} \
                             polled pollables can become ready",
                            handles.len()
                        ),
                    }
                    collect(s, out);
                }
                if let Some(limit) = s.limit {
                    out.truncate(limit.max(1));
                }
            });
        }
    }
}
