//! Guest stdout and stderr: passed through to the host's, captured for
//! tests, and always remembered in part so that a trap can carry the panic
//! message the guest printed just before it.

use std::collections::VecDeque;
use std::io::Write;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// Where a guest output stream goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Stdio {
    /// Written through to the host's own stream.
    #[default]
    Inherit,
    /// Kept in memory only; read it with `Instance::stdout` / `stderr`.
    Capture,
}

#[derive(Debug, Clone, Copy)]
enum Host {
    Stdout,
    Stderr,
}

/// Bytes kept when passing through: enough for a panic message and its
/// location, small enough to keep per instance.
const TAIL: usize = 16 * 1024;
/// Bytes kept when capturing for tests.
const CAPTURE_LIMIT: usize = 4 * 1024 * 1024;

struct Buffer {
    bytes: VecDeque<u8>,
    limit: usize,
    passthrough: Option<Host>,
}

/// A cloneable handle to one guest output stream.
#[derive(Clone)]
pub struct Output {
    inner: Arc<Mutex<Buffer>>,
}

impl Output {
    fn new(mode: Stdio, host: Host) -> Output {
        let (limit, passthrough) = match mode {
            Stdio::Inherit => (TAIL, Some(host)),
            Stdio::Capture => (CAPTURE_LIMIT, None),
        };
        Output {
            inner: Arc::new(Mutex::new(Buffer {
                bytes: VecDeque::new(),
                limit,
                passthrough,
            })),
        }
    }

    pub(crate) fn stdout(mode: Stdio) -> Output {
        Output::new(mode, Host::Stdout)
    }

    pub(crate) fn stderr(mode: Stdio) -> Output {
        Output::new(mode, Host::Stderr)
    }

    fn lock(&self) -> MutexGuard<'_, Buffer> {
        // A panic while holding this lock cannot leave the buffer torn, so a
        // poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, data: &[u8]) {
        let mut buf = self.lock();
        match buf.passthrough {
            Some(Host::Stdout) => {
                let _ = std::io::stdout().write_all(data);
            }
            Some(Host::Stderr) => {
                let _ = std::io::stderr().write_all(data);
            }
            None => {}
        }
        buf.bytes.extend(data);
        let excess = buf.bytes.len().saturating_sub(buf.limit);
        buf.bytes.drain(..excess);
    }

    /// What the guest wrote (all of it when captured, the tail otherwise).
    pub fn contents(&self) -> Vec<u8> {
        self.lock().bytes.iter().copied().collect()
    }

    /// [`Output::contents`] as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.contents()).into_owned()
    }

    /// Forgets what was written so far.
    pub fn clear(&self) {
        self.lock().bytes.clear();
    }
}

impl IsTerminal for Output {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Output {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[async_trait::async_trait]
impl Pollable for Output {
    async fn ready(&mut self) {}
}

impl OutputStream for Output {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 * 1024)
    }
}

impl tokio::io::AsyncWrite for Output {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Pulls a Rust panic message out of what a guest printed to stderr:
/// the text after the last `panicked at <location>:` line, up to the
/// `note:` line that follows it.
pub fn panic_message(stderr: &str) -> Option<String> {
    let start = stderr.rfind("panicked at ")?;
    let rest = &stderr[start..];
    let mut lines = rest.lines();
    let location = lines.next()?;
    let message: Vec<&str> = lines.take_while(|l| !l.starts_with("note:")).collect();
    let message = message.join("\n").trim().to_owned();
    if message.is_empty() {
        // Older formats put the message on the same line as the location.
        Some(location.trim_start_matches("panicked at ").to_owned())
    } else {
        Some(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_message_is_the_text_after_the_location() {
        let stderr = "noise\nthread '<unnamed>' panicked at src/lib.rs:25:9:\nthe roof is on fire\nnote: run with `RUST_BACKTRACE=1`\n";
        assert_eq!(
            panic_message(stderr).as_deref(),
            Some("the roof is on fire")
        );
        assert_eq!(panic_message("all quiet"), None);
    }

    #[test]
    fn output_keeps_only_the_last_bytes_past_its_limit() {
        let out = Output::new(Stdio::Capture, Host::Stderr);
        out.lock().limit = 4;
        out.push(b"abcdef");
        assert_eq!(out.contents(), b"cdef");
    }
}
