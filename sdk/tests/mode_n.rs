//! Mode N on the simulated host: how export calls drive the instance-wide
//! runtime. Each test plays the host's part: it runs the component-model
//! (CM) task of each export call as wit-bindgen's executor does (a set of
//! futures sharing one waker, polled when woken; futures the runtime spawns
//! into the task on the stack join that task) and completes `wait-until`s
//! on the virtual clock.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Wake, Waker};
use std::time::Duration;

use wasync::__private::native::call;
use wasync::sim;
use wasync::time::{Instant, sleep, sleep_until};

type Boxed = Pin<Box<dyn Future<Output = ()>>>;

/// The waker of one simulated CM task; counts its wakes.
struct CmWaker {
    woken: AtomicBool,
    wakes: AtomicU64,
}

impl Wake for CmWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        self.wakes.fetch_add(1, Ordering::SeqCst);
    }
}

/// One simulated CM task: the call's root future, then whatever the
/// runtime spawned into it (the keeper).
struct CmTask {
    futures: Vec<Option<Boxed>>,
    waker: Arc<CmWaker>,
}

/// The simulated host.
#[derive(Default)]
struct Host {
    tasks: Vec<CmTask>,
}

/// A call's result, once its task returned it.
type Slot<T> = Rc<RefCell<Option<T>>>;

impl Host {
    /// Starts an export call whose body is `body`; returns the task's
    /// index and where its result lands.
    fn call<T: 'static>(&mut self, body: impl Future<Output = T> + 'static) -> (usize, Slot<T>) {
        let slot: Slot<T> = Rc::new(RefCell::new(None));
        let out = slot.clone();
        let root: Boxed = Box::pin(async move {
            let value = call(body).await;
            *out.borrow_mut() = Some(value);
        });
        self.tasks.push(CmTask {
            futures: vec![Some(root)],
            waker: Arc::new(CmWaker {
                woken: AtomicBool::new(true),
                wakes: AtomicU64::new(0),
            }),
        });
        (self.tasks.len() - 1, slot)
    }

    /// Polls every woken task until none is woken.
    fn run(&mut self) {
        loop {
            let mut any = false;
            for i in 0..self.tasks.len() {
                if self.tasks[i].waker.woken.swap(false, Ordering::SeqCst) {
                    any = true;
                    self.poll_task(i);
                }
            }
            if !any {
                return;
            }
        }
    }

    fn poll_task(&mut self, i: usize) {
        let waker = Waker::from(self.tasks[i].waker.clone());
        let mut cx = Context::from_waker(&waker);
        let mut f = 0;
        while f < self.tasks[i].futures.len() {
            if let Some(fut) = self.tasks[i].futures[f].as_mut()
                && fut.as_mut().poll(&mut cx).is_ready()
            {
                self.tasks[i].futures[f] = None;
            }
            self.adopt_keepers(i);
            f += 1;
        }
    }

    /// Futures the runtime spawned while task `i` was on the stack join it
    /// (and, like wit-bindgen's executor, get polled in the same turn).
    fn adopt_keepers(&mut self, i: usize) {
        for k in sim::take_keepers() {
            self.tasks[i].futures.push(Some(k));
        }
    }

    /// The caller cancels the call of task `i`: its root future is dropped,
    /// inside the task (as wit-bindgen does on `EVENT_CANCEL`).
    fn cancel(&mut self, i: usize) {
        let root = self.tasks[i].futures[0].take();
        drop(root);
        self.adopt_keepers(i);
        self.tasks[i].waker.wake_by_ref();
    }

    /// Runs tasks, then completes the next `wait-until`, until neither is
    /// left.
    fn settle(&mut self) {
        loop {
            self.run();
            if !sim::advance_to_next_wait() {
                return;
            }
        }
    }

    /// Tasks with a future still alive (a task with none has exited).
    fn live_tasks(&self) -> usize {
        self.tasks
            .iter()
            .filter(|t| t.futures.iter().any(Option::is_some))
            .count()
    }

    fn wakes_of(&self, i: usize) -> u64 {
        self.tasks[i].waker.wakes.load(Ordering::SeqCst)
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn overlapping_calls_share_one_wait_until() {
    let mut host = Host::default();
    let start = Instant::now();
    let slots: Vec<_> = (0..1000)
        .map(|i| {
            host.call(async move {
                sleep(ms(50)).await;
                i
            })
            .1
        })
        .collect();
    host.settle();
    for (i, slot) in slots.iter().enumerate() {
        assert_eq!(*slot.borrow(), Some(i), "call {i}");
    }
    assert_eq!(start.elapsed(), ms(50));
    let waits = sim::wait_stats();
    assert_eq!(waits.calls, 1, "one deadline, one wait-until");
    assert_eq!(waits.max_outstanding, 1);
    assert_eq!(waits.outstanding, 0);
    let stats = wasync::runtime::stats();
    assert_eq!(stats.timers_fired, 1000);
    assert_eq!((stats.live_tasks, stats.live_timers), (0, 0));
    assert!(!stats.timer_armed);
    assert_eq!(host.live_tasks(), 0, "every call task exited");
}

#[test]
fn the_wait_until_is_rearmed_only_when_the_earliest_deadline_moves() {
    let mut host = Host::default();
    let (_, a) = host.call(sleep(ms(100)));
    host.run();
    assert_eq!(sim::wait_stats().calls, 1);
    // A later deadline leaves the armed one alone.
    let (_, b) = host.call(sleep(ms(200)));
    host.run();
    assert_eq!(sim::wait_stats().calls, 1);
    // An earlier one replaces it: the old wait-until is cancelled first.
    let (_, c) = host.call(sleep(ms(50)));
    host.run();
    let waits = sim::wait_stats();
    assert_eq!((waits.calls, waits.cancelled), (2, 1));
    assert_eq!(waits.outstanding, 1);
    host.settle();
    assert!(a.borrow().is_some() && b.borrow().is_some() && c.borrow().is_some());
    let waits = sim::wait_stats();
    assert_eq!(waits.max_outstanding, 1);
    assert_eq!(waits.outstanding, 0);
    assert_eq!(wasync::runtime::stats().timer_rearms, waits.calls);
}

#[test]
fn a_spawned_task_outlives_its_call_on_the_keeper() {
    let mut host = Host::default();
    let done = Rc::new(Cell::new(false));
    let flag = done.clone();
    let (task, slot) = host.call(async move {
        drop(wasync::spawn(async move {
            sleep(ms(30)).await;
            flag.set(true);
        }));
        7
    });
    host.run();
    assert_eq!(*slot.borrow(), Some(7), "the call returned at once");
    assert!(!done.get());
    assert_eq!(host.live_tasks(), 1, "its task lives on: the keeper");
    assert_eq!(host.tasks[task].futures.len(), 2);
    host.settle();
    assert!(done.get(), "the spawned task ran with no call in flight");
    assert_eq!(host.live_tasks(), 0, "the keeper ended with the work");
    assert_eq!(wasync::runtime::stats().live_tasks, 0);
}

/// Counts drops of the futures it is moved into.
struct DropCount(Rc<Cell<u32>>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

#[test]
fn cancelling_a_call_drops_its_future_and_cancels_its_wait_until() {
    let mut host = Host::default();
    let drops = Rc::new(Cell::new(0));
    let guard = DropCount(drops.clone());
    let (task, slot) = host.call(async move {
        let _guard = guard;
        sleep(Duration::from_secs(3600)).await;
    });
    host.run();
    assert_eq!(sim::wait_stats().outstanding, 1);
    host.cancel(task);
    assert_eq!(drops.get(), 1, "the call's future was dropped");
    host.settle();
    assert!(slot.borrow().is_none());
    let waits = sim::wait_stats();
    assert_eq!((waits.outstanding, waits.cancelled), (0, 1));
    let stats = wasync::runtime::stats();
    assert_eq!((stats.live_timers, stats.live_tasks), (0, 0));
    assert!(!stats.timer_armed);
    assert_eq!(host.live_tasks(), 0);
}

#[test]
fn ten_thousand_cancelled_calls_leave_nothing_behind() {
    let mut host = Host::default();
    let drops = Rc::new(Cell::new(0));
    let tasks: Vec<usize> = (0..10_000u64)
        .map(|i| {
            let guard = DropCount(drops.clone());
            host.call(async move {
                let _guard = guard;
                let child = wasync::spawn(sleep(ms(1000 + i))).abort_on_drop();
                sleep(ms(2000 + i)).await;
                let _ = child.await;
            })
            .0
        })
        .collect();
    host.run();
    for t in tasks {
        host.cancel(t);
    }
    host.settle();
    assert_eq!(drops.get(), 10_000);
    let stats = wasync::runtime::stats();
    assert_eq!((stats.live_tasks, stats.live_timers), (0, 0));
    assert!(!stats.timer_armed);
    let waits = sim::wait_stats();
    assert_eq!((waits.outstanding, waits.max_outstanding), (0, 1));
    assert_eq!(host.live_tasks(), 0);
}

#[test]
fn home_moves_to_a_keeper_when_the_home_call_is_cancelled_with_work_left() {
    let mut host = Host::default();
    let done = Rc::new(Cell::new(false));
    let flag = done.clone();
    let (task, _) = host.call(async move {
        drop(wasync::spawn(async move {
            sleep(ms(60)).await;
            flag.set(true);
        }));
        sleep(Duration::from_secs(10)).await;
    });
    host.run();
    host.cancel(task);
    assert_eq!(
        host.live_tasks(),
        1,
        "the cancelled call's task keeps the keeper"
    );
    host.settle();
    assert!(done.get());
    assert_eq!(host.live_tasks(), 0);
}

thread_local! {
    static SIGNAL: RefCell<Vec<futures::channel::oneshot::Sender<u32>>> =
        const { RefCell::new(Vec::new()) };
}

#[test]
fn a_call_finished_by_another_calls_progress_is_woken_across_tasks() {
    let mut host = Host::default();
    let (waiter, got) = host.call(async {
        let (tx, rx) = futures::channel::oneshot::channel();
        SIGNAL.with(|s| s.borrow_mut().push(tx));
        rx.await.unwrap()
    });
    host.run();
    assert!(got.borrow().is_none());
    let wakes = host.wakes_of(waiter);
    host.call(async {
        for tx in SIGNAL.with(|s| s.take()) {
            tx.send(9).unwrap();
        }
    });
    host.run();
    assert_eq!(*got.borrow(), Some(9));
    assert_eq!(
        host.wakes_of(waiter),
        wakes + 1,
        "one wake of the waiter's task"
    );
    assert_eq!(host.live_tasks(), 0);
}

#[test]
fn spawned_work_runs_at_home_and_wakes_the_call_that_awaits_it() {
    let mut host = Host::default();
    // A first call claims home and keeps it while it sleeps.
    let (home, _) = host.call(sleep(ms(500)));
    host.run();
    let (other, sum) = host.call(async {
        let tasks: Vec<_> = (1..=3u64)
            .map(|n| {
                wasync::spawn(async move {
                    sleep(ms(10 * n)).await;
                    n
                })
            })
            .collect();
        let mut total = 0;
        for t in tasks {
            total += t.await.unwrap();
        }
        total
    });
    host.run();
    assert!(host.wakes_of(home) >= 1, "the spawns woke home to run them");
    host.settle();
    assert_eq!(*sum.borrow(), Some(6));
    assert!(host.wakes_of(other) >= 1);
    assert_eq!(host.live_tasks(), 0);
}

#[test]
fn a_hundred_thousand_timers_fire_none_early_with_one_wait_until_at_a_time() {
    let mut host = Host::default();
    let (_, report) = host.call(async {
        let start = Instant::now();
        let mut set = wasync::task::JoinSet::new();
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..100_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let deadline = start + Duration::from_micros(seed % 1_000_000);
            set.spawn(async move {
                sleep_until(deadline).await;
                Instant::now() >= deadline
            });
        }
        let mut on_time = 0u32;
        while let Some(r) = set.join_next().await {
            on_time += u32::from(r.unwrap());
        }
        on_time
    });
    host.settle();
    assert_eq!(
        *report.borrow(),
        Some(100_000),
        "every timer fired, none early"
    );
    let waits = sim::wait_stats();
    assert_eq!(waits.max_outstanding, 1);
    assert_eq!(waits.outstanding, 0);
    assert!(
        waits.calls <= 1001,
        "about one wait-until per millisecond tick: {waits:?}"
    );
}
