//! TCP over `wasi:sockets` 0.2: connecting a [`TcpStream`] (the type is
//! in `stream`, shared with 0.3) and [`TcpListener`] (bind, accept).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, ready};

use futures::io::AsyncWrite;
use futures::stream::Stream;
use wasip2::io::poll::Pollable;
use wasip2::io::streams::{InputStream, OutputStream};
use wasip2::sockets::network::{ErrorCode, IpSocketAddress};
use wasip2::sockets::tcp::{ShutdownType, TcpSocket};
use wasip2::sockets::tcp_create_socket::create_tcp_socket;

use super::stream::{Incoming, TcpReadHalf, TcpStream, TcpWriteHalf};
use super::{address, bind_addr, error, family, native_guard, network, retry, to_wasi};
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
}

/// The socket's peer address.
pub(super) fn remote_address(socket: &TcpSocket) -> Result<IpSocketAddress, ErrorCode> {
    socket.remote_address()
}

/// The socket's own address.
pub(super) fn local_address(socket: &TcpSocket) -> Result<IpSocketAddress, ErrorCode> {
    socket.local_address()
}

/// Closes the writing half: flushes, then shuts down the sending side.
pub(super) fn poll_shutdown(
    writer: &mut AsyncOutputStream,
    socket: &TcpSocket,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    ready!(Pin::new(writer).poll_flush(cx))?;
    // Shutting down again (or after the peer left) finds nothing left to
    // close.
    match socket.shutdown(ShutdownType::Send) {
        Ok(()) | Err(ErrorCode::InvalidState) => Poll::Ready(Ok(())),
        Err(e) => Poll::Ready(Err(error(e, "shutdown"))),
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
