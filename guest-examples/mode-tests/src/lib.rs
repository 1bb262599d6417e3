//! Async exports with spawn, timers, timeouts and fan-out. The same source
//! builds as mode S (`mode-tests.wasm`), mode C (`mode-tests-c.wasm`) and
//! mode N (`mode-tests-n.wasm`).

mod bindings {
    wasync::generate!({ world: "mode-tests", path: "../../wit" });
}

use std::cell::{Cell, RefCell};
use std::time::Duration;

use bindings::exports::examples::wasync::slow::{
    FanOutReport, Guest as Slow, GuestSignalOnDrop, RuntimeStats, StormReport,
};
use wasync::time::{Instant, sleep, timeout_at};

thread_local! {
    static COUNTER: Cell<u32> = const { Cell::new(0) };
    /// The senders of the `wait-signal` calls in flight.
    static WAITERS: RefCell<Vec<futures::channel::oneshot::Sender<u32>>> =
        const { RefCell::new(Vec::new()) };
    /// The tasks `spawn-later` spawned.
    static LATER: RefCell<Vec<wasync::task::AbortHandle>> = const { RefCell::new(Vec::new()) };
}

/// Wakes every `wait-signal` call with `value`.
fn signal_waiters(value: u32) {
    for tx in WAITERS.with(|w| std::mem::take(&mut *w.borrow_mut())) {
        let _ = tx.send(value);
    }
}

fn ms(n: u32) -> Duration {
    Duration::from_millis(u64::from(n))
}

/// Waits once on something of the host's that is ready at once: a WASI 0.2
/// pollable in modes S and C.
#[cfg(not(feature = "native"))]
async fn ready_now() {
    let ready = wasip2::clocks::monotonic_clock::subscribe_duration(0);
    wasync::wait_for(&ready).await;
}

/// Mode N has no pollables (`wasync::wait_for` does not compile there): a
/// 0.3 subtask that is done at once, awaited directly.
#[cfg(feature = "native")]
async fn ready_now() {
    wasip3::clocks::monotonic_clock::wait_for(0).await;
}

/// Copies stdin to stdout over `wasi:io` streams.
#[cfg(not(feature = "native"))]
async fn copy_stdin_to_stdout() -> u64 {
    use wasync::io::{AsyncInputStream, AsyncOutputStream};
    let mut input = AsyncInputStream::new(wasip2::cli::stdin::get_stdin());
    let mut output = AsyncOutputStream::new(wasip2::cli::stdout::get_stdout());
    futures::io::copy(&mut input, &mut output)
        .await
        .expect("copy stdin to stdout")
}

/// Copies stdin to stdout over WASI 0.3 `stream<u8>`s.
#[cfg(feature = "native")]
async fn copy_stdin_to_stdout() -> u64 {
    use futures::io::AsyncWriteExt;
    use wasync::io::{AsyncInputStream, AsyncOutputStream};
    let (stdin, _read_done) = wasip3::cli::stdin::read_via_stream();
    let (tx, rx) = wasip3::wit_stream::new::<u8>();
    let written = wasip3::cli::stdout::write_via_stream(rx);
    let mut input = AsyncInputStream::new(stdin);
    let mut output = AsyncOutputStream::new(tx);
    let n = futures::io::copy(&mut input, &mut output)
        .await
        .expect("copy stdin to stdout");
    output.close().await.expect("close stdout");
    written.await.expect("stdout took every byte");
    n
}

struct Component;

/// Wakes the `wait-signal` calls when dropped.
struct SignalOnDrop(u32);

impl GuestSignalOnDrop for SignalOnDrop {
    fn new(value: u32) -> SignalOnDrop {
        SignalOnDrop(value)
    }
}

impl Drop for SignalOnDrop {
    fn drop(&mut self) {
        signal_waiters(self.0);
    }
}

#[wasync::async_export]
impl Slow for Component {
    type SignalOnDrop = SignalOnDrop;

    async fn sleep_for(ms_: u32) -> u32 {
        sleep(ms(ms_)).await;
        ms_
    }

    async fn fan_out(ms_: Vec<u32>, timeout_ms: u32) -> FanOutReport {
        let deadline = Instant::now() + ms(timeout_ms);
        let tasks: Vec<_> = ms_
            .iter()
            .map(|&m| {
                // Abort on drop: a task the deadline cuts off is cancelled,
                // not left running.
                wasync::spawn(async move {
                    sleep(ms(m)).await;
                    m
                })
                .abort_on_drop()
            })
            .collect();
        let (a, b) = futures::join!(
            async {
                sleep(ms(2)).await;
                "left"
            },
            async {
                sleep(ms(1)).await;
                "right"
            }
        );
        let mut finished = Vec::new();
        let mut timed_out = 0;
        for task in tasks {
            match timeout_at(deadline, task).await {
                Ok(Ok(m)) => finished.push(m),
                _ => timed_out += 1,
            }
        }
        FanOutReport {
            finished,
            timed_out,
            joined: format!("{a}+{b}"),
        }
    }

    async fn spawn_later(ms_: u32) {
        let task = wasync::spawn(async move {
            sleep(ms(ms_)).await;
            COUNTER.with(|c| c.set(c.get() + 1));
        });
        LATER.with(|l| l.borrow_mut().push(task.abort_handle()));
    }

    fn counter() -> u32 {
        COUNTER.with(Cell::get)
    }

    async fn boom(message: String) {
        sleep(ms(1)).await;
        panic!("{message}");
    }

    async fn echo(text: String) -> String {
        text
    }

    fn echo_plain(text: String) -> String {
        text
    }

    async fn wait_ready() {
        ready_now().await;
    }

    async fn wait_signal() -> u32 {
        let (tx, rx) = futures::channel::oneshot::channel();
        WAITERS.with(|w| w.borrow_mut().push(tx));
        rx.await.unwrap_or(0)
    }

    async fn signal(value: u32) {
        signal_waiters(value);
    }

    fn signal_plain(value: u32) {
        signal_waiters(value);
    }

    fn abort_later() {
        for task in LATER.with(|l| std::mem::take(&mut *l.borrow_mut())) {
            task.abort();
        }
    }

    async fn storm(n: u32, spread_ms: u32) -> StormReport {
        let start = Instant::now();
        let spread = u64::from(spread_ms.max(1)) * 1_000_000;
        let mut tasks = wasync::task::JoinSet::new();
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..n {
            // xorshift: the same spread of deadlines in every mode.
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let deadline = start + Duration::from_nanos(seed % spread);
            tasks.spawn(async move {
                wasync::time::sleep_until(deadline).await;
                Instant::now() < deadline
            });
        }
        let (mut fired, mut early) = (0, 0);
        while let Some(done) = tasks.join_next().await {
            fired += 1;
            early += u32::from(done.unwrap_or(false));
        }
        StormReport { fired, early }
    }

    fn stats() -> RuntimeStats {
        examples_common::runtime_stats!(RuntimeStats)
    }

    async fn copy_stdin() -> u64 {
        copy_stdin_to_stdout().await
    }

    async fn hog(ms_: u32, mib: u32) -> u32 {
        if ms_ > 0 {
            sleep(ms(ms_)).await;
        }
        let mut held: Vec<Vec<u8>> = Vec::new();
        while mib == 0 || held.len() < mib as usize {
            held.push(vec![1; 1 << 20]);
        }
        held.len() as u32
    }

    async fn spin(ms_: u32, iterations: u64) -> u64 {
        if ms_ > 0 {
            sleep(ms(ms_)).await;
        }
        let mut sum = 0u64;
        let mut i = 0u64;
        while iterations == 0 || i < iterations {
            // The black box keeps the loop a loop, whatever the optimiser
            // sees.
            sum = std::hint::black_box(sum.wrapping_mul(31).wrapping_add(i));
            i += 1;
        }
        sum
    }
}

impl bindings::Guest for Component {
    fn version() -> String {
        env!("CARGO_PKG_VERSION").to_owned()
    }
}

bindings::export!(Component with_types_in bindings);
