//! UDP: [`UdpSocket`].

use std::io;
use std::net::SocketAddr;

use wasip2::io::poll::Pollable;
use wasip2::sockets::udp::{
    IncomingDatagramStream, OutgoingDatagram, OutgoingDatagramStream, UdpSocket as WasiUdpSocket,
};
use wasip2::sockets::udp_create_socket::create_udp_socket;

use super::{address, bind_addr, error, family, from_wasi, network, retry, to_wasi};

/// The datagram streams of a bound socket, with their pollables.
#[derive(Debug)]
struct Streams {
    // Field order is drop order: pollables, then their streams.
    can_receive: Pollable,
    can_send: Pollable,
    incoming: IncomingDatagramStream,
    outgoing: OutgoingDatagramStream,
}

impl Streams {
    fn open(socket: &WasiUdpSocket, remote: Option<SocketAddr>, what: &str) -> io::Result<Streams> {
        let (incoming, outgoing) = socket
            .stream(remote.map(to_wasi))
            .map_err(|e| error(e, what))?;
        Ok(Streams {
            can_receive: incoming.subscribe(),
            can_send: outgoing.subscribe(),
            incoming,
            outgoing,
        })
    }
}

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
    // Field order is drop order: the streams are the socket's children.
    /// `None` only after a failed [`UdpSocket::connect`].
    streams: Option<Streams>,
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
        let addr = bind_addr(addr, "wasync::net::UdpSocket::bind").await?;
        let what = format!("bind UDP to {addr}");
        let socket = create_udp_socket(family(&addr)).map_err(|e| error(e, &what))?;
        socket
            .start_bind(&network(), to_wasi(addr))
            .map_err(|e| error(e, &what))?;
        {
            // The pollable is the socket's child: it goes first.
            let ready = socket.subscribe();
            retry(&ready, || socket.finish_bind())
                .await
                .map_err(|e| error(e, &what))?;
        }
        let streams = Streams::open(&socket, None, &what)?;
        Ok(UdpSocket {
            streams: Some(streams),
            socket,
        })
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
        address(self.socket.local_address(), "local address")
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
        // The old streams must be gone before new ones are made (a host
        // may trap otherwise).
        self.streams = None;
        self.streams = Some(Streams::open(&self.socket, Some(peer), &what)?);
        Ok(())
    }

    fn streams(&self, what: &str) -> io::Result<&Streams> {
        self.streams.as_ref().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotConnected,
                format!("{what}: the socket has no streams since a failed `connect`"),
            )
        })
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
        self.send_datagram(buf, Some(peer)).await
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
        self.send_datagram(buf, None).await
    }

    async fn send_datagram(&self, buf: &[u8], peer: Option<SocketAddr>) -> io::Result<usize> {
        let what = match peer {
            Some(p) => format!("send to {p}"),
            None => "send".to_owned(),
        };
        let streams = self.streams(&what)?;
        loop {
            match streams.outgoing.check_send() {
                Ok(0) => crate::wait_for(&streams.can_send).await,
                Ok(_) => break,
                Err(e) => return Err(error(e, &what)),
            }
        }
        let datagram = OutgoingDatagram {
            data: buf.to_vec(),
            remote_address: peer.map(to_wasi),
        };
        let sent = streams
            .outgoing
            .send(std::slice::from_ref(&datagram))
            .map_err(|e| error(e, &what))?;
        if sent == 1 {
            Ok(buf.len())
        } else {
            Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                format!("{what}: the host accepted no datagram"),
            ))
        }
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
        let streams = self.streams("receive")?;
        loop {
            let mut got = streams
                .incoming
                .receive(1)
                .map_err(|e| error(e, "receive"))?;
            if let Some(d) = got.pop() {
                let n = d.data.len().min(buf.len());
                buf[..n].copy_from_slice(&d.data[..n]);
                return Ok((n, from_wasi(d.remote_address)));
            }
            crate::wait_for(&streams.can_receive).await;
        }
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
