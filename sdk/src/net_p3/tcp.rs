//! TCP over `wasi:sockets` 0.3: [`TcpStream`] (connect, read, write) and
//! [`TcpListener`] (bind, accept).

use std::future::{Future, poll_fn};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, ready};

use futures::io::{AsyncRead, AsyncWrite};
use futures::lock::Mutex;
use futures::stream::Stream;
use wasip3::sockets::types::TcpSocket;
use wasip3::wit_bindgen::{StreamReader, StreamResult};

use super::{address, error, family, first_addr, resolve, to_wasi};
use crate::io::{AsyncInputStream, AsyncOutputStream};
use crate::runtime::poll_proceed;

/// A TCP connection: a `futures::io::AsyncRead` and `AsyncWrite`.
///
/// Closing it (`AsyncWriteExt::close`) ends the stream it sends on, so the
/// peer reads the end of the stream; dropping it closes the connection.
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
        let what = format!("connect to {addr}");
        let socket = TcpSocket::create(family(&addr)).map_err(|e| error(e, &what))?;
        socket
            .connect(to_wasi(addr))
            .await
            .map_err(|e| error(e, &what))?;
        Ok(TcpStream::from_socket(socket))
    }

    /// A connected socket, with its two streams opened.
    fn from_socket(socket: TcpSocket) -> TcpStream {
        let (incoming, received) = socket.receive();
        let (outgoing, data) = wasip3::wit_stream::new::<u8>();
        let sent = socket.send(data);
        let socket = Rc::new(socket);
        TcpStream {
            read: TcpReadHalf {
                reader: AsyncInputStream::with_outcome(incoming, async move {
                    received.await.map_err(|e| error(e, "receive"))
                }),
                _socket: socket.clone(),
            },
            write: TcpWriteHalf {
                writer: AsyncOutputStream::with_outcome(outgoing, async move {
                    sent.await.map_err(|e| error(e, "send"))
                }),
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
        address(self.write.socket.get_remote_address(), "peer address")
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
        address(self.write.socket.get_local_address(), "local address")
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

    /// Ends the send stream, which shuts down the sending side, and waits
    /// for the host to say every byte went out.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().writer).poll_close(cx)
    }
}

/// A read of the next connection in flight: the stream comes back with it.
type Accept =
    Pin<Box<dyn Future<Output = (StreamReader<TcpSocket>, StreamResult, Vec<TcpSocket>)>>>;

/// The listener's `stream<tcp-socket>` and the read in flight on it.
struct Accepting {
    connections: Option<StreamReader<TcpSocket>>,
    /// Kept across polls (and across a dropped `accept`): a connection it
    /// brings is the next `accept`'s, never lost.
    reading: Option<Accept>,
}

impl Accepting {
    fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        loop {
            if self.reading.is_none() {
                let Some(mut connections) = self.connections.take() else {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::NotConnected,
                        "accept: the host closed the listener's stream of connections",
                    )));
                };
                self.reading = Some(Box::pin(async move {
                    let (result, got) = connections.read(Vec::with_capacity(1)).await;
                    (connections, result, got)
                }));
            }
            ready!(poll_proceed(cx));
            let Some(reading) = self.reading.as_mut() else {
                unreachable!("started above")
            };
            let (connections, result, mut got) = ready!(reading.as_mut().poll(cx));
            self.reading = None;
            if let StreamResult::Complete(_) = result {
                self.connections = Some(connections);
            }
            if let Some(socket) = got.pop() {
                let stream = TcpStream::from_socket(socket);
                return Poll::Ready(stream.peer_addr().map(|peer| (stream, peer)));
            }
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
pub struct TcpListener {
    // Several tasks may accept at once: they take turns.
    accepting: Mutex<Accepting>,
    socket: TcpSocket,
}

impl std::fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpListener")
            .field("local_addr", &self.local_addr().ok())
            .finish_non_exhaustive()
    }
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
        let addr = first_addr(addr).await?;
        let what = format!("listen on {addr}");
        let socket = TcpSocket::create(family(&addr)).map_err(|e| error(e, &what))?;
        socket.bind(to_wasi(addr)).map_err(|e| error(e, &what))?;
        let connections = socket.listen().map_err(|e| error(e, &what))?;
        Ok(TcpListener {
            accepting: Mutex::new(Accepting {
                connections: Some(connections),
                reading: None,
            }),
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
        address(self.socket.get_local_address(), "local address")
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
        let mut accepting = self.accepting.lock().await;
        poll_fn(|cx| accepting.poll_accept(cx)).await
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
        let accepting = self.get_mut().listener.accepting.get_mut();
        accepting.poll_accept(cx).map(Some)
    }
}
