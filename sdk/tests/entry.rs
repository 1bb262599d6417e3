//! `#[wasync::test]` on the simulated host, and what a test of component
//! logic can do with it: virtual time, tasks, and HTTP handlers called
//! directly.

use std::time::Duration;

use wasync::futures::{AsyncWriteExt, StreamExt};
use wasync::http::Body;
use wasync::http::server::{IntoResponse, Request, Response};
use wasync::time::{Instant, sleep, timeout};

#[wasync::test]
async fn a_test_that_sleeps_an_hour_sees_an_hour_of_virtual_time() {
    let start = Instant::now();
    sleep(Duration::from_secs(3600)).await;
    assert_eq!(start.elapsed(), Duration::from_secs(3600));
}

#[wasync::test]
async fn a_test_may_return_a_result() -> Result<(), wasync::JoinError> {
    let task = wasync::spawn(async { 6 * 7 });
    assert_eq!(task.await?, 42);
    Ok(())
}

#[wasync::test]
#[should_panic(expected = "the assertion inside failed")]
async fn a_panic_inside_fails_the_test() {
    sleep(Duration::from_millis(1)).await;
    panic!("the assertion inside failed");
}

#[wasync::test]
async fn spawned_tasks_and_timeouts_run_inside_a_test() {
    let quick = wasync::spawn(async {
        sleep(Duration::from_millis(10)).await;
        "quick"
    });
    let slow = timeout(Duration::from_millis(50), sleep(Duration::from_secs(10))).await;
    assert!(slow.is_err());
    assert_eq!(quick.await.unwrap(), "quick");
}

/// A handler whose body a spawned task writes after it returned.
async fn ticker(_req: Request<Body>) -> Response<Body> {
    let (mut writer, body) = Body::channel(1);
    drop(wasync::spawn(async move {
        for n in 1..=3 {
            sleep(Duration::from_secs(1)).await;
            writer.write_all(format!("{n}\n").as_bytes()).await.unwrap();
        }
    }));
    Response::new(body)
}

#[wasync::test]
async fn a_handler_returns_its_response_before_its_body_is_written() {
    let start = Instant::now();
    let resp = ticker(Request::new(Body::empty())).await;
    assert_eq!(start.elapsed(), Duration::ZERO, "the head comes at once");
    let mut body = resp.into_body();
    let first = body.next().await.unwrap().unwrap();
    assert_eq!(
        (first, start.elapsed()),
        ("1\n".into(), Duration::from_secs(1))
    );
    let rest = body.text().await.unwrap();
    assert_eq!(
        (rest.as_str(), start.elapsed()),
        ("2\n3\n", Duration::from_secs(3))
    );
}

#[wasync::test]
async fn a_handler_error_becomes_a_500_with_its_text() {
    async fn failing(_req: Request<Body>) -> Result<Response<Body>, String> {
        Err("the index is gone".into())
    }
    let resp = failing(Request::new(Body::empty())).await.into_response();
    assert_eq!(resp.status(), 500);
    assert_eq!(
        resp.into_body().text().await.unwrap(),
        "the index is gone\n"
    );
}

#[test]
fn simulated_randomness_repeats_from_the_same_seed() {
    wasync::sim::seed_random(42);
    let mut a = [0u8; 20];
    wasync::rand::fill(&mut a);
    let x = wasync::rand::u64();
    wasync::sim::seed_random(42);
    let mut b = [0u8; 20];
    wasync::rand::fill(&mut b);
    assert_eq!((a, x), (b, wasync::rand::u64()));
    assert_ne!(a, [0u8; 20]);
    assert_ne!(wasync::rand::u64(), wasync::rand::u64());
}
