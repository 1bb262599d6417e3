//! Driving the runtime: `block_on`, and the clear messages when it is used
//! wrongly.

use std::time::Duration;

#[test]
fn block_on_takes_borrowed_futures() {
    let mut data = vec![1, 2, 3];
    let total = wasync::block_on(async {
        data.push(4);
        data.iter().sum::<i32>()
    });
    assert_eq!(total, 10);
}

#[test]
fn spawned_tasks_outlive_block_on_and_continue_next_time() {
    let (tx, rx) = futures::channel::oneshot::channel();
    wasync::block_on(async move {
        drop(wasync::spawn(async move {
            wasync::time::sleep(Duration::from_millis(10)).await;
            tx.send("later").unwrap();
        }));
    });
    // The task is waiting on its timer; the next run finishes it.
    assert_eq!(wasync::block_on(rx), Ok("later"));
}

#[test]
#[should_panic(expected = "`.await` the future instead")]
fn nested_block_on_panics_with_advice() {
    wasync::block_on(async {
        wasync::block_on(async {});
    });
}

#[test]
#[should_panic(expected = "polled outside the wasync runtime")]
fn a_wasync_future_under_another_executor_panics_with_advice() {
    futures::executor::block_on(wasync::time::sleep(Duration::from_millis(1)));
}

#[test]
#[should_panic(expected = "would wait forever")]
fn waiting_on_nothing_is_reported_not_hung() {
    wasync::block_on(std::future::pending::<()>());
}

#[test]
fn spawn_outside_the_runtime_queues_the_task() {
    let h = wasync::spawn(async { 5 });
    assert_eq!(wasync::block_on(h), Ok(5));
}
