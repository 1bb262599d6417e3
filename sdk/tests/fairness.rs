//! A busy task cannot starve timers or I/O.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use wasync::sim::Pollable;
use wasync::time::{Instant, sleep, sleep_until};

#[test]
fn a_task_that_yields_forever_does_not_starve_a_timer() {
    let stop = Rc::new(Cell::new(false));
    let spins = Rc::new(Cell::new(0u64));
    wasync::block_on(async {
        let (s, n) = (stop.clone(), spins.clone());
        let spinner = wasync::spawn(async move {
            while !s.get() {
                n.set(n.get() + 1);
                wasync::yield_now().await;
                // Virtual time moves on while the spinner works.
                wasync::sim::advance(Duration::from_micros(100));
            }
        });
        sleep(Duration::from_millis(20)).await;
        stop.set(true);
        spinner.await.unwrap();
    });
    assert!(
        spins.get() >= 200,
        "the spinner ran while the timer waited: {}",
        spins.get()
    );
}

#[test]
fn a_task_that_never_returns_pending_is_cut_off_by_its_budget() {
    let stop = Rc::new(Cell::new(false));
    wasync::block_on(async {
        let s = stop.clone();
        let busy = wasync::spawn(async move {
            // `sleep_until` a past instant is ready at once, every time:
            // without a budget this loop would never give the executor
            // back.
            let past = Instant::now();
            while !s.get() {
                sleep_until(past).await;
                wasync::sim::advance(Duration::from_micros(10));
            }
        });
        let timer = wasync::spawn({
            let stop = stop.clone();
            async move {
                sleep(Duration::from_millis(5)).await;
                stop.set(true);
            }
        });
        timer.await.unwrap();
        busy.await.unwrap();
    });
    assert!(stop.get());
}

#[test]
fn a_busy_task_does_not_starve_io() {
    let io = Pollable::new();
    let handle = io.handle();
    let got_io = Rc::new(Cell::new(false));
    wasync::block_on(async {
        let g = got_io.clone();
        let spinner = wasync::spawn(async move {
            let mut spins = 0;
            while !g.get() {
                spins += 1;
                if spins == 50 {
                    // Readiness arrives from "the host" while we are busy.
                    wasync::sim::set_ready(handle);
                }
                wasync::yield_now().await;
            }
        });
        wasync::wait_for(&io).await;
        got_io.set(true);
        spinner.await.unwrap();
    });
    assert!(got_io.get());
}

#[test]
fn a_main_future_that_yields_forever_does_not_starve_io() {
    let io = Pollable::new();
    let handle = io.handle();
    let seen = Rc::new(Cell::new(false));
    let s = seen.clone();
    let waiter = wasync::spawn(async move {
        let io = io;
        wasync::wait_for(&io).await;
        s.set(true);
    });
    wasync::block_on(async {
        let mut spins = 0u32;
        // Bounded, so that starvation fails the test instead of hanging it.
        while !seen.get() && spins < 100_000 {
            spins += 1;
            if spins == 10 {
                wasync::sim::set_ready(handle);
            }
            // The main future itself yields, with no other task runnable
            // once the waiter has registered.
            wasync::yield_now().await;
        }
    });
    assert!(seen.get(), "the waiting task never ran");
    assert!(waiter.is_finished());
}

#[test]
fn a_timer_that_falls_due_during_a_long_batch_runs_before_the_rest_of_it() {
    const TASKS: u32 = 10_000;
    const WORK: Duration = Duration::from_micros(10);
    let workers_done = Rc::new(Cell::new(0u32));
    let (late, done_before) = wasync::block_on(async {
        let start = Instant::now();
        let deadline = start + Duration::from_millis(1);
        let done = workers_done.clone();
        let sleeper = wasync::spawn(async move {
            sleep_until(deadline).await;
            (Instant::now() - deadline, done.get())
        });
        // The sleeper registers its timer before the long batch is queued.
        wasync::yield_now().await;
        // 10,000 tasks queued at once, each taking 10 µs of virtual time:
        // one batch of 100 ms, with the timer due 1 ms into it.
        let workers: Vec<_> = (0..TASKS)
            .map(|_| {
                let done = workers_done.clone();
                wasync::spawn(async move {
                    wasync::sim::advance(WORK);
                    done.set(done.get() + 1);
                })
            })
            .collect();
        let woke = sleeper.await.unwrap();
        for w in workers {
            w.await.unwrap();
        }
        woke
    });
    // Generous: a check every 64 polls finds it within about 0.64 ms, after
    // about 164 workers.
    assert!(
        late < Duration::from_millis(10),
        "the timer waited for the batch: {late:?} late"
    );
    assert!(
        done_before < TASKS / 10,
        "the sleeper ran after {done_before} of {TASKS} workers"
    );
    assert_eq!(workers_done.get(), TASKS);
}
