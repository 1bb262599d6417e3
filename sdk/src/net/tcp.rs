//! TCP: [`TcpStream`] (connect, read, write) and [`TcpListener`] (bind,
//! accept).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, ready};

use futures::io::{AsyncRead, AsyncWrite};
use futures::stream::Stream;
use wasip2::io::poll::Pollable;
use wasip2::io::streams::{InputStream, OutputStream};
use wasip2::sockets::network::ErrorCode;
use wasip2::sockets::tcp::{ShutdownType, TcpSocket};
use wasip2::sockets::tcp_create_socket::create_tcp_socket;

use super::{address, bind_addr, error, family, native_guard, network, resolve, retry, to_wasi};
use crate::io::{AsyncInputStream, AsyncOutputStream};
use crate::poll::Registration;

/// Runs `finish` until it stops saying `would-block`, waiting on the
/// socket's pollable in between.
async fn finish<T>(
    socket: &TcpSocket,
    finish: impl Fn(&TcpSocket) -> Result<T, ErrorCode>,
) -> Result<T, ErrorCode> {
    let ready = socket.subscribe();
    let out = retry(&ready, || finish(socket)).await;
    // The pollable is the socket's child: it goes before the socket can.
    drop(ready);
    out
}

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
    // The halves share the socket, which goes when both are gone: after
    // its streams, its children.
    read: TcpReadHalf,
    write: TcpWriteHalf,
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

    /// Connects to one socket address.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo() -> std::io::Result<()> {
    /// let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 8080));
    /// let conn = wasync::net::TcpStream::connect_addr(addr).await?;
    /// # Ok(()) }
    /// ```
    pub async fn connect_addr(addr: SocketAddr) -> io::Result<TcpStream> {
        native_guard("wasync::net::TcpStream::connect");
        let what = format!("connect to {addr}");
        let socket = create_tcp_socket(family(&addr)).map_err(|e| error(e, &what))?;
        socket
            .start_connect(&network(), to_wasi(addr))
            .map_err(|e| error(e, &what))?;
        let (input, output) = finish(&socket, TcpSocket::finish_connect)
            .await
            .map_err(|e| error(e, &what))?;
        Ok(TcpStream::from_parts(socket, input, output))
    }

    /// A connected socket and its two streams.
    fn from_parts(socket: TcpSocket, input: InputStream, output: OutputStream) -> TcpStream {
        let socket = Rc::new(socket);
        TcpStream {
            read: TcpReadHalf {
                reader: AsyncInputStream::new(input),
                _socket: socket.clone(),
            },
            write: TcpWriteHalf {
                writer: AsyncOutputStream::new(output),
                socket,
            },
        }
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
        address(self.write.socket.remote_address(), "peer address")
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
        address(self.write.socket.local_address(), "local address")
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
    reader: AsyncInputStream,
    _socket: Rc<TcpSocket>,
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
    writer: AsyncOutputStream,
    socket: Rc<TcpSocket>,
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

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(Pin::new(&mut this.writer).poll_flush(cx))?;
        // The peer reads the end of the stream. Shutting down again (or
        // after the peer left) finds nothing left to close.
        match this.socket.shutdown(ShutdownType::Send) {
            Ok(()) | Err(ErrorCode::InvalidState) => Poll::Ready(Ok(())),
            Err(e) => Poll::Ready(Err(error(e, "shutdown"))),
        }
    }
}

/// A TCP listener: accepts connections.
///
/// # Examples
///
/// ```no_run
/// use wasync::futures::AsyncWriteExt;
///
/// # async fn demo() -> std::io::Result<()> {
/// let listener = wasync::net::TcpListener::bind("127.0.0.1:0").await?;
/// println!("listening on {}", listener.local_addr()?);
/// loop {
///     let (mut conn, peer) = listener.accept().await?;
///     wasync::spawn(async move {
///         let _ = conn.write_all(format!("hello, {peer}\n").as_bytes()).await;
///     });
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct TcpListener {
    // Field order is drop order: the pollable is the socket's child.
    wait: Registration,
    ready: Pollable,
    socket: TcpSocket,
}

impl TcpListener {
    /// Binds to `addr` (`ip:port`, or `host:port` looked up first; port 0
    /// picks a free port) and listens.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo() -> std::io::Result<()> {
    /// let listener = wasync::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let port = listener.local_addr()?.port();
    /// # Ok(()) }
    /// ```
    pub async fn bind(addr: &str) -> io::Result<TcpListener> {
        let addr = bind_addr(addr, "wasync::net::TcpListener::bind").await?;
        let what = format!("listen on {addr}");
        let socket = create_tcp_socket(family(&addr)).map_err(|e| error(e, &what))?;
        socket
            .start_bind(&network(), to_wasi(addr))
            .map_err(|e| error(e, &what))?;
        finish(&socket, TcpSocket::finish_bind)
            .await
            .map_err(|e| error(e, &what))?;
        socket.start_listen().map_err(|e| error(e, &what))?;
        finish(&socket, TcpSocket::finish_listen)
            .await
            .map_err(|e| error(e, &what))?;
        Ok(TcpListener {
            wait: Registration::default(),
            ready: socket.subscribe(),
            socket,
        })
    }

    /// The address it listens on (with the port it got, after port 0).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(listener: wasync::net::TcpListener) -> std::io::Result<()> {
    /// println!("listening on {}", listener.local_addr()?);
    /// # Ok(()) }
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        address(self.socket.local_address(), "local address")
    }

    /// Waits for the next connection; returns it with the peer's address.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(listener: wasync::net::TcpListener) -> std::io::Result<()> {
    /// let (conn, peer) = listener.accept().await?;
    /// println!("{peer} connected");
    /// # Ok(()) }
    /// ```
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        loop {
            match self.try_accept() {
                Some(out) => return out,
                None => crate::wait_for(&self.ready).await,
            }
        }
    }

    /// A connection that is waiting, if any (`None` means would-block).
    fn try_accept(&self) -> Option<io::Result<(TcpStream, SocketAddr)>> {
        match self.socket.accept() {
            Ok((socket, input, output)) => {
                let stream = TcpStream::from_parts(socket, input, output);
                Some(stream.peer_addr().map(|peer| (stream, peer)))
            }
            Err(ErrorCode::WouldBlock) => None,
            Err(e) => Some(Err(error(e, "accept"))),
        }
    }

    /// The connections as they arrive: a `Stream` of `accept` results.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use wasync::futures::StreamExt;
    ///
    /// # async fn demo(mut listener: wasync::net::TcpListener) -> std::io::Result<()> {
    /// let mut first_two = listener.incoming().take(2);
    /// while let Some(conn) = first_two.next().await {
    ///     let (conn, peer) = conn?;
    /// }
    /// # Ok(()) }
    /// ```
    pub fn incoming(&mut self) -> Incoming<'_> {
        Incoming { listener: self }
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
    listener: &'a mut TcpListener,
}

impl Stream for Incoming<'_> {
    type Item = io::Result<(TcpStream, SocketAddr)>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let listener = &mut *self.get_mut().listener;
        loop {
            if let Some(out) = listener.try_accept() {
                return Poll::Ready(Some(out));
            }
            let handle = listener.ready.handle();
            ready!(listener.wait.poll_ready(handle, cx));
        }
    }
}
