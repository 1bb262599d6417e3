//! UDP over `wasi:sockets` 0.3: [`UdpSocket`].

use std::io;
use std::net::SocketAddr;

use wasip3::sockets::types::UdpSocket as WasiUdpSocket;

use super::{address, error, family, first_addr, from_wasi, to_wasi};

/// A UDP socket: sends and receives datagrams.
///
/// A socket is bound when it is made. [`UdpSocket::send_to`] and
/// [`UdpSocket::recv_from`] work with any peer; after
/// [`UdpSocket::connect`], [`UdpSocket::send`] and [`UdpSocket::recv`] work
/// with that one peer (and datagrams from others are dropped).
///
/// # Examples
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// let socket = wasync::net::UdpSocket::bind("127.0.0.1:0").await?;
/// socket.send_to(b"ping", "127.0.0.1:9000".parse().unwrap()).await?;
/// let mut buf = [0u8; 1500];
/// let (n, from) = socket.recv_from(&mut buf).await?;
/// println!("{from} answered {:?}", &buf[..n]);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct UdpSocket {
    socket: WasiUdpSocket,
}

impl UdpSocket {
    /// Binds a socket to `addr` (`ip:port`, or `host:port` looked up
    /// first; port 0 picks a free port).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo() -> std::io::Result<()> {
    /// let socket = wasync::net::UdpSocket::bind("127.0.0.1:0").await?;
    /// println!("bound to {}", socket.local_addr()?);
    /// # Ok(()) }
    /// ```
    pub async fn bind(addr: &str) -> io::Result<UdpSocket> {
        let addr = first_addr(addr).await?;
        let what = format!("bind UDP to {addr}");
        let socket = WasiUdpSocket::create(family(&addr)).map_err(|e| error(e, &what))?;
        socket.bind(to_wasi(addr)).map_err(|e| error(e, &what))?;
        Ok(UdpSocket { socket })
    }

    /// The address the socket is bound to.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(socket: wasync::net::UdpSocket) -> std::io::Result<()> {
    /// let port = socket.local_addr()?.port();
    /// # Ok(()) }
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        address(self.socket.get_local_address(), "local address")
    }

    /// Talks to `peer` only from now on: [`UdpSocket::send`] sends there,
    /// and datagrams from anyone else are dropped.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(mut socket: wasync::net::UdpSocket) -> std::io::Result<()> {
    /// socket.connect("127.0.0.1:9000".parse().unwrap())?;
    /// socket.send(b"hello").await?;
    /// # Ok(()) }
    /// ```
    pub fn connect(&mut self, peer: SocketAddr) -> io::Result<()> {
        let what = format!("connect UDP to {peer}");
        self.socket
            .connect(to_wasi(peer))
            .map_err(|e| error(e, &what))
    }

    /// Sends one datagram to `peer`; returns its length.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(socket: wasync::net::UdpSocket) -> std::io::Result<()> {
    /// socket.send_to(b"ping", "127.0.0.1:9000".parse().unwrap()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn send_to(&self, buf: &[u8], peer: SocketAddr) -> io::Result<usize> {
        let what = format!("send to {peer}");
        self.socket
            .send(buf.to_vec(), Some(to_wasi(peer)))
            .await
            .map_err(|e| error(e, &what))?;
        Ok(buf.len())
    }

    /// Sends one datagram to the peer of [`UdpSocket::connect`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(socket: wasync::net::UdpSocket) -> std::io::Result<()> {
    /// socket.send(b"ping").await?;
    /// # Ok(()) }
    /// ```
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.socket
            .send(buf.to_vec(), None)
            .await
            .map_err(|e| error(e, "send"))?;
        Ok(buf.len())
    }

    /// Waits for one datagram; copies it into `buf` and returns its length
    /// and sender. A datagram longer than `buf` is cut to fit (the rest is
    /// lost, as with POSIX `recvfrom`).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(socket: wasync::net::UdpSocket) -> std::io::Result<()> {
    /// let mut buf = [0u8; 1500];
    /// let (n, from) = socket.recv_from(&mut buf).await?;
    /// # Ok(()) }
    /// ```
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let (data, from) = self
            .socket
            .receive()
            .await
            .map_err(|e| error(e, "receive"))?;
        let n = data.len().min(buf.len());
        buf[..n].copy_from_slice(&data[..n]);
        Ok((n, from_wasi(from)))
    }

    /// Waits for one datagram from the peer of [`UdpSocket::connect`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(socket: wasync::net::UdpSocket) -> std::io::Result<()> {
    /// let mut buf = [0u8; 1500];
    /// let n = socket.recv(&mut buf).await?;
    /// # Ok(()) }
    /// ```
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(self.recv_from(buf).await?.0)
    }
}
