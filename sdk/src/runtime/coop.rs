//! The poll budget. Each task poll may complete at most [`BUDGET`]
//! operations of wasync's leaf futures (sleeps, pollable waits, joins). Once
//! spent, those futures return `Pending` and wake their task again, so a task
//! that keeps finding work ready cannot hold the executor forever: it yields,
//! and the executor gets to check timers and I/O between batches.

use std::cell::Cell;
use std::task::{Context, Poll};

/// Leaf operations a task may complete per poll.
pub(crate) const BUDGET: u32 = 128;
const UNLIMITED: u32 = u32::MAX;

thread_local! {
    static REMAINING: Cell<u32> = const { Cell::new(UNLIMITED) };
}

/// Runs `f` (one task poll) with a fresh budget.
pub(crate) fn with_budget<R>(f: impl FnOnce() -> R) -> R {
    struct Reset(u32);
    impl Drop for Reset {
        fn drop(&mut self) {
            REMAINING.with(|r| r.set(self.0));
        }
    }
    let _reset = Reset(REMAINING.with(|r| r.replace(BUDGET)));
    f()
}

/// Runs `f` without a budget, then gives back what was left: for work that
/// is bounded and never waits (looking at every task of a `JoinSet` once),
/// which the budget would otherwise stop part-way.
pub(crate) fn unconstrained<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(u32);
    impl Drop for Restore {
        fn drop(&mut self) {
            REMAINING.with(|r| r.set(self.0));
        }
    }
    let _restore = Restore(REMAINING.with(|r| r.replace(UNLIMITED)));
    f()
}

/// Spends one unit, or returns `Pending` (after waking the task) when the
/// budget is gone. Outside a task poll the budget is unlimited.
#[inline]
pub(crate) fn poll_proceed(cx: &mut Context<'_>) -> Poll<()> {
    REMAINING.with(|r| {
        let left = r.get();
        if left == 0 {
            cx.waker().wake_by_ref();
            Poll::Pending
        } else {
            if left != UNLIMITED {
                r.set(left - 1);
            }
            Poll::Ready(())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_runs_out_and_wakes_the_task() {
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        with_budget(|| {
            for _ in 0..BUDGET {
                assert!(poll_proceed(&mut cx).is_ready());
            }
            assert!(poll_proceed(&mut cx).is_pending());
        });
        // Outside a task poll there is no limit.
        for _ in 0..(BUDGET * 2) {
            assert!(poll_proceed(&mut cx).is_ready());
        }
    }
}
