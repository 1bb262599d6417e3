//! TCP over `wasi:sockets` 0.3: connecting a [`TcpStream`] (the type is
//! in `stream`, shared with 0.2) over the socket's `receive` and `send`
//! streams, and [`TcpListener`] (bind, accept).

use std::future::{Future, poll_fn};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, ready};

use futures::io::AsyncWrite;
use futures::lock::Mutex;
use futures::stream::Stream;
use wasip3::sockets::types::{ErrorCode, IpSocketAddress, TcpSocket};
use wasip3::wit_bindgen::{StreamReader, StreamResult};

use super::stream::{Incoming, TcpReadHalf, TcpStream, TcpWriteHalf};
use super::{address, error, family, first_addr, to_wasi};
use crate::io::{AsyncInputStream, AsyncOutputStream};
use crate::runtime::poll_proceed;

impl TcpStream {
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
}

/// The socket's peer address.
pub(super) fn remote_address(socket: &TcpSocket) -> Result<IpSocketAddress, ErrorCode> {
    socket.get_remote_address()
}

/// The socket's own address.
pub(super) fn local_address(socket: &TcpSocket) -> Result<IpSocketAddress, ErrorCode> {
    socket.get_local_address()
}

/// Closes the writing half: ends the send stream, which shuts down the
/// sending side, and waits for the host to say every byte went out.
pub(super) fn poll_shutdown(
    writer: &mut AsyncOutputStream,
    _socket: &TcpSocket,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    Pin::new(writer).poll_close(cx)
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

impl Stream for Incoming<'_> {
    type Item = io::Result<(TcpStream, SocketAddr)>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let accepting = self.get_mut().listener.accepting.get_mut();
        accepting.poll_accept(cx).map(Some)
    }
}
