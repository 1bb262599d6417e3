//! The TCP stream types, shared by `wasi:sockets` 0.2 (`net`) and 0.3
//! (`net_p3`): [`TcpStream`], its halves, and the [`Incoming`] stream of
//! a listener.
//!
//! What differs between the versions lives in the parent's `tcp` module:
//! how a connection is made (`TcpStream::connect_addr`), the socket's
//! addresses, and how closing the writing half shuts the sending side
//! down (`poll_shutdown`).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use futures::io::{AsyncRead, AsyncWrite};

use super::tcp::{TcpListener, local_address, poll_shutdown, remote_address};
use super::wasi::TcpSocket;
use super::{address, resolve};
use crate::io::{AsyncInputStream, AsyncOutputStream};

/// A TCP connection: a `futures::io::AsyncRead` and `AsyncWrite`.
///
/// Closing it (`AsyncWriteExt::close`) flushes and shuts down the sending
/// side, so the peer reads the end of the stream; dropping it closes the
/// connection.
///
/// # Examples
///
/// ```no_run
/// use wasync::futures::{AsyncBufReadExt, AsyncWriteExt, io::BufReader};
///
/// # async fn demo() -> std::io::Result<()> {
/// let mut conn = wasync::net::TcpStream::connect("localhost:6379").await?;
/// conn.write_all(b"PING\r\n").await?;
/// let mut line = String::new();
/// BufReader::new(&mut conn).read_line(&mut line).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct TcpStream {
    // The halves share the socket, which goes when both are gone (in 0.2
    // after its streams, its children).
    pub(super) read: TcpReadHalf,
    pub(super) write: TcpWriteHalf,
}

impl TcpStream {
    /// Connects to `addr`: `ip:port`, `[ipv6]:port`, or `host:port` (looked
    /// up with [`super::lookup_host`], each address tried in turn).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo() -> std::io::Result<()> {
    /// let conn = wasync::net::TcpStream::connect("127.0.0.1:8080").await?;
    /// println!("connected to {}", conn.peer_addr()?);
    /// # Ok(()) }
    /// ```
    pub async fn connect(addr: &str) -> io::Result<TcpStream> {
        let mut last = None;
        for a in resolve(addr).await? {
            match TcpStream::connect_addr(a).await {
                Ok(s) => return Ok(s),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other(format!("`{addr}` gave no address"))))
    }

    /// The address of the peer.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(conn: wasync::net::TcpStream) -> std::io::Result<()> {
    /// println!("talking to {}", conn.peer_addr()?);
    /// # Ok(()) }
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        address(remote_address(&self.write.socket), "peer address")
    }

    /// The local address of the connection.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(conn: wasync::net::TcpStream) -> std::io::Result<()> {
    /// println!("from {}", conn.local_addr()?);
    /// # Ok(()) }
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        address(local_address(&self.write.socket), "local address")
    }

    /// The reading and the writing side, borrowed, to use at once (for
    /// example with `wasync::join!`).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(mut conn: wasync::net::TcpStream) -> std::io::Result<()> {
    /// // An echo: whatever arrives goes straight back.
    /// let (reader, writer) = conn.split();
    /// wasync::futures::io::copy(reader, writer).await?;
    /// # Ok(()) }
    /// ```
    pub fn split(&mut self) -> (&mut TcpReadHalf, &mut TcpWriteHalf) {
        (&mut self.read, &mut self.write)
    }

    /// The reading and the writing side, owned, for two tasks. The socket
    /// closes when both are dropped.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use wasync::futures::{AsyncReadExt, AsyncWriteExt};
    ///
    /// # async fn demo(conn: wasync::net::TcpStream) -> std::io::Result<()> {
    /// let (mut reader, mut writer) = conn.into_split();
    /// let sender = wasync::spawn(async move { writer.write_all(b"hello").await });
    /// let mut buf = Vec::new();
    /// reader.read_to_end(&mut buf).await?;
    /// sender.await.unwrap()?;
    /// # Ok(()) }
    /// ```
    pub fn into_split(self) -> (TcpReadHalf, TcpWriteHalf) {
        (self.read, self.write)
    }
}

impl AsyncRead for TcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().read).poll_read(cx, buf)
    }
}

impl AsyncWrite for TcpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().write).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().write).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().write).poll_close(cx)
    }
}

/// The reading side of a [`TcpStream`] ([`TcpStream::split`],
/// [`TcpStream::into_split`]).
///
/// # Examples
///
/// ```no_run
/// use wasync::futures::AsyncReadExt;
///
/// # async fn demo(conn: wasync::net::TcpStream) -> std::io::Result<()> {
/// let (mut reader, _writer) = conn.into_split();
/// let mut head = [0u8; 4];
/// reader.read_exact(&mut head).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct TcpReadHalf {
    pub(super) reader: AsyncInputStream,
    pub(super) _socket: Rc<TcpSocket>,
}

impl AsyncRead for TcpReadHalf {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().reader).poll_read(cx, buf)
    }
}

/// The writing side of a [`TcpStream`] ([`TcpStream::split`],
/// [`TcpStream::into_split`]). Closing it shuts down the sending side of
/// the connection.
///
/// # Examples
///
/// ```no_run
/// use wasync::futures::AsyncWriteExt;
///
/// # async fn demo(conn: wasync::net::TcpStream) -> std::io::Result<()> {
/// let (_reader, mut writer) = conn.into_split();
/// writer.write_all(b"bye").await?;
/// writer.close().await?; // the peer reads the end of the stream
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct TcpWriteHalf {
    pub(super) writer: AsyncOutputStream,
    pub(super) socket: Rc<TcpSocket>,
}

impl AsyncWrite for TcpWriteHalf {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().writer).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().writer).poll_flush(cx)
    }

    /// Flushes, then shuts down the sending side: the peer reads the end
    /// of the stream.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        poll_shutdown(&mut this.writer, &this.socket, cx)
    }
}

/// The `Stream` of [`TcpListener::incoming`].
///
/// # Examples
///
/// ```no_run
/// # fn demo(mut listener: wasync::net::TcpListener) {
/// let connections: wasync::net::Incoming<'_> = listener.incoming();
/// # }
/// ```
#[derive(Debug)]
#[must_use = "streams do nothing unless polled"]
pub struct Incoming<'a> {
    pub(super) listener: &'a mut TcpListener,
}
