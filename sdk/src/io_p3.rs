//! Mode N: WASI 0.3 `stream<u8>` as `futures::io::AsyncRead` and
//! `AsyncWrite`.
//!
//! A 0.3 stream operation is a future that borrows its end of the stream,
//! and a `poll_read` must keep it across polls; so each read or write moves
//! the stream end into a boxed future that hands it back when done.
//! Dropping an adapter with an operation in flight drops that future, which
//! cancels the operation (wit-bindgen's `cancel-read`/`cancel-write`) and
//! closes the stream end.
//!
//! Writes are rendezvous in 0.3: one completes when the reader has taken
//! the bytes. `poll_write` copies the bytes and returns at once, and the
//! next write (or `poll_flush`) waits for the previous one. A writer whose
//! reader only starts after the writer's task returns (an HTTP body) must
//! therefore run in a task of its own (`wasync::spawn`), or it waits
//! forever.
//!
//! Many 0.3 functions that hand out a stream also give a `future` of how
//! it ended (`wasi:cli` stdio, `wasi:sockets` TCP): an adapter made with
//! it reports that outcome as the end of the stream (a reader) or as the
//! result of `close` (a writer), so a reset connection is an error, not a
//! short read.
//!
//! [`stdin`], [`stdout`] and [`stderr`] give the process's standard
//! streams (`wasi:cli` 0.3) as these adapters.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures::io::{AsyncRead, AsyncWrite};
use futures::stream::Stream;
use wasip3::wit_bindgen::{StreamReader, StreamResult, StreamWriter};

use crate::runtime::poll_proceed;

use crate::chunks::{self, CHUNK};

type Op<T> = Pin<Box<dyn Future<Output = T>>>;

/// How a stream ended, as the host reports it once the stream is done.
type Outcome = Op<io::Result<()>>;

/// A read in flight: the stream end comes back with what was read.
type Read = Op<(StreamReader<u8>, StreamResult, Vec<u8>)>;

/// The receiving end of a `stream<u8>`, read asynchronously.
///
/// # Examples
///
/// ```no_run
/// use futures::io::AsyncReadExt;
///
/// # async fn demo() -> std::io::Result<()> {
/// let (stdin, _done) = wasip3::cli::stdin::read_via_stream();
/// let mut input = wasync::io::AsyncInputStream::new(stdin);
/// let mut text = String::new();
/// input.read_to_string(&mut text).await?;
/// # Ok(()) }
/// ```
pub struct AsyncInputStream {
    reader: Option<StreamReader<u8>>,
    reading: Option<Read>,
    /// Bytes read but not yet handed out, from `offset`.
    pending: Vec<u8>,
    offset: usize,
    closed: bool,
    /// Polled once the stream ended: an error ends the reading with it.
    outcome: Option<Outcome>,
}

impl fmt::Debug for AsyncInputStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncInputStream")
            .field("reading", &self.reading.is_some())
            .field("pending", &(self.pending.len() - self.offset))
            .field("closed", &self.closed)
            .finish()
    }
}

impl AsyncInputStream {
    /// Wraps the receiving end of a stream.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let (tx, rx) = wasip3::wit_stream::new::<u8>();
    /// let input = wasync::io::AsyncInputStream::new(rx);
    /// # drop((tx, input));
    /// ```
    pub fn new(reader: StreamReader<u8>) -> AsyncInputStream {
        AsyncInputStream {
            reader: Some(reader),
            reading: None,
            pending: Vec::new(),
            offset: 0,
            closed: false,
            outcome: None,
        }
    }

    /// Wraps a stream whose end `outcome` explains: once the writer closed
    /// the stream, the reader waits for it, and an error is the last read.
    pub(crate) fn with_outcome(
        reader: StreamReader<u8>,
        outcome: impl Future<Output = io::Result<()>> + 'static,
    ) -> AsyncInputStream {
        AsyncInputStream {
            outcome: Some(Box::pin(outcome)),
            ..AsyncInputStream::new(reader)
        }
    }

    /// Gives the stream end back, or `None` if it is closed or a read was
    /// in flight (which is cancelled, and the stream end dropped with it).
    /// Bytes already read but not handed out are lost.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let (_tx, rx) = wasip3::wit_stream::new::<u8>();
    /// let input = wasync::io::AsyncInputStream::new(rx);
    /// assert!(input.into_inner().is_some());
    /// ```
    pub fn into_inner(mut self) -> Option<StreamReader<u8>> {
        self.reading = None;
        self.reader.take()
    }

    /// Waits for the next chunk of at most `max` bytes; `None` once the
    /// writer closed the stream. With `max` 0 it gives an empty chunk at
    /// once.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(mut input: wasync::io::AsyncInputStream) -> std::io::Result<()> {
    /// while let Some(chunk) = std::future::poll_fn(|cx| input.poll_chunk(cx, 4096)).await? {
    ///     println!("{} bytes", chunk.len());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn poll_chunk(
        &mut self,
        cx: &mut Context<'_>,
        max: usize,
    ) -> Poll<io::Result<Option<Vec<u8>>>> {
        if max == 0 {
            return Poll::Ready(Ok(Some(Vec::new())));
        }
        if self.offset < self.pending.len() {
            let end = self.pending.len().min(self.offset + max);
            let chunk = self.pending[self.offset..end].to_vec();
            self.offset = end;
            return Poll::Ready(Ok(Some(chunk)));
        }
        loop {
            if self.closed {
                if let Some(outcome) = self.outcome.as_mut() {
                    let ended = ready!(outcome.as_mut().poll(cx));
                    self.outcome = None;
                    ended?;
                }
                return Poll::Ready(Ok(None));
            }
            if self.reading.is_none() {
                let Some(mut reader) = self.reader.take() else {
                    self.closed = true;
                    continue;
                };
                let want = max.min(CHUNK);
                self.reading = Some(Box::pin(async move {
                    let (result, data) = reader.read(Vec::with_capacity(want)).await;
                    (reader, result, data)
                }));
            }
            ready!(poll_proceed(cx));
            let Some(reading) = self.reading.as_mut() else {
                unreachable!("started above")
            };
            let (reader, result, data) = ready!(reading.as_mut().poll(cx));
            self.reading = None;
            match result {
                StreamResult::Complete(_) => self.reader = Some(reader),
                StreamResult::Dropped | StreamResult::Cancelled => self.closed = true,
            }
            if !data.is_empty() {
                return Poll::Ready(Ok(Some(data)));
            }
        }
    }
}

impl AsyncRead for AsyncInputStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let max = buf.len();
        chunks::poll_read(buf, self.get_mut().poll_chunk(cx, max))
    }
}

impl Stream for AsyncInputStream {
    type Item = io::Result<Bytes>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        chunks::poll_next(self.get_mut().poll_chunk(cx, CHUNK))
    }
}

/// A write in flight: the stream end comes back with what the reader did
/// not take (all of it if the reader is gone).
type Write = Op<(StreamWriter<u8>, Vec<u8>)>;

fn broken_pipe() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "the reader dropped the stream")
}

/// The sending end of a `stream<u8>`, written asynchronously.
///
/// A write is offered to the reader at once; the next write, `flush` or
/// `close` waits until the reader took it. A reader may take a write in
/// part, and the rest goes out only when this stream is polled again: flush
/// before waiting on something the reader's progress depends on.
///
/// # Examples
///
/// ```no_run
/// use futures::io::AsyncWriteExt;
///
/// # async fn demo() -> std::io::Result<()> {
/// let (tx, rx) = wasip3::wit_stream::new::<u8>();
/// let _done = wasip3::cli::stdout::write_via_stream(rx);
/// let mut out = wasync::io::AsyncOutputStream::new(tx);
/// out.write_all(b"hello\n").await?;
/// out.close().await?;
/// # Ok(()) }
/// ```
pub struct AsyncOutputStream {
    writer: Option<StreamWriter<u8>>,
    writing: Option<Write>,
    broken: bool,
    /// Awaited by `poll_close`, after the stream is closed.
    outcome: Option<Outcome>,
}

impl fmt::Debug for AsyncOutputStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncOutputStream")
            .field("writing", &self.writing.is_some())
            .field("broken", &self.broken)
            .finish()
    }
}

impl AsyncOutputStream {
    /// Wraps the sending end of a stream.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let (tx, rx) = wasip3::wit_stream::new::<u8>();
    /// let out = wasync::io::AsyncOutputStream::new(tx);
    /// # drop((out, rx));
    /// ```
    pub fn new(writer: StreamWriter<u8>) -> AsyncOutputStream {
        AsyncOutputStream {
            writer: Some(writer),
            writing: None,
            broken: false,
            outcome: None,
        }
    }

    /// Wraps a stream whose end `outcome` explains: closing the writer
    /// waits for it (the reader took everything, or why not).
    pub(crate) fn with_outcome(
        writer: StreamWriter<u8>,
        outcome: impl Future<Output = io::Result<()>> + 'static,
    ) -> AsyncOutputStream {
        AsyncOutputStream {
            outcome: Some(Box::pin(outcome)),
            ..AsyncOutputStream::new(writer)
        }
    }

    /// Gives the stream end back, or `None` if it is closed or a write was
    /// in flight (which is cancelled, and the stream end dropped with it).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let (tx, _rx) = wasip3::wit_stream::new::<u8>();
    /// let out = wasync::io::AsyncOutputStream::new(tx);
    /// assert!(out.into_inner().is_some());
    /// ```
    pub fn into_inner(mut self) -> Option<StreamWriter<u8>> {
        self.writing = None;
        self.writer.take()
    }

    /// Waits until the write in flight, if any, was taken by the reader.
    fn poll_previous(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(writing) = self.writing.as_mut() {
            ready!(poll_proceed(cx));
            let (writer, rest) = ready!(writing.as_mut().poll(cx));
            self.writing = None;
            self.writer = Some(writer);
            if !rest.is_empty() {
                self.broken = true;
            }
        }
        if self.broken {
            return Poll::Ready(Err(broken_pipe()));
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for AsyncOutputStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_previous(cx))?;
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let Some(mut writer) = this.writer.take() else {
            return Poll::Ready(Err(broken_pipe()));
        };
        let data = buf.to_vec();
        let mut writing: Write = Box::pin(async move {
            let rest = writer.write_all(data).await;
            (writer, rest)
        });
        // Start the write now: a future does nothing until polled, and the
        // caller may next wait on something else (the next piece of a body
        // it copies), leaving these bytes unoffered to the reader until its
        // next write. Not subject to the coop budget, for the same reason.
        match writing.as_mut().poll(cx) {
            Poll::Pending => this.writing = Some(writing),
            Poll::Ready((writer, rest)) => {
                this.writer = Some(writer);
                if !rest.is_empty() {
                    this.broken = true;
                    return Poll::Ready(Err(broken_pipe()));
                }
            }
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_previous(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.writer.is_some() || this.writing.is_some() {
            let flushed = this.poll_previous(cx);
            let flushed = ready!(flushed);
            // Dropping the writer closes the stream: the reader sees its end.
            this.writer = None;
            if let Err(e) = flushed {
                this.outcome = None;
                return Poll::Ready(Err(e));
            }
        }
        if let Some(outcome) = this.outcome.as_mut() {
            let ended = ready!(outcome.as_mut().poll(cx));
            this.outcome = None;
            return Poll::Ready(ended);
        }
        Poll::Ready(Ok(()))
    }
}

/// The guest's standard input (`wasi:cli/stdin` 0.3, `read-via-stream`),
/// read asynchronously: waiting for input lets other tasks run.
///
/// Each call opens the stream anew; keep one reader for the whole input,
/// as a reader may hold bytes it read ahead. An error reading stdin is
/// the last read.
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
    let (reader, ended) = wasip3::cli::stdin::read_via_stream();
    AsyncInputStream::with_outcome(
        reader,
        async move { ended.await.map_err(cli_error("stdin")) },
    )
}

/// The guest's standard output (`wasi:cli/stdout` 0.3,
/// `write-via-stream`), written asynchronously.
///
/// A write completes when the host took the bytes: `flush` waits for the
/// last one, `close` also for the host to finish the stream. (`println!`
/// writes through std's own 0.2 stdout: use one of the two when the order
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
    let (writer, reader) = wasip3::wit_stream::new::<u8>();
    let ended = wasip3::cli::stdout::write_via_stream(reader);
    AsyncOutputStream::with_outcome(
        writer,
        async move { ended.await.map_err(cli_error("stdout")) },
    )
}

/// The guest's standard error (`wasi:cli/stderr` 0.3,
/// `write-via-stream`), written asynchronously.
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
    let (writer, reader) = wasip3::wit_stream::new::<u8>();
    let ended = wasip3::cli::stderr::write_via_stream(reader);
    AsyncOutputStream::with_outcome(
        writer,
        async move { ended.await.map_err(cli_error("stderr")) },
    )
}

/// A `wasi:cli` 0.3 error of the stream `what`, as an `io::Error`.
fn cli_error(what: &'static str) -> impl Fn(wasip3::cli::types::ErrorCode) -> io::Error {
    use wasip3::cli::types::ErrorCode;
    move |code| {
        let kind = match code {
            ErrorCode::Pipe => io::ErrorKind::BrokenPipe,
            ErrorCode::IllegalByteSequence => io::ErrorKind::InvalidData,
            ErrorCode::Io => io::ErrorKind::Other,
        };
        io::Error::new(kind, format!("{what}: {code:?}"))
    }
}
