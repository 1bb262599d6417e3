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
