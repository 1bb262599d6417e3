//! One export per runtime scenario. Each export drives `wasync::block_on`
//! itself (the export macros are tested by other guests), so these tests
//! exercise the runtime alone, on a real host.

mod bindings {
    // Inside a module: the `wasync:examples` package generates a module
    // named `wasync`, which must not shadow the crate.
    wit_bindgen::generate!({ world: "runtime-tests", path: "../../wit", generate_all });
}

use bindings::{Guest, RuntimeStats};

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use wasip2::clocks::monotonic_clock;
use wasync::task::{JoinSet, yield_now};
use wasync::time::{Instant, sleep, sleep_until, timeout};

struct RuntimeTests;

thread_local! {
    static BACKGROUND: Cell<u32> = const { Cell::new(0) };
}

impl Guest for RuntimeTests {
    fn stats() -> RuntimeStats {
        examples_common::runtime_stats!(RuntimeStats)
    }

    fn sleeps_in_order(ms: Vec<u32>) -> Vec<u32> {
        wasync::block_on(async {
            let mut set = JoinSet::new();
            for m in ms {
                set.spawn(async move {
                    sleep(Duration::from_millis(u64::from(m))).await;
                    m
                });
            }
            let mut order = Vec::new();
            while let Some(m) = set.join_next().await {
                order.push(m.expect("no task is aborted"));
            }
            order
        })
    }

    fn timeout_race() -> bool {
        let never = monotonic_clock::subscribe_duration(3_600_000_000_000);
        wasync::block_on(async {
            let a = timeout(Duration::from_millis(5), sleep(Duration::from_secs(3600))).await;
            let b = timeout(Duration::from_millis(5), wasync::wait_for(&never)).await;
            a.is_err() && b.is_err()
        })
    }

    fn tasks() -> Vec<String> {
        wasync::block_on(async {
            let mut seen = Vec::new();
            let h = wasync::spawn(async { 40 + 2 });
            seen.push(format!("join {:?}", h.await));

            let slow = wasync::spawn(sleep(Duration::from_secs(3600)));
            yield_now().await;
            slow.abort();
            seen.push(format!("abort {:?}", slow.await));

            let mut set = JoinSet::new();
            for ms in [30u64, 10, 20] {
                set.spawn(async move {
                    sleep(Duration::from_millis(ms)).await;
                    ms
                });
            }
            let mut order = Vec::new();
            while let Some(r) = set.join_next().await {
                order.push(r.expect("not aborted"));
            }
            seen.push(format!("joinset {order:?}"));

            // A dropped handle detaches: the task still runs. Waiting for
            // its signal (with a generous timeout) rather than sleeping past
            // it keeps the outcome independent of the host's timing.
            let (tx, rx) = futures::channel::oneshot::channel();
            drop(wasync::spawn(async move {
                sleep(Duration::from_millis(5)).await;
                let _ = tx.send(());
            }));
            let ran = timeout(Duration::from_secs(30), rx).await;
            seen.push(format!("detached ran {}", matches!(ran, Ok(Ok(())))));
            seen
        })
    }

    fn tcp_read(port: u16) -> Result<String, String> {
        use wasip2::sockets::network::{
            ErrorCode, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress,
        };
        use wasip2::sockets::{instance_network, tcp_create_socket};

        wasync::block_on(async move {
            let network = instance_network::instance_network();
            let socket = tcp_create_socket::create_tcp_socket(IpAddressFamily::Ipv4)
                .map_err(|e| format!("create: {e:?}"))?;
            let addr = IpSocketAddress::Ipv4(Ipv4SocketAddress {
                port,
                address: (127, 0, 0, 1),
            });
            socket
                .start_connect(&network, addr)
                .map_err(|e| format!("connect: {e:?}"))?;
            let (input, output) = {
                let ready = socket.subscribe();
                loop {
                    match socket.finish_connect() {
                        Ok(streams) => break streams,
                        Err(ErrorCode::WouldBlock) => wasync::wait_for(&ready).await,
                        Err(e) => return Err(format!("connect: {e:?}")),
                    }
                }
            };
            let mut text = Vec::new();
            {
                // The pollable is a child of the stream: it is dropped at
                // the end of this block, before the stream.
                let readable = input.subscribe();
                loop {
                    match input.read(4096) {
                        Ok(bytes) if bytes.is_empty() => wasync::wait_for(&readable).await,
                        Ok(bytes) => text.extend_from_slice(&bytes),
                        Err(wasip2::io::streams::StreamError::Closed) => break,
                        Err(e) => return Err(format!("read: {e:?}")),
                    }
                }
            }
            drop((input, output));
            String::from_utf8(text).map_err(|e| e.to_string())
        })
    }

    fn budget_fairness() -> u64 {
        wasync::block_on(async {
            let stop = Rc::new(Cell::new(false));
            let s = stop.clone();
            let busy = wasync::spawn(async move {
                // Sleeping until a past instant is ready every time: only
                // the budget makes this task give the executor back.
                let past = Instant::now();
                let mut spins = 0u64;
                while !s.get() {
                    sleep_until(past).await;
                    spins += 1;
                }
                spins
            });
            sleep(Duration::from_millis(20)).await;
            stop.set(true);
            busy.await.expect("not aborted")
        })
    }

    fn yield_fairness() -> u64 {
        wasync::block_on(async {
            let stop = Rc::new(Cell::new(false));
            let s = stop.clone();
            let spinner = wasync::spawn(async move {
                let mut spins = 0u64;
                while !s.get() {
                    yield_now().await;
                    spins += 1;
                }
                spins
            });
            sleep(Duration::from_millis(20)).await;
            stop.set(true);
            spinner.await.expect("not aborted")
        })
    }

    fn spawn_background(ms: u32) {
        drop(wasync::spawn(async move {
            sleep(Duration::from_millis(u64::from(ms))).await;
            BACKGROUND.with(|b| b.set(b.get() + 1));
        }));
    }

    fn read_file(path: String, drop_stream_first: bool) -> Result<u64, String> {
        use futures::io::AsyncReadExt;

        let (_file, stream) = open_preopened(&path)?;
        if drop_stream_first {
            let pollable = stream.subscribe();
            drop(stream);
            drop(pollable);
            return Err("the host accepted a stream dropped before its pollable".into());
        }
        wasync::block_on(async move {
            let mut reader = wasync::io::AsyncInputStream::new(stream);
            let mut bytes = Vec::new();
            reader
                .read_to_end(&mut bytes)
                .await
                .map_err(|e| e.to_string())?;
            Ok(bytes.len() as u64)
        })
    }

    fn http_post(url: String, body: String) -> Result<String, String> {
        wasync::block_on(examples_common::post_text(url, body))
    }

    fn stale_handle(reuses: u32, drop_join_handle: bool) -> String {
        wasync::block_on(async move {
            let mut first = wasync::spawn(async {});
            (&mut first).await.expect("not aborted");
            let stale = first.abort_handle();
            for _ in 0..reuses {
                wasync::spawn(async {}).await.expect("not aborted");
            }
            let victim = wasync::spawn(async {
                yield_now().await;
                "ran"
            });
            if drop_join_handle {
                drop(first);
            } else {
                stale.abort();
            }
            format!("{:?}", victim.await)
        })
    }

    fn empty_reads(path: String, url: String) -> Vec<String> {
        use futures::io::AsyncReadExt;

        /// What a read under a 2 s timeout gave.
        async fn outcome(read: impl Future<Output = std::io::Result<usize>>) -> String {
            match timeout(Duration::from_secs(2), read).await {
                Ok(Ok(n)) => format!("returned {n}"),
                Ok(Err(e)) => format!("failed: {e}"),
                Err(_) => "still waiting after 2 s".to_owned(),
            }
        }

        wasync::block_on(async move {
            let mut seen = Vec::new();
            match open_preopened(&path) {
                Ok((_file, stream)) => {
                    let mut reader = wasync::io::AsyncInputStream::new(stream);
                    seen.push(format!("file {}", outcome(reader.read(&mut [])).await));
                }
                Err(e) => seen.push(format!("file {e}")),
            }
            let req = http::Request::post(url)
                .body(wasync::http::Body::from("hello"))
                .expect("a valid request");
            match wasync::http::send(req).await {
                Ok(resp) => {
                    let mut body = resp.into_body();
                    seen.push(format!("http {}", outcome(body.read(&mut [])).await));
                }
                Err(e) => seen.push(format!("http send failed: {e}")),
            }
            seen
        })
    }

    fn background_count(ms: u32) -> u32 {
        wasync::block_on(sleep(Duration::from_millis(u64::from(ms))));
        BACKGROUND.with(Cell::get)
    }
}

/// Opens `path` in the first preopened folder for reading; the descriptor
/// comes back too, to outlive the stream.
fn open_preopened(
    path: &str,
) -> Result<
    (
        wasip2::filesystem::types::Descriptor,
        wasip2::io::streams::InputStream,
    ),
    String,
> {
    use wasip2::filesystem::types::{DescriptorFlags, OpenFlags, PathFlags};

    let dirs = wasip2::filesystem::preopens::get_directories();
    let (dir, _) = dirs.first().ok_or("no preopened folder")?;
    let file = dir
        .open_at(
            PathFlags::empty(),
            path,
            OpenFlags::empty(),
            DescriptorFlags::READ,
        )
        .map_err(|e| format!("open: {e:?}"))?;
    let stream = file
        .read_via_stream(0)
        .map_err(|e| format!("read-via-stream: {e:?}"))?;
    Ok((file, stream))
}

bindings::export!(RuntimeTests with_types_in bindings);
