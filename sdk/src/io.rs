//! `wasi:io/streams` as `futures::io::AsyncRead` and `AsyncWrite`.
//!
//! Each adapter owns its stream, subscribes to it once, and waits on that
//! pollable through the runtime's shared poll, so thousands of streams cost
//! one host poll per turn. Writers apply backpressure with `check-write`.
//!
//! Ground rule: a stream's pollable is its child in the host's resource
//! table, and dropping a stream that still has a pollable traps ("resource
//! has children"). The adapters therefore drop, in this order: their
//! registration, their pollable, their stream. [`AsyncInputStream::into_inner`]
//! and [`AsyncOutputStream::into_inner`] drop the pollable before handing
//! the stream back.
//!
//! [`stdin`], [`stdout`] and [`stderr`] give the process's standard
//! streams as these adapters.
//!
//! These types wrap the wasi streams, so they do their work only in a wasm
//! guest; natively they compile but cannot be constructed from a real
//! stream.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures::io::{AsyncRead, AsyncWrite};
use futures::stream::Stream;
use wasip2::io::poll::Pollable;
use wasip2::io::streams::{InputStream, OutputStream, StreamError};

use crate::poll::Registration;

use crate::chunks::{self, CHUNK};

fn stream_error(e: StreamError) -> io::Error {
    match e {
        StreamError::Closed => io::Error::new(io::ErrorKind::BrokenPipe, "the stream is closed"),
        StreamError::LastOperationFailed(err) => io::Error::other(err.to_debug_string()),
    }
}

/// An `input-stream` that reads asynchronously.
///
/// # Examples
///
/// ```no_run
/// use futures::io::AsyncReadExt;
///
/// # async fn demo(stream: wasip2::io::streams::InputStream) -> std::io::Result<()> {
/// let mut reader = wasync::io::AsyncInputStream::new(stream);
/// let mut text = String::new();
/// reader.read_to_string(&mut text).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct AsyncInputStream {
    // Field order is drop order: registration, pollable, stream.
    wait: Registration,
    pollable: Option<Pollable>,
    stream: InputStream,
    closed: bool,
}

impl AsyncInputStream {
    /// Wraps a stream.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn demo(stream: wasip2::io::streams::InputStream) {
    /// let reader = wasync::io::AsyncInputStream::new(stream);
    /// # }
    /// ```
    pub fn new(stream: InputStream) -> AsyncInputStream {
        AsyncInputStream {
            wait: Registration::default(),
            pollable: None,
            stream,
            closed: false,
        }
    }

    /// Gives the stream back, after dropping the pollable that depends on
    /// it.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn demo(stream: wasip2::io::streams::InputStream) {
    /// let reader = wasync::io::AsyncInputStream::new(stream);
    /// let stream = reader.into_inner(); // safe to drop now
    /// # }
    /// ```
    pub fn into_inner(mut self) -> InputStream {
        self.wait = Registration::default();
        self.pollable = None;
        let AsyncInputStream { stream, .. } = self;
        stream
    }

    fn handle(&mut self) -> u32 {
        if self.pollable.is_none() {
            self.pollable = Some(self.stream.subscribe());
        }
        self.pollable.as_ref().map_or(0, Pollable::handle)
    }

    /// Reads the next chunk the host has, at most `max` bytes; `None` at
    /// the end of the stream. Errors are the stream's own, for callers that
    /// interpret them (HTTP bodies). A read of 0 bytes returns an empty
    /// chunk at once: the host's empty answer to it would mean "nothing
    /// yet", and waiting for more could never end.
    pub(crate) fn poll_raw(
        &mut self,
        cx: &mut Context<'_>,
        max: u64,
    ) -> Poll<Result<Option<Vec<u8>>, StreamError>> {
        loop {
            if self.closed {
                return Poll::Ready(Ok(None));
            }
            if max == 0 {
                return Poll::Ready(Ok(Some(Vec::new())));
            }
            match self.stream.read(max) {
                Ok(bytes) if bytes.is_empty() => {
                    let handle = self.handle();
                    ready!(self.wait.poll_ready(handle, cx));
                }
                Ok(bytes) => return Poll::Ready(Ok(Some(bytes))),
                Err(StreamError::Closed) => {
                    self.closed = true;
                    return Poll::Ready(Ok(None));
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    /// Reads the next chunk the host has, at most `max` bytes; `None` at
    /// the end of the stream. With `max` 0 it gives an empty chunk at once.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(stream: wasip2::io::streams::InputStream) -> std::io::Result<()> {
    /// let mut reader = wasync::io::AsyncInputStream::new(stream);
    /// while let Some(chunk) = std::future::poll_fn(|cx| reader.poll_chunk(cx, 4096)).await? {
    ///     println!("{} bytes", chunk.len());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn poll_chunk(
        &mut self,
        cx: &mut Context<'_>,
        max: u64,
    ) -> Poll<io::Result<Option<Vec<u8>>>> {
        self.poll_raw(cx, max).map_err(stream_error)
    }
}

impl AsyncRead for AsyncInputStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let max = buf.len().min(CHUNK) as u64;
        chunks::poll_read(buf, self.get_mut().poll_chunk(cx, max))
    }
}

impl Stream for AsyncInputStream {
    type Item = io::Result<Bytes>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        chunks::poll_next(self.get_mut().poll_chunk(cx, CHUNK as u64))
    }
}

/// An `output-stream` that writes asynchronously, as fast as the host's
/// `check-write` allows.
///
/// # Examples
///
/// ```no_run
/// use futures::io::AsyncWriteExt;
///
/// # async fn demo() -> std::io::Result<()> {
/// let stdout = wasip2::cli::stdout::get_stdout();
/// let mut out = wasync::io::AsyncOutputStream::new(stdout);
/// out.write_all(b"hello\n").await?;
/// out.flush().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct AsyncOutputStream {
    // Field order is drop order: registration, pollable, stream.
    wait: Registration,
    pollable: Option<Pollable>,
    stream: OutputStream,
    flushing: bool,
}

impl AsyncOutputStream {
    /// Wraps a stream.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn demo() {
    /// let out = wasync::io::AsyncOutputStream::new(wasip2::cli::stdout::get_stdout());
    /// # }
    /// ```
    pub fn new(stream: OutputStream) -> AsyncOutputStream {
        AsyncOutputStream {
            wait: Registration::default(),
            pollable: None,
            stream,
            flushing: false,
        }
    }

    /// Gives the stream back, after dropping the pollable that depends on
    /// it.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let out = wasync::io::AsyncOutputStream::new(wasip2::cli::stdout::get_stdout());
    /// let stdout = out.into_inner();
    /// ```
    pub fn into_inner(mut self) -> OutputStream {
        self.wait = Registration::default();
        self.pollable = None;
        let AsyncOutputStream { stream, .. } = self;
        stream
    }

    fn handle(&mut self) -> u32 {
        if self.pollable.is_none() {
            self.pollable = Some(self.stream.subscribe());
        }
        self.pollable.as_ref().map_or(0, Pollable::handle)
    }

    /// Waits until the host accepts at least one byte; returns how many.
    fn poll_permit(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        loop {
            match self.stream.check_write() {
                Ok(0) => {
                    let handle = self.handle();
                    ready!(self.wait.poll_ready(handle, cx));
                }
                Ok(n) => return Poll::Ready(Ok(n)),
                Err(e) => return Poll::Ready(Err(stream_error(e))),
            }
        }
    }
}

impl AsyncWrite for AsyncOutputStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let permit = ready!(this.poll_permit(cx))?;
        let n = buf.len().min(usize::try_from(permit).unwrap_or(usize::MAX));
        this.stream.write(&buf[..n]).map_err(stream_error)?;
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.flushing {
            this.stream.flush().map_err(stream_error)?;
            this.flushing = true;
        }
        // A flush is done when the stream accepts writes again.
        let done = this.poll_permit(cx);
        if done.is_ready() {
            this.flushing = false;
        }
        done.map_ok(|_| ())
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}

/// The guest's standard input (`wasi:cli/stdin`), read asynchronously:
/// waiting for input lets other tasks run.
///
/// Each call opens the stream anew; keep one reader for the whole input,
/// as a reader may hold bytes it read ahead.
///
/// # Examples
///
/// ```no_run
/// use wasync::futures::{AsyncBufReadExt, StreamExt};
///
/// # async fn demo() -> std::io::Result<()> {
/// let mut lines = wasync::futures::io::BufReader::new(wasync::io::stdin()).lines();
/// while let Some(line) = lines.next().await {
///     println!("{}", line?.to_uppercase());
/// }
/// # Ok(()) }
/// ```
pub fn stdin() -> AsyncInputStream {
    native_guard("wasync::io::stdin");
    AsyncInputStream::new(wasip2::cli::stdin::get_stdin())
}

/// The guest's standard output (`wasi:cli/stdout`), written
/// asynchronously.
///
/// Writes go to the host as they are made. (`println!` writes through
/// std's own line buffer: flush it, or use one of the two, when the order
/// of lines matters.)
///
/// # Examples
///
/// ```no_run
/// use wasync::futures::AsyncWriteExt;
///
/// # async fn demo() -> std::io::Result<()> {
/// let mut out = wasync::io::stdout();
/// out.write_all(b"done\n").await?;
/// out.flush().await?;
/// # Ok(()) }
/// ```
pub fn stdout() -> AsyncOutputStream {
    native_guard("wasync::io::stdout");
    AsyncOutputStream::new(wasip2::cli::stdout::get_stdout())
}

/// The guest's standard error (`wasi:cli/stderr`), written asynchronously.
///
/// # Examples
///
/// ```no_run
/// use wasync::futures::AsyncWriteExt;
///
/// # async fn demo() -> std::io::Result<()> {
/// wasync::io::stderr().write_all(b"warning: slow source\n").await?;
/// # Ok(()) }
/// ```
pub fn stderr() -> AsyncOutputStream {
    native_guard("wasync::io::stderr");
    AsyncOutputStream::new(wasip2::cli::stderr::get_stderr())
}

/// Natively there is no WASI host to ask: say so, rather than let the
/// bindings fail with `unreachable`.
#[track_caller]
fn native_guard(what: &str) {
    if cfg!(not(target_family = "wasm")) {
        panic!(
            "{what} needs a WASI host: it works in a wasm guest only. In native tests, \
             give the code under test a reader or writer instead (for example a \
             `futures::io::Cursor`)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "wasync::io::stdin needs a WASI host")]
    fn natively_stdin_says_it_needs_a_wasi_host() {
        let _ = stdin();
    }
}
