//! JoinSet: outputs in completion order, abort on drop.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use wasync::task::JoinSet;
use wasync::time::sleep;

#[test]
fn outputs_come_in_completion_order() {
    let order = wasync::block_on(async {
        let mut set = JoinSet::new();
        for ms in [40u64, 10, 30, 20] {
            set.spawn(async move {
                sleep(Duration::from_millis(ms)).await;
                ms
            });
        }
        assert_eq!(set.len(), 4);
        let mut order = Vec::new();
        while let Some(out) = set.join_next().await {
            order.push(out.unwrap());
        }
        assert!(set.is_empty());
        order
    });
    assert_eq!(order, [10, 20, 30, 40]);
}

#[test]
fn an_empty_set_yields_none() {
    let mut set: JoinSet<()> = JoinSet::new();
    assert!(wasync::block_on(set.join_next()).is_none());
}

#[test]
fn dropping_the_set_aborts_its_tasks() {
    let ran = Rc::new(Cell::new(0));
    wasync::block_on(async {
        let mut set = JoinSet::new();
        for _ in 0..5 {
            let ran = ran.clone();
            set.spawn(async move {
                sleep(Duration::from_millis(10)).await;
                ran.set(ran.get() + 1);
            });
        }
        drop(set);
        sleep(Duration::from_millis(50)).await;
    });
    assert_eq!(ran.get(), 0);
    assert_eq!(wasync::runtime::stats().live_tasks, 0);
}

#[test]
fn abort_all_cancels_what_is_left() {
    wasync::block_on(async {
        let mut set = JoinSet::new();
        set.spawn(async { 1 });
        set.spawn(async {
            sleep(Duration::from_secs(10)).await;
            2
        });
        assert_eq!(set.join_next().await, Some(Ok(1)));
        set.abort_all();
        assert_eq!(
            set.join_next().await,
            Some(Err(wasync::JoinError::Cancelled))
        );
    });
}

#[test]
fn try_join_next_takes_only_what_already_finished() {
    wasync::block_on(async {
        let mut set = JoinSet::new();
        for ms in [20u64, 10] {
            set.spawn(async move {
                sleep(Duration::from_millis(ms)).await;
                ms
            });
        }
        assert_eq!(set.try_join_next(), None);
        sleep(Duration::from_millis(15)).await;
        assert_eq!(set.try_join_next(), Some(Ok(10)));
        assert_eq!(set.try_join_next(), None);
        sleep(Duration::from_millis(10)).await;
        assert_eq!(set.try_join_next(), Some(Ok(20)));
        assert_eq!(set.try_join_next(), None);
        assert!(set.is_empty());
    });
}

#[test]
fn try_join_next_finds_a_finished_task_among_many_pending_ones() {
    wasync::block_on(async {
        let mut set = JoinSet::new();
        // More than `FuturesUnordered` polls before it yields.
        for _ in 0..200 {
            set.spawn(std::future::pending::<u32>());
        }
        set.spawn(async { 7 });
        wasync::yield_now().await;
        assert_eq!(set.try_join_next(), Some(Ok(7)));
        assert_eq!(set.len(), 200);
    });
}

#[test]
fn shutdown_waits_until_every_task_is_gone() {
    let dropped = Rc::new(Cell::new(0));
    wasync::block_on(async {
        struct CountDrop(Rc<Cell<u32>>);
        impl Drop for CountDrop {
            fn drop(&mut self) {
                self.0.set(self.0.get() + 1);
            }
        }
        let mut set = JoinSet::new();
        for _ in 0..4 {
            let guard = CountDrop(dropped.clone());
            set.spawn(async move {
                let _guard = guard;
                sleep(Duration::from_secs(60)).await;
            });
        }
        wasync::yield_now().await;
        set.shutdown().await;
        assert!(set.is_empty());
        assert_eq!(dropped.get(), 4);
        assert_eq!(wasync::runtime::stats().live_timers, 0);
    });
}

#[test]
fn join_all_gives_every_output_in_completion_order_with_aborted_tasks_as_errors() {
    let outputs = wasync::block_on(async {
        let mut set = JoinSet::new();
        for ms in [30u64, 10, 20] {
            set.spawn(async move {
                sleep(Duration::from_millis(ms)).await;
                ms
            });
        }
        let victim = set.spawn(async {
            sleep(Duration::from_millis(5)).await;
            0
        });
        victim.abort();
        set.join_all().await
    });
    assert_eq!(
        outputs,
        [Err(wasync::JoinError::Cancelled), Ok(10), Ok(20), Ok(30)]
    );
}
