//! Mode N: the instance-wide runtime driven from the component-model tasks
//! of native WASI 0.3 export calls (see `/docs/` and the design notes).
//!
//! Ground rules:
//! - **Calls run in place.** Each async export call's future is polled by
//!   [`call`], inside that call's own component-model (CM) task, with a call
//!   waker of this runtime, so it may borrow `&self` and every wasync future
//!   works in it.
//! - **wasync tasks run only at home.** Home is one CM task: a call whose
//!   future is in flight, or after that call ended the *keeper* future put
//!   into the same CM task. Every CM waitable a task starts (the timer's
//!   `wait-until`, imported calls, stream operations) is therefore
//!   registered in home's waitable set, and home keeps a live future until
//!   the runtime has no work left, so no CM task is ever left waiting on a
//!   set that nothing will complete.
//! - **Claiming home.** When home is vacant and work appears, the call whose
//!   poll sees it claims home. Work that appears with no call in flight (a
//!   plain export that spawns) waits for the next async call.
//! - **Wakes.** A task woken outside a drive wakes home's CM waker once
//!   until the next drive. A call woken while its own poll is on the stack
//!   only sets a flag; otherwise its CM waker is woken (a cross-task wake
//!   through wit-bindgen's `inter-task-wakeup` when that task sleeps).
//! - **One `wait-until`.** The timer task (internal, not counted in the
//!   stats) owns at most one `wait-until` future, for the wheel's next tick.
//!   Every drive ends by comparing that tick with the armed one; the timer
//!   task drops the old future (cancelling the subtask) before it starts a
//!   new one, and ends once the wheel is empty.
//! - **No borrow across foreign code.** CM wakers are woken, futures are
//!   dropped and `wait-until` futures are cancelled after the runtime borrow
//!   ends: a plain export may run inside any built-in that blocks.

use std::cell::Cell;
use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};

use slab::Slab;

use super::{DRIVING, with};
use crate::backend;
use crate::raw;
use crate::runtime::timers::Timers;

thread_local! {
    /// Set under the runtime borrow when home must be woken once the borrow
    /// ends (see [`kick`]).
    pub(super) static KICK: Cell<bool> = const { Cell::new(false) };
}

/// Who polls the wasync tasks.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Home {
    Vacant,
    /// The call in this slot.
    Call(usize),
    /// The keeper, in the CM task of a call that ended.
    Keeper,
}

/// One async export call in flight.
struct CallSlot {
    /// The waker of the call's CM task (wit-bindgen's).
    cm_waker: Option<Waker>,
    /// Woken since its future was last polled (or not polled yet).
    woken: bool,
}

/// Mode N's part of the runtime state.
pub(crate) struct Native {
    calls: Slab<CallSlot>,
    /// Generation of each call slot, bumped when a call ends.
    gens: Vec<u32>,
    home: Home,
    /// Home's CM waker was woken since its last drive.
    home_woken: bool,
    keeper_waker: Option<Waker>,
    /// The call whose future is being polled.
    current: Option<usize>,
    /// The timer task, to wake it by.
    timer_task: Option<crate::raw_task::RawTask>,
    /// The tick of the outstanding `wait-until`.
    pub(crate) armed: Option<u64>,
}

impl Default for Native {
    fn default() -> Native {
        Native {
            calls: Slab::new(),
            gens: Vec::new(),
            home: Home::Vacant,
            home_woken: false,
            keeper_waker: None,
            current: None,
            timer_task: None,
            armed: None,
        }
    }
}

/// Why `block_on` panics in mode N.
#[cfg_attr(not(target_family = "wasm"), allow(dead_code))]
pub(crate) const BLOCK_ON_IN_MODE_N: &str = "wasync::block_on is not available in mode N (native \
    WASI 0.3): blocking would stall every call in flight in this instance, and WASI 0.3 has \
    nothing to block on. Make the export an `async fn` under `#[wasync::async_export]` and \
    `.await` the future there, or `wasync::spawn` it";

impl Native {
    fn packed(&self, index: usize) -> usize {
        ((self.gens[index] as usize) << raw::INDEX_BITS) | index
    }

    fn slot(&mut self, packed: usize) -> Option<(usize, &mut CallSlot)> {
        let index = packed & raw::INDEX_MASK;
        let current = ((*self.gens.get(index)? as usize) << raw::INDEX_BITS) | index;
        if current != packed {
            return None;
        }
        Some((index, self.calls.get_mut(index)?))
    }

    /// Marks call `packed` woken. Returns the CM waker to wake after the
    /// borrow, if its poll is not on the stack and it was not woken yet.
    pub(crate) fn wake_call(&mut self, packed: usize) -> Option<Waker> {
        let current = self.current;
        let (index, slot) = self.slot(packed)?;
        if std::mem::replace(&mut slot.woken, true) || current == Some(index) {
            return None;
        }
        slot.cm_waker.clone()
    }

    /// The CM waker that makes home drive, if one must be woken: none while
    /// a drive is on the stack, or when the call on the stack is home (or
    /// will claim it) and drives before its poll returns.
    fn home_waker(&mut self) -> Option<Waker> {
        if self.home_woken || DRIVING.with(Cell::get) {
            return None;
        }
        let waker = match self.home {
            Home::Call(h) if self.current == Some(h) => None,
            Home::Call(h) => self.calls.get(h).and_then(|s| s.cm_waker.clone()),
            Home::Keeper => self.keeper_waker.clone(),
            Home::Vacant if self.current.is_some() => None,
            // Any call in flight can claim home: wake the newest.
            Home::Vacant => self
                .calls
                .iter()
                .next_back()
                .and_then(|(_, s)| s.cm_waker.clone()),
        };
        self.home_woken = waker.is_some();
        waker
    }
}

/// Notes, under the runtime borrow, that home must run (a task became
/// runnable, was spawned, or the timer must re-arm). Home's CM waker is
/// woken when the borrow ends ([`super::with`] calls [`kick`]).
pub(crate) fn note_work() {
    if !DRIVING.with(Cell::get) {
        KICK.with(|k| k.set(true));
    }
}

/// Wakes home's CM waker if [`note_work`] asked for it. Runs outside the
/// runtime borrow: waking a CM waker may write to a wit-bindgen stream.
pub(super) fn kick() {
    if !KICK.with(|k| k.replace(false)) {
        return;
    }
    let waker = super::try_with(|rt| rt.native.home_waker()).flatten();
    if let Some(w) = waker {
        w.wake();
    }
}

/// The entry point of every call waker (see `raw`).
pub(crate) fn wake_call_packed(packed: usize) {
    let waker = super::try_with(|rt| rt.native.wake_call(packed)).flatten();
    if let Some(w) = waker {
        w.wake();
    }
}

/// Whether the runtime still has work that needs home: an unfinished task,
/// a pending timer, or a `wait-until` to cancel.
fn has_work(rt: &super::Runtime) -> bool {
    rt.unfinished > 0 || rt.timers.pending() > 0 || rt.native.timer_task.is_some()
}

/// Whether home has something to do now: a runnable task, or a timer tick
/// that differs from the armed one.
fn needs_drive(rt: &super::Runtime) -> bool {
    !rt.queue.is_empty() || rt.timers.next_tick() != rt.native.armed
}

/// Runs every runnable task, then lets the timer task re-arm, until nothing
/// is runnable. Only home calls it, and never while a drive is on the
/// stack.
fn drive() {
    struct Leave;
    impl Drop for Leave {
        fn drop(&mut self) {
            DRIVING.with(|d| d.set(false));
        }
    }
    DRIVING.with(|d| d.set(true));
    let _leave = Leave;
    with(|rt| rt.native.home_woken = false);
    loop {
        super::run_until_idle();
        let spawn_timer = with(|rt| {
            if rt.timers.next_tick() == rt.native.armed {
                return false;
            }
            match rt.native.timer_task.clone() {
                Some(raw) => {
                    rt.schedule_task(raw);
                    false
                }
                None => true,
            }
        });
        if spawn_timer {
            let raw = super::task::spawn_internal(TimerTask { current: None });
            with(|rt| rt.native.timer_task = Some(raw));
        }
        if with(|rt| rt.queue.is_empty()) {
            with(|rt| rt.stats.blocking_polls += 1);
            return;
        }
    }
}

/// One `wait-until` subtask, as a future.
type WaitUntil = Pin<Box<dyn Future<Output = ()>>>;

/// The one owner of the `wait-until` subtask.
struct TimerTask {
    /// The armed tick and its `wait-until`.
    current: Option<(u64, WaitUntil)>,
}

impl Future for TimerTask {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            let desired = with(|rt| rt.timers.next_tick());
            if self.current.as_ref().map(|(t, _)| *t) != desired {
                // At most one outstanding: the old one is cancelled first.
                if let Some((_, old)) = self.current.take() {
                    drop(old);
                    with(|rt| rt.native.armed = None);
                }
            }
            let Some(tick) = desired else {
                with(|rt| rt.native.timer_task = None);
                return Poll::Ready(());
            };
            let wait = match &mut self.current {
                Some((_, wait)) => wait,
                slot @ None => {
                    with(|rt| {
                        rt.native.armed = Some(tick);
                        rt.timers.rearms += 1;
                    });
                    let wait = Box::pin(backend::wait_until(Timers::tick_ns(tick)));
                    &mut slot.insert((tick, wait)).1
                }
            };
            match wait.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(()) => {
                    self.current = None;
                    with(|rt| {
                        rt.native.armed = None;
                        rt.fire_timers();
                    });
                }
            }
        }
    }
}

/// Frees a call's slot when its future is done or dropped, and hands home
/// on: to the keeper, in this same CM task, if work remains.
struct CallGuard {
    packed: usize,
}

impl CallGuard {
    fn new() -> CallGuard {
        let packed = with(|rt| {
            let n = &mut rt.native;
            let index = n.calls.insert(CallSlot {
                cm_waker: None,
                woken: true,
            });
            if index >= n.gens.len() {
                n.gens.resize(index + 1, 0);
            }
            n.packed(index)
        });
        CallGuard { packed }
    }

    fn index(&self) -> usize {
        self.packed & raw::INDEX_MASK
    }

    fn poll<F: Future>(&self, mut future: Pin<&mut F>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let index = self.index();
        // While this poll is on the stack, wakes of this call only set its
        // flag, and home needs no CM wake if this call is (or claims) it.
        let previous = with(|rt| {
            let slot = &mut rt.native.calls[index];
            if !slot
                .cm_waker
                .as_ref()
                .is_some_and(|w| w.will_wake(cx.waker()))
            {
                slot.cm_waker = Some(cx.waker().clone());
            }
            rt.native.current.replace(index)
        });
        // Inside a drive (the host entered the instance during a blocking
        // built-in) a call polls its own future only.
        let nested = DRIVING.with(Cell::get);
        let waker = raw::call_waker(self.packed);
        let result = loop {
            if !nested && self.claim_home() {
                drive();
            }
            if !with(|rt| std::mem::take(&mut rt.native.calls[index].woken)) {
                break Poll::Pending;
            }
            let result =
                super::enter_poll(|| future.as_mut().poll(&mut Context::from_waker(&waker)));
            with(|rt| rt.stats.tasks_polled += 1);
            if result.is_ready() {
                break result;
            }
        };
        with(|rt| rt.native.current = previous);
        result
    }

    /// Whether this call is home (claiming it if vacant) and has driving to
    /// do.
    fn claim_home(&self) -> bool {
        let index = self.index();
        with(|rt| {
            if !needs_drive(rt) {
                return false;
            }
            match rt.native.home {
                Home::Call(h) => h == index,
                Home::Vacant => {
                    rt.native.home = Home::Call(index);
                    true
                }
                Home::Keeper => false,
            }
        })
    }
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        let index = self.index();
        let keeper = super::try_with(|rt| {
            let n = &mut rt.native;
            n.calls.remove(index);
            n.gens[index] = n.gens[index].wrapping_add(1) & (u32::MAX >> raw::INDEX_BITS);
            let home_here = match n.home {
                Home::Call(h) => h == index,
                Home::Vacant => true,
                Home::Keeper => false,
            };
            if !home_here {
                return false;
            }
            if has_work(rt) {
                rt.native.home = Home::Keeper;
                true
            } else {
                rt.native.home = Home::Vacant;
                false
            }
        });
        if keeper == Some(true) {
            // Legal here: this drop runs inside a poll of this CM task's
            // root future, so its set of futures is not empty.
            backend::spawn_keeper(Keeper);
        }
    }
}

/// Drives the runtime from the CM task of a call that ended, until the
/// runtime has no work left.
struct Keeper;

impl Future for Keeper {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let home = with(|rt| {
            let n = &mut rt.native;
            if !n
                .keeper_waker
                .as_ref()
                .is_some_and(|w| w.will_wake(cx.waker()))
            {
                n.keeper_waker = Some(cx.waker().clone());
            }
            n.home
        });
        if home != Home::Keeper {
            return Poll::Ready(());
        }
        if DRIVING.with(Cell::get) {
            return Poll::Pending;
        }
        if with(|rt| needs_drive(rt)) {
            drive();
        }
        let done = with(|rt| {
            if has_work(rt) {
                return false;
            }
            rt.native.home = Home::Vacant;
            rt.native.keeper_waker = None;
            true
        });
        if done { Poll::Ready(()) } else { Poll::Pending }
    }
}

/// Runs the future of one async export call (what `#[async_export]` emits
/// in mode N): polled in place, in the call's own CM task, while that task
/// drives the instance's runtime when it is home. Dropping the returned
/// future (a caller's `task.cancel`) drops `future` first.
///
/// # Examples
///
/// Natively a test plays the host (see `sdk/tests/mode_n.rs`); a call that
/// waits on nothing finishes at its first poll:
///
/// ```
/// let out = futures::executor::block_on(wasync::native::call(async { 6 * 7 }));
/// assert_eq!(out, 42);
/// ```
pub async fn call<F: Future>(future: F) -> F::Output {
    let guard = CallGuard::new();
    // Declared after the guard: dropped before it.
    let mut future = pin!(future);
    poll_fn(|cx| guard.poll(future.as_mut(), cx)).await
}
