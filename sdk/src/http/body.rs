//! [`Body`]: one body type for every direction. A request or response body
//! that wasync writes (the client's requests, a service's responses), and
//! one that it reads (a service's requests), all stream.
//!
//! Ground rules:
//! - A body is read once, as a `Stream` of chunks or with `AsyncRead`
//!   (not both at once: a chunk the stream handed out is gone).
//! - A body made in memory (bytes, a reader, a stream, a channel) works on
//!   every target, so handlers can be tested natively; one that arrived
//!   from the host ([`IncomingBody`]) exists only in a wasm guest.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures::channel::{mpsc, oneshot};
use futures::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use futures::stream::{Stream, StreamExt};

use super::{Error, IncomingBody};

/// How much one read of a reader body asks for.
const CHUNK: usize = 64 * 1024;

type BoxStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>>>>;

/// A request or response body: bytes in memory, or a stream that is read
/// (and written) as it arrives.
///
/// A service's handler gets the request body as a `Body` and returns its
/// response body as one; the client sends one with each request. Reading
/// it: [`Body::bytes`], [`Body::text`], or chunk by chunk as a
/// `futures::Stream` or with `futures::io::AsyncRead`.
///
/// # Examples
///
/// ```
/// use wasync::futures::StreamExt;
/// use wasync::http::Body;
///
/// wasync::block_on(async {
///     assert_eq!(Body::from("hello").text().await.unwrap(), "hello");
///
///     let chunks = wasync::futures::stream::iter(["a", "b", "c"].map(Ok::<_, std::io::Error>));
///     let mut body = Body::from_stream(chunks);
///     let mut seen = Vec::new();
///     while let Some(chunk) = body.next().await {
///         seen.push(chunk.unwrap());
///     }
///     assert_eq!(seen, ["a", "b", "c"]);
/// });
/// ```
pub struct Body {
    inner: Inner,
    /// What a reader left of the last chunk.
    leftover: Bytes,
}

enum Inner {
    Bytes(Bytes),
    Reader(Pin<Box<dyn AsyncRead>>),
    Stream(BoxStream),
    Incoming(IncomingBody),
}

impl Body {
    fn new(inner: Inner) -> Body {
        Body {
            inner,
            leftover: Bytes::new(),
        }
    }

    /// No body.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(wasync::http::Body::empty().is_empty());
    /// ```
    pub fn empty() -> Body {
        Body::new(Inner::Bytes(Bytes::new()))
    }

    /// A body read from `reader` as it is sent.
    ///
    /// # Examples
    ///
    /// ```
    /// let body = wasync::http::Body::from_reader(wasync::futures::io::Cursor::new(b"data".to_vec()));
    /// assert_eq!(wasync::block_on(body.bytes()).unwrap(), "data");
    /// ```
    pub fn from_reader(reader: impl AsyncRead + 'static) -> Body {
        Body::new(Inner::Reader(Box::pin(reader)))
    }

    /// A body of the chunks `stream` yields, sent as they come. An error
    /// from the stream ends the body there, as incomplete.
    ///
    /// # Examples
    ///
    /// ```
    /// use wasync::http::Body;
    ///
    /// let parts = wasync::futures::stream::iter(vec![Ok::<_, std::io::Error>("[1,"), Ok("2]")]);
    /// let text = wasync::block_on(Body::from_stream(parts).text()).unwrap();
    /// assert_eq!(text, "[1,2]");
    /// ```
    pub fn from_stream<S, T, E>(stream: S) -> Body
    where
        S: Stream<Item = Result<T, E>> + 'static,
        T: Into<Bytes>,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let stream = stream.map(|item| item.map(Into::into).map_err(io::Error::other));
        Body::new(Inner::Stream(Box::pin(stream)))
    }

    /// A body written through a [`BodyWriter`] (an `AsyncWrite`), for a
    /// response returned before its body is complete: return the `Body`,
    /// and write the rest from a spawned task. At most `capacity` writes
    /// wait in the channel before the writer waits for them to be sent.
    ///
    /// # Examples
    ///
    /// ```
    /// use wasync::futures::AsyncWriteExt;
    /// use wasync::http::Body;
    ///
    /// wasync::block_on(async {
    ///     let (mut writer, body) = Body::channel(4);
    ///     wasync::spawn(async move {
    ///         for n in 1..=3 {
    ///             writer.write_all(format!("line {n}\n").as_bytes()).await.unwrap();
    ///         }
    ///         // Dropping (or closing) the writer ends the body.
    ///     });
    ///     assert_eq!(body.text().await.unwrap(), "line 1\nline 2\nline 3\n");
    /// });
    /// ```
    pub fn channel(capacity: usize) -> (BodyWriter, Body) {
        let (tx, rx) = mpsc::channel(capacity);
        let (abort_tx, abort_rx) = oneshot::channel();
        let writer = BodyWriter {
            tx,
            abort: Some(abort_tx),
        };
        let stream = ChannelStream {
            rx,
            abort: abort_rx,
        };
        (writer, Body::new(Inner::Stream(Box::pin(stream))))
    }

    /// Whether the body is known to be empty.
    ///
    /// # Examples
    ///
    /// ```
    /// use wasync::http::Body;
    ///
    /// assert!(Body::empty().is_empty());
    /// assert!(!Body::from("x").is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.leftover.is_empty() && matches!(&self.inner, Inner::Bytes(b) if b.is_empty())
    }

    /// Reads the whole body.
    ///
    /// # Examples
    ///
    /// ```
    /// let bytes = wasync::block_on(wasync::http::Body::from(vec![1, 2, 3]).bytes()).unwrap();
    /// assert_eq!(bytes, [1, 2, 3].as_slice());
    /// ```
    pub async fn bytes(mut self) -> Result<Bytes, Error> {
        if let Inner::Bytes(b) = &mut self.inner
            && self.leftover.is_empty()
        {
            return Ok(std::mem::take(b));
        }
        let mut out = Vec::new();
        while let Some(chunk) = self.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(out.into())
    }

    /// Reads the whole body as UTF-8 text.
    ///
    /// # Examples
    ///
    /// ```
    /// let text = wasync::block_on(wasync::http::Body::from("hi").text()).unwrap();
    /// assert_eq!(text, "hi");
    /// ```
    pub async fn text(self) -> Result<String, Error> {
        let bytes = self.bytes().await?;
        String::from_utf8(bytes.into())
            .map_err(|e| Error::Io(format!("the body is not UTF-8: {e}")))
    }

    /// Writes the whole body to `out` as it becomes available, and flushes
    /// it.
    ///
    /// Whenever the body has nothing more to give yet, what was written is
    /// flushed first: a writer may hold written bytes until it is polled
    /// again (a 0.3 stream write the reader took only in part), and a body
    /// that streams (an echo, a log) must reach its reader before the next
    /// piece exists, since the next piece may wait on the reader's reply.
    pub(super) async fn write_to<W: AsyncWrite + Unpin>(
        mut self,
        out: &mut W,
    ) -> Result<(), Error> {
        let io = |e: io::Error| Error::Io(e.to_string());
        loop {
            let next =
                match futures::future::poll_fn(|cx| Poll::Ready(self.poll_next_unpin(cx))).await {
                    Poll::Ready(next) => next,
                    Poll::Pending => {
                        out.flush().await.map_err(io)?;
                        self.next().await
                    }
                };
            let Some(chunk) = next else { break };
            out.write_all(&chunk?).await.map_err(io)?;
        }
        out.flush().await.map_err(io)
    }

    /// The next chunk, at most `max` bytes for a reader body (other bodies
    /// give their chunks whole).
    fn poll_chunk(
        &mut self,
        cx: &mut Context<'_>,
        max: usize,
    ) -> Poll<Option<Result<Bytes, Error>>> {
        if !self.leftover.is_empty() {
            return Poll::Ready(Some(Ok(std::mem::take(&mut self.leftover))));
        }
        let io_error = |e: io::Error| Error::Io(e.to_string());
        match &mut self.inner {
            Inner::Bytes(b) if b.is_empty() => Poll::Ready(None),
            Inner::Bytes(b) => Poll::Ready(Some(Ok(std::mem::take(b)))),
            Inner::Reader(reader) => {
                let mut buf = vec![0; max.clamp(1, CHUNK)];
                match ready!(reader.as_mut().poll_read(cx, &mut buf)) {
                    Ok(0) => Poll::Ready(None),
                    Ok(n) => {
                        buf.truncate(n);
                        Poll::Ready(Some(Ok(buf.into())))
                    }
                    Err(e) => Poll::Ready(Some(Err(io_error(e)))),
                }
            }
            Inner::Stream(stream) => loop {
                // Empty chunks say nothing: skip them, or a reader would
                // take one for the end of the body.
                match ready!(stream.as_mut().poll_next(cx)) {
                    Some(Ok(chunk)) if chunk.is_empty() => continue,
                    Some(Ok(chunk)) => return Poll::Ready(Some(Ok(chunk))),
                    Some(Err(e)) => return Poll::Ready(Some(Err(io_error(e)))),
                    None => return Poll::Ready(None),
                }
            },
            Inner::Incoming(incoming) => Pin::new(incoming).poll_next(cx),
        }
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            Inner::Bytes(b) => f.debug_tuple("Body").field(&b.len()).finish(),
            Inner::Reader(_) => f.write_str("Body(reader)"),
            Inner::Stream(_) => f.write_str("Body(stream)"),
            Inner::Incoming(_) => f.write_str("Body(incoming)"),
        }
    }
}

impl Default for Body {
    fn default() -> Body {
        Body::empty()
    }
}

impl Stream for Body {
    type Item = Result<Bytes, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_chunk(cx, CHUNK)
    }
}

impl AsyncRead for Body {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        match ready!(this.poll_chunk(cx, buf.len())) {
            None => Poll::Ready(Ok(0)),
            Some(Err(e)) => Poll::Ready(Err(io::Error::other(e))),
            Some(Ok(mut chunk)) => {
                let n = chunk.len().min(buf.len());
                buf[..n].copy_from_slice(&chunk.split_to(n));
                this.leftover = chunk;
                Poll::Ready(Ok(n))
            }
        }
    }
}

impl From<()> for Body {
    fn from((): ()) -> Body {
        Body::empty()
    }
}

impl From<Bytes> for Body {
    fn from(b: Bytes) -> Body {
        Body::new(Inner::Bytes(b))
    }
}

impl From<Vec<u8>> for Body {
    fn from(b: Vec<u8>) -> Body {
        Body::new(Inner::Bytes(b.into()))
    }
}

impl From<String> for Body {
    fn from(s: String) -> Body {
        Body::new(Inner::Bytes(s.into()))
    }
}

impl From<&'static str> for Body {
    fn from(s: &'static str) -> Body {
        Body::new(Inner::Bytes(Bytes::from_static(s.as_bytes())))
    }
}

impl From<&'static [u8]> for Body {
    fn from(s: &'static [u8]) -> Body {
        Body::new(Inner::Bytes(Bytes::from_static(s)))
    }
}

impl From<IncomingBody> for Body {
    /// A body that arrived (a response's, or a service's request) sent on
    /// as it arrives: a proxy forwards bodies this way.
    fn from(b: IncomingBody) -> Body {
        Body::new(Inner::Incoming(b))
    }
}

/// Writes the rest of a [`Body::channel`] body: an `AsyncWrite`. Dropping
/// or closing it ends the body; [`BodyWriter::abort`] ends it as
/// incomplete.
///
/// # Examples
///
/// ```
/// use wasync::futures::AsyncWriteExt;
///
/// wasync::block_on(async {
///     let (mut writer, body) = wasync::http::Body::channel(1);
///     let reader = wasync::spawn(body.text());
///     writer.write_all(b"partial").await.unwrap();
///     writer.abort(std::io::Error::other("the source failed"));
///     let err = reader.await.unwrap().unwrap_err();
///     assert!(err.to_string().contains("the source failed"), "{err}");
/// });
/// ```
#[derive(Debug)]
pub struct BodyWriter {
    tx: mpsc::Sender<Bytes>,
    /// Where [`BodyWriter::abort`] puts its error: beside the data, so
    /// that a full channel cannot hold it back.
    abort: Option<oneshot::Sender<io::Error>>,
}

impl BodyWriter {
    /// Ends the body with `error`: the reader gets the error after what was
    /// written, and a body being sent is left incomplete (the peer sees it
    /// cut short).
    ///
    /// # Examples
    ///
    /// ```
    /// let (writer, body) = wasync::http::Body::channel(1);
    /// writer.abort(std::io::Error::other("gave up"));
    /// assert!(wasync::block_on(body.bytes()).is_err());
    /// ```
    pub fn abort(mut self, error: io::Error) {
        if let Some(abort) = self.abort.take() {
            // The reader may be gone already: then nobody needs the error.
            let _ = abort.send(error);
        }
    }

    fn closed() -> io::Error {
        io::Error::new(io::ErrorKind::BrokenPipe, "the body's reader is gone")
    }
}

impl AsyncWrite for BodyWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        ready!(this.tx.poll_ready(cx)).map_err(|_| BodyWriter::closed())?;
        this.tx
            .start_send(Bytes::copy_from_slice(buf))
            .map_err(|_| BodyWriter::closed())?;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // A write is in the body once it is in the channel.
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().tx.close_channel();
        Poll::Ready(Ok(()))
    }
}

/// The reading end of [`Body::channel`]: the chunks, then the writer's
/// abort error if it sent one.
struct ChannelStream {
    rx: mpsc::Receiver<Bytes>,
    abort: oneshot::Receiver<io::Error>,
}

impl Stream for ChannelStream {
    type Item = io::Result<Bytes>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        match ready!(this.rx.poll_next_unpin(cx)) {
            Some(chunk) => Poll::Ready(Some(Ok(chunk))),
            // The writer is gone; it sent its abort (if any) before.
            None => Poll::Ready(this.abort.try_recv().ok().flatten().map(Err)),
        }
    }
}

#[cfg(test)]
mod tests {
    use futures::io::AsyncReadExt;

    use super::*;

    #[test]
    fn a_reader_gets_a_chunk_in_parts_when_its_buffer_is_small() {
        let body = Body::from_stream(futures::stream::iter([Ok::<_, io::Error>("abcdef")]));
        let out = crate::block_on(async {
            let mut body = body;
            let mut buf = [0u8; 4];
            let first = body.read(&mut buf).await.unwrap();
            let mut rest = Vec::new();
            body.read_to_end(&mut rest).await.unwrap();
            (buf[..first].to_vec(), rest)
        });
        assert_eq!(out, (b"abcd".to_vec(), b"ef".to_vec()));
    }

    #[test]
    fn empty_chunks_of_a_stream_do_not_end_the_body() {
        let parts = [Ok::<_, io::Error>(""), Ok("x"), Ok(""), Ok("y")];
        let text = crate::block_on(Body::from_stream(futures::stream::iter(parts)).text());
        assert_eq!(text.unwrap(), "xy");
    }

    #[test]
    fn an_abort_on_a_full_channel_still_reaches_the_reader() {
        let (mut writer, body) = Body::channel(0);
        let out = crate::block_on(async move {
            use futures::io::AsyncWriteExt;
            // Fills the channel (capacity 0 plus one slot per sender).
            writer.write_all(b"one").await.unwrap();
            writer.abort(io::Error::other("late failure"));
            body.bytes().await
        });
        let err = out.unwrap_err();
        assert!(err.to_string().contains("late failure"), "{err}");
    }

    #[test]
    fn a_writer_dropped_without_abort_ends_the_body_cleanly() {
        let (mut writer, body) = Body::channel(0);
        let out = crate::block_on(async move {
            use futures::io::AsyncWriteExt;
            writer.write_all(b"all").await.unwrap();
            drop(writer);
            body.text().await
        });
        assert_eq!(out.unwrap(), "all");
    }
}
