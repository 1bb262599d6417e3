//! Sockets and name lookup (`wasync::net`) on loopback: the `echo-server`
//! and `net-client` commands, each talking to a peer in this test. The
//! harness grants network access only when asked. Every test runs each
//! command in mode S (`wasi:sockets` 0.2) and mode N (`wasi:sockets` 0.3,
//! the `-n.wasm` builds), with the same assertions.

mod common;

use std::net::SocketAddr;
use std::sync::LazyLock;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wasync_harness::{Exit, Harness, NetworkAccess, WasiOptions};

static HARNESS: LazyLock<Harness> = LazyLock::new(|| Harness::new().expect("engine"));

/// `echo-server` in modes S and N.
const ECHO_SERVERS: [&str; 2] = [test_programs::ECHO_SERVER, test_programs::ECHO_SERVER_N];
/// `net-client` in modes S and N.
const NET_CLIENTS: [&str; 2] = [test_programs::NET_CLIENT, test_programs::NET_CLIENT_N];

fn options(args: &[&str], network: NetworkAccess) -> WasiOptions {
    WasiOptions {
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        network,
        ..WasiOptions::captured()
    }
}

async fn run(path: &str, args: &[&str], network: NetworkAccess) -> Exit {
    let loaded = HARNESS.load(path).unwrap();
    HARNESS
        .run_command(&loaded, &options(args, network))
        .await
        .unwrap()
}

/// Starts the `echo-server` at `path` and returns the address it
/// announced, and its run.
async fn start_echo_server(
    path: &str,
    args: &[&str],
) -> (
    SocketAddr,
    tokio::task::JoinHandle<wasync_harness::Result<Exit>>,
) {
    let loaded = HARNESS.load(path).unwrap();
    let cmd = HARNESS
        .start_command(&loaded, &options(args, NetworkAccess::Loopback))
        .await
        .unwrap();
    let stdout = cmd.stdout();
    let run = tokio::spawn(cmd.wait());
    let addr = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if let Some(line) = stdout
                .text()
                .lines()
                .find_map(|l| l.strip_prefix("listening on "))
            {
                return line.parse::<SocketAddr>().unwrap();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{path}: the echo server announced its address"));
    (addr, run)
}

/// Sends `data` over TCP while reading the echo, then closes the sending
/// side; returns what came back.
async fn tcp_round_trip(addr: SocketAddr, data: Vec<u8>) -> Vec<u8> {
    let conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut reader, mut writer) = conn.into_split();
    let send = async move {
        writer.write_all(&data).await.unwrap();
        writer.shutdown().await.unwrap();
    };
    let receive = async move {
        let mut back = Vec::new();
        reader.read_to_end(&mut back).await.unwrap();
        back
    };
    tokio::join!(send, receive).1
}

#[tokio::test]
async fn the_echo_server_serves_two_tcp_peers_at_once() {
    for path in ECHO_SERVERS {
        let (addr, run) =
            start_echo_server(path, &["echo-server", "tcp", "127.0.0.1:0", "2"]).await;
        assert!(addr.ip().is_loopback(), "{path}: {addr}");
        let big: Vec<u8> = (0..300_000).map(|i| (i % 253) as u8).collect();
        let (small, large) = tokio::join!(
            tcp_round_trip(addr, b"first".to_vec()),
            tcp_round_trip(addr, big.clone())
        );
        assert_eq!(small, b"first", "{path}");
        assert!(
            large == big,
            "{path}: the large echo differs ({} bytes back)",
            large.len()
        );
        let exit = run.await.unwrap().unwrap();
        assert!(exit.success(), "{path}: {exit:?}");
        let out = exit.stdout.text();
        assert!(
            out.contains("echoed 5 bytes to 127.0.0.1:"),
            "{path}: {out}"
        );
        assert!(
            out.contains("echoed 300000 bytes to 127.0.0.1:"),
            "{path}: {out}"
        );
    }
}

#[tokio::test]
async fn the_echo_server_echoes_udp_datagrams_to_their_senders() {
    for path in ECHO_SERVERS {
        let (addr, run) =
            start_echo_server(path, &["echo-server", "udp", "127.0.0.1:0", "2"]).await;
        let peer = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mut buf = [0u8; 1500];
        for message in [&b"ping"[..], &b"a second, longer datagram"[..]] {
            peer.send_to(message, addr).await.unwrap();
            let (n, from) = tokio::time::timeout(Duration::from_secs(30), peer.recv_from(&mut buf))
                .await
                .unwrap_or_else(|_| panic!("{path}: an echo came back"))
                .unwrap();
            assert_eq!((&buf[..n], from), (message, addr), "{path}");
        }
        let exit = run.await.unwrap().unwrap();
        assert!(exit.success(), "{path}: {exit:?}");
    }
}

/// A TCP peer that echoes one connection: reads to the end, writes it back.
async fn tcp_echo_peer() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (mut conn, _) = listener.accept().await.unwrap();
        let mut got = Vec::new();
        conn.read_to_end(&mut got).await.unwrap();
        conn.write_all(&got).await.unwrap();
        conn.shutdown().await.unwrap();
    });
    (addr, task)
}

#[tokio::test]
async fn the_client_talks_tcp_to_a_peer_by_address_and_by_name() {
    for path in NET_CLIENTS {
        let (addr, peer) = tcp_echo_peer().await;
        let exit = run(
            path,
            &["net-client", "tcp", &addr.to_string(), "hello over tcp"],
            NetworkAccess::Loopback,
        )
        .await;
        assert!(exit.success(), "{path}: {exit:?}");
        assert_eq!(exit.stdout.text(), "hello over tcp\n", "{path}");
        peer.await.unwrap();

        // `localhost:PORT` is looked up with ip-name-lookup first.
        let (addr, peer) = tcp_echo_peer().await;
        let by_name = format!("localhost:{}", addr.port());
        let exit = run(
            path,
            &["net-client", "tcp", &by_name, "by name"],
            NetworkAccess::Loopback,
        )
        .await;
        assert!(exit.success(), "{path}: {exit:?}");
        assert_eq!(exit.stdout.text(), "by name\n", "{path}");
        peer.await.unwrap();
    }
}

#[tokio::test]
async fn the_client_talks_udp_to_a_peer() {
    for path in NET_CLIENTS {
        let peer = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = peer.local_addr().unwrap();
        let echo = tokio::spawn(async move {
            let mut buf = [0u8; 1500];
            let (n, from) = peer.recv_from(&mut buf).await.unwrap();
            peer.send_to(&buf[..n], from).await.unwrap();
        });
        let exit = run(
            path,
            &["net-client", "udp", &addr.to_string(), "a datagram"],
            NetworkAccess::Loopback,
        )
        .await;
        assert!(exit.success(), "{path}: {exit:?}");
        assert_eq!(exit.stdout.text(), "a datagram\n", "{path}");
        echo.await.unwrap();
    }
}

#[tokio::test]
async fn the_client_looks_up_localhost() {
    for path in NET_CLIENTS {
        let exit = run(
            path,
            &["net-client", "lookup", "localhost"],
            NetworkAccess::Loopback,
        )
        .await;
        assert!(exit.success(), "{path}: {exit:?}");
        let out = exit.stdout.text();
        assert!(
            out.lines().any(|l| l == "127.0.0.1" || l == "::1"),
            "{path}: {out}"
        );
    }
}

#[tokio::test]
async fn without_network_access_a_connect_is_denied_with_a_clear_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    for path in NET_CLIENTS {
        let exit = run(
            path,
            &["net-client", "tcp", &addr, "x"],
            NetworkAccess::None,
        )
        .await;
        assert_eq!(exit.status, 1, "{path}: {exit:?}");
        let err = exit.stderr.text();
        assert!(
            err.contains(&format!(
                "connect to {addr}: the host denied network access"
            )),
            "{path}: {err}"
        );
        assert!(
            err.contains("--network"),
            "{path}: it says how to grant it: {err}"
        );
    }
}

/// (A lookup without network access is no such error: wasmtime reports it
/// as `permanent-resolver-failure`, in 0.2 and 0.3 alike.)
#[tokio::test]
async fn without_network_access_a_listener_is_denied_with_a_clear_error() {
    for path in ECHO_SERVERS {
        let exit = run(
            path,
            &["echo-server", "tcp", "127.0.0.1:0", "1"],
            NetworkAccess::None,
        )
        .await;
        assert_eq!(exit.status, 1, "{path}: {exit:?}");
        let err = exit.stderr.text();
        assert!(
            err.contains("listen on 127.0.0.1:0: the host denied network access"),
            "{path}: {err}"
        );
    }
}

#[tokio::test]
async fn loopback_access_denies_other_addresses() {
    for path in NET_CLIENTS {
        // A documentation address (TEST-NET-1): never loopback.
        let exit = run(
            path,
            &["net-client", "tcp", "192.0.2.1:9", "x"],
            NetworkAccess::Loopback,
        )
        .await;
        assert_eq!(exit.status, 1, "{path}: {exit:?}");
        let err = exit.stderr.text();
        assert!(
            err.contains("the host denied network access"),
            "{path}: {err}"
        );
    }
}

#[test]
fn the_client_runs_under_the_stock_wasmtime_cli_with_network_access() {
    let Some(wasmtime) = common::wasmtime_or_skip("the_client_runs_under_the_stock_wasmtime_cli")
    else {
        return;
    };
    for path in NET_CLIENTS {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let peer = std::thread::spawn(move || {
            use std::io::{Read, Write};
            let (mut conn, _) = listener.accept().unwrap();
            let mut got = Vec::new();
            conn.read_to_end(&mut got).unwrap();
            conn.write_all(&got).unwrap();
        });
        let out = std::process::Command::new(&wasmtime)
            .args(["run", "-Sinherit-network", path, "tcp"])
            .arg(addr.to_string())
            .arg("via wasmtime")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{path}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "via wasmtime\n",
            "{path}"
        );
        peer.join().unwrap();
    }
}
