//! What the tests that run guests under the stock `wasmtime` CLI share.

// Each test binary uses only some of these.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// A loopback address with a free port, to serve on.
pub const LOOPBACK: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 0);

/// The stock `wasmtime` CLI: `$WASMTIME` or `$WASYNC_WASMTIME` if set,
/// else the one the guest pipeline installed (`test_programs::WASMTIME_CLI`).
/// Missing, it fails `test` with the reason: no test is skipped. (The
/// `Option` is always `Some`.)
pub fn wasmtime_or_skip(test: &str) -> Option<PathBuf> {
    for var in ["WASMTIME", "WASYNC_WASMTIME"] {
        if let Some(path) = std::env::var_os(var) {
            return Some(PathBuf::from(path));
        }
    }
    match test_programs::WASMTIME_CLI {
        Ok(path) => Some(PathBuf::from(path)),
        Err(why) => panic!(
            "{test} needs the stock wasmtime CLI, which the guest pipeline could not install: {why}"
        ),
    }
}

/// `wasmtime serve` on a free loopback port, killed on drop.
pub struct WasmtimeServe {
    _child: tokio::process::Child,
    pub addr: SocketAddr,
}

impl WasmtimeServe {
    pub async fn start(wasmtime: &Path, component: &str, extra: &[String]) -> WasmtimeServe {
        use tokio::io::AsyncBufReadExt;
        let mut child = tokio::process::Command::new(wasmtime)
            .args(["serve", "--addr=127.0.0.1:0", "-Scli"])
            .args(extra)
            .arg(component)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let addr = tokio::time::timeout(Duration::from_secs(120), async {
            loop {
                let line = lines
                    .next_line()
                    .await
                    .unwrap()
                    .expect("wasmtime serve exited");
                if let Some(a) = wasync_harness::bench::http::serving_addr(&line) {
                    return a;
                }
            }
        })
        .await
        .expect("wasmtime serve said where it listens");
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        WasmtimeServe {
            _child: child,
            addr,
        }
    }
}
