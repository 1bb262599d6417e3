//! Mode N: networking over `wasi:sockets` 0.3, with the API of modes S
//! and C (`net`): TCP streams and listeners, UDP sockets, and name lookup.
//!
//! - [`TcpStream`] is a `futures::io::AsyncRead` + `AsyncWrite` over the
//!   socket's `receive` and `send` `stream<u8>`s; [`TcpListener`] accepts
//!   connections from `listen`'s `stream<tcp-socket>` (also as a
//!   `Stream`).
//! - [`UdpSocket`] sends and receives datagrams with 0.3's async
//!   `send`/`receive`.
//! - [`lookup_host`] resolves a name with `wasi:sockets/ip-name-lookup`.
//!
//! The host decides what a guest may reach: without network access every
//! operation fails with `io::ErrorKind::PermissionDenied` and a message
//! that says how to grant it.
//!
//! Ground rules: every wait here is a 0.3 subtask, stream or future op,
//! which the instance's runtime drives like any other (see
//! `runtime::native`); dropping a future cancels its op. 0.3 sockets have
//! no child resources, so unlike 0.2 no drop order matters.
//!
//! # Examples
//!
//! ```no_run
//! use wasync::futures::{AsyncReadExt, AsyncWriteExt};
//!
//! # async fn demo() -> std::io::Result<()> {
//! let mut conn = wasync::net::TcpStream::connect("127.0.0.1:7000").await?;
//! conn.write_all(b"ping\n").await?;
//! conn.close().await?;
//! let mut reply = String::new();
//! conn.read_to_string(&mut reply).await?;
//! # Ok(()) }
//! ```

#[path = "../net/addr.rs"]
mod addr;
#[path = "../net/stream.rs"]
mod stream;
mod tcp;
mod udp;

use std::io;
use std::net::IpAddr;

use wasip3::sockets::ip_name_lookup::{self, resolve_addresses};
use wasip3::sockets::types::ErrorCode;

use addr::{
    address, denied, family, first_addr, from_wasi, ip_from_wasi, literal_ip, resolve, to_wasi,
};

pub use stream::{Incoming, TcpReadHalf, TcpStream, TcpWriteHalf};
pub use tcp::TcpListener;
pub use udp::UdpSocket;

/// The wasi types the shared modules (`addr`, `stream`) name, in their
/// 0.3 spelling.
mod wasi {
    pub(super) use wasip3::sockets::types::{
        ErrorCode, IpAddress, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress,
        Ipv6SocketAddress, TcpSocket,
    };
}

/// Resolves `host` (a name such as `localhost`, or an IP address) to its
/// IP addresses, in the order the host's resolver gives them.
///
/// # Examples
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// let addrs = wasync::net::lookup_host("localhost").await?;
/// assert!(addrs.iter().any(|a| a.is_loopback()));
/// # Ok(()) }
/// ```
pub async fn lookup_host(host: &str) -> io::Result<Vec<IpAddr>> {
    if let Some(ip) = literal_ip(host) {
        return Ok(vec![ip]);
    }
    let what = format!("lookup of `{host}`");
    let addrs = resolve_addresses(host.to_owned())
        .await
        .map_err(|e| lookup_error(e, &what))?;
    Ok(addrs.into_iter().map(ip_from_wasi).collect())
}

/// A wasi socket error as an `io::Error` that says what failed, and for a
/// denied operation, how to allow it.
fn error(code: ErrorCode, what: &str) -> io::Error {
    use io::ErrorKind as K;
    let (kind, text) = match &code {
        ErrorCode::AccessDenied => return denied(what),
        ErrorCode::NotSupported => (K::Unsupported, "not supported"),
        ErrorCode::InvalidArgument => (K::InvalidInput, "invalid argument"),
        ErrorCode::OutOfMemory => (K::OutOfMemory, "out of memory"),
        ErrorCode::Timeout => (K::TimedOut, "timed out"),
        ErrorCode::InvalidState => (K::Other, "invalid state"),
        ErrorCode::AddressNotBindable => (K::AddrNotAvailable, "address not bindable"),
        ErrorCode::AddressInUse => (K::AddrInUse, "address in use"),
        ErrorCode::RemoteUnreachable => (K::HostUnreachable, "remote unreachable"),
        ErrorCode::ConnectionRefused => (K::ConnectionRefused, "connection refused"),
        ErrorCode::ConnectionBroken => (K::BrokenPipe, "connection broken"),
        ErrorCode::ConnectionReset => (K::ConnectionReset, "connection reset"),
        ErrorCode::ConnectionAborted => (K::ConnectionAborted, "connection aborted"),
        ErrorCode::DatagramTooLarge => (K::InvalidInput, "datagram too large"),
        ErrorCode::Other(Some(text)) => return io::Error::other(format!("{what}: {text}")),
        ErrorCode::Other(None) => (K::Other, "unknown error"),
    };
    io::Error::new(kind, format!("{what}: {text}"))
}

/// An `ip-name-lookup` error as an `io::Error`.
fn lookup_error(code: ip_name_lookup::ErrorCode, what: &str) -> io::Error {
    use io::ErrorKind as K;
    use ip_name_lookup::ErrorCode as E;
    let (kind, text) = match &code {
        E::AccessDenied => return denied(what),
        E::InvalidArgument => (K::InvalidInput, "not a valid name"),
        E::NameUnresolvable => (K::NotFound, "name unresolvable"),
        E::TemporaryResolverFailure => (K::Other, "temporary resolver failure"),
        E::PermanentResolverFailure => (K::Other, "permanent resolver failure"),
        E::Other(Some(text)) => return io::Error::other(format!("{what}: {text}")),
        E::Other(None) => (K::Other, "unknown error"),
    };
    io::Error::new(kind, format!("{what}: {text}"))
}
