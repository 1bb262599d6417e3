//! Networking over `wasi:sockets`: TCP streams and listeners, UDP sockets,
//! and name lookup, all asynchronous on the instance's runtime.
//!
//! - [`TcpStream`](crate::net::TcpStream) is a `futures::io::AsyncRead` + `AsyncWrite`;
//!   [`TcpListener`](crate::net::TcpListener) accepts connections (also as a `Stream`).
//! - [`UdpSocket`](crate::net::UdpSocket) sends and receives datagrams.
//! - [`lookup_host`](crate::net::lookup_host) resolves a name with `wasi:sockets/ip-name-lookup`.
//!
//! The host decides what a guest may reach: without network access every
//! operation fails with `io::ErrorKind::PermissionDenied` and a message
//! that says how to grant it (`wasmtime run -S inherit-network`,
//! `wasync-harness --network`).
//!
//! Ground rule: wasi gives a socket's streams and pollables as its
//! children, and dropping a socket that still has children traps. Every
//! type here drops its streams and pollables before its socket.
//!
//! Like [`crate::io`], these types work only in a wasm guest; natively
//! they compile (so `cargo check` sees the guest's code) and panic with a
//! message if used.
//!
//! # Examples
//!
//! ```no_run
//! use wasync::futures::{AsyncReadExt, AsyncWriteExt};
//!
//! # async fn demo() -> std::io::Result<()> {
//! let mut conn = wasync::net::TcpStream::connect("127.0.0.1:7000").await?;
//! conn.write_all(b"ping\n").await?;
//! let mut reply = String::new();
//! conn.read_to_string(&mut reply).await?;
//! # Ok(()) }
//! ```

mod tcp;
mod udp;

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use wasip2::io::poll::Pollable;
use wasip2::sockets::instance_network::instance_network;
use wasip2::sockets::ip_name_lookup::resolve_addresses;
use wasip2::sockets::network::{
    ErrorCode, IpAddress, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress, Ipv6SocketAddress,
    Network,
};

pub use tcp::{Incoming, TcpListener, TcpReadHalf, TcpStream, TcpWriteHalf};
pub use udp::UdpSocket;

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
    // An address needs no resolver (nor permission to use one).
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(vec![ip]);
    }
    native_guard("wasync::net::lookup_host");
    let what = format!("lookup of `{host}`");
    let network = instance_network();
    let stream = resolve_addresses(&network, host).map_err(|e| error(e, &what))?;
    let ready = stream.subscribe();
    let mut out = Vec::new();
    while let Some(addr) = retry(&ready, || stream.resolve_next_address())
        .await
        .map_err(|e| error(e, &what))?
    {
        out.push(ip_from_wasi(addr));
    }
    // The pollable is the stream's child: it goes first.
    drop(ready);
    Ok(out)
}

/// Runs `op` until it stops saying `would-block`, waiting for `ready` in
/// between: how every wasi socket operation that may not finish at once
/// is finished.
async fn retry<T>(
    ready: &Pollable,
    mut op: impl FnMut() -> Result<T, ErrorCode>,
) -> Result<T, ErrorCode> {
    loop {
        match op() {
            Err(ErrorCode::WouldBlock) => crate::wait_for(ready).await,
            other => return other,
        }
    }
}

/// The one address to bind to that `addr` names, for the operation
/// `what` (which also names it in the native-target panic).
async fn bind_addr(addr: &str, what: &str) -> io::Result<SocketAddr> {
    let first = resolve(addr).await?.into_iter().next();
    let addr = first.ok_or_else(|| io::Error::other(format!("`{addr}` gave no address")))?;
    native_guard(what);
    Ok(addr)
}

/// A socket's own address or its peer's, as `std`'s type.
fn address(got: Result<IpSocketAddress, ErrorCode>, what: &str) -> io::Result<SocketAddr> {
    got.map(from_wasi).map_err(|e| error(e, what))
}

/// The socket addresses `addr` names: `ip:port` and `[ipv6]:port` at once,
/// `host:port` through [`lookup_host`].
async fn resolve(addr: &str) -> io::Result<Vec<SocketAddr>> {
    if let Ok(a) = addr.parse::<SocketAddr>() {
        return Ok(vec![a]);
    }
    let Some((host, port)) = addr.rsplit_once(':') else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("`{addr}` is not HOST:PORT"),
        ));
    };
    let port: u16 = port.parse().map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("`{addr}`: `{port}` is not a port number"),
        )
    })?;
    let ips = lookup_host(host).await?;
    if ips.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("`{host}` resolved to no address"),
        ));
    }
    Ok(ips
        .into_iter()
        .map(|ip| SocketAddr::new(ip, port))
        .collect())
}

/// The instance's network, which every socket operation names.
fn network() -> Network {
    instance_network()
}

fn family(addr: &SocketAddr) -> IpAddressFamily {
    match addr {
        SocketAddr::V4(_) => IpAddressFamily::Ipv4,
        SocketAddr::V6(_) => IpAddressFamily::Ipv6,
    }
}

fn ip_from_wasi(addr: IpAddress) -> IpAddr {
    match addr {
        IpAddress::Ipv4((a, b, c, d)) => IpAddr::V4(Ipv4Addr::new(a, b, c, d)),
        IpAddress::Ipv6((a, b, c, d, e, f, g, h)) => {
            IpAddr::V6(Ipv6Addr::new(a, b, c, d, e, f, g, h))
        }
    }
}

fn to_wasi(addr: SocketAddr) -> IpSocketAddress {
    match addr {
        SocketAddr::V4(a) => {
            let [x, y, z, w] = a.ip().octets();
            IpSocketAddress::Ipv4(Ipv4SocketAddress {
                port: a.port(),
                address: (x, y, z, w),
            })
        }
        SocketAddr::V6(a) => {
            let [s0, s1, s2, s3, s4, s5, s6, s7] = a.ip().segments();
            IpSocketAddress::Ipv6(Ipv6SocketAddress {
                port: a.port(),
                flow_info: a.flowinfo(),
                address: (s0, s1, s2, s3, s4, s5, s6, s7),
                scope_id: a.scope_id(),
            })
        }
    }
}

fn from_wasi(addr: IpSocketAddress) -> SocketAddr {
    match addr {
        IpSocketAddress::Ipv4(a) => {
            let (x, y, z, w) = a.address;
            SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(x, y, z, w), a.port))
        }
        IpSocketAddress::Ipv6(a) => {
            let (s0, s1, s2, s3, s4, s5, s6, s7) = a.address;
            SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::new(s0, s1, s2, s3, s4, s5, s6, s7),
                a.port,
                a.flow_info,
                a.scope_id,
            ))
        }
    }
}

/// A wasi socket error as an `io::Error` that says what failed, and for a
/// denied operation, how to allow it.
fn error(code: ErrorCode, what: &str) -> io::Error {
    use io::ErrorKind as K;
    let kind = match code {
        ErrorCode::AccessDenied => {
            return io::Error::new(
                K::PermissionDenied,
                format!(
                    "{what}: the host denied network access (wasi:sockets access-denied); \
                     grant it to the guest, for example `wasmtime run -S inherit-network` \
                     or `wasync-harness --network`"
                ),
            );
        }
        ErrorCode::NotSupported => K::Unsupported,
        ErrorCode::InvalidArgument => K::InvalidInput,
        ErrorCode::OutOfMemory => K::OutOfMemory,
        ErrorCode::Timeout => K::TimedOut,
        ErrorCode::WouldBlock => K::WouldBlock,
        ErrorCode::AddressNotBindable => K::AddrNotAvailable,
        ErrorCode::AddressInUse => K::AddrInUse,
        ErrorCode::RemoteUnreachable => K::HostUnreachable,
        ErrorCode::ConnectionRefused => K::ConnectionRefused,
        ErrorCode::ConnectionReset => K::ConnectionReset,
        ErrorCode::ConnectionAborted => K::ConnectionAborted,
        ErrorCode::NameUnresolvable => K::NotFound,
        _ => K::Other,
    };
    io::Error::new(kind, format!("{what}: {}", code.message()))
}

/// Natively there is no WASI host to ask: say so, rather than let the
/// bindings fail with `unreachable`.
#[track_caller]
fn native_guard(what: &str) {
    if cfg!(not(target_family = "wasm")) {
        panic!(
            "{what} needs a WASI host: it works in a wasm guest only (natively, test the \
             logic around it with in-memory readers and writers)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_addresses_round_trip_through_wasi() {
        for a in ["127.0.0.1:80", "[::1]:8080", "[fe80::1%3]:9"] {
            let addr: SocketAddr = a.parse().unwrap();
            assert_eq!(from_wasi(to_wasi(addr)), addr, "{a}");
        }
    }

    #[test]
    fn a_denied_operation_says_how_to_allow_it() {
        let e = error(ErrorCode::AccessDenied, "connect to 127.0.0.1:9");
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
        let text = e.to_string();
        assert!(
            text.starts_with("connect to 127.0.0.1:9: the host denied"),
            "{text}"
        );
        assert!(text.contains("-S inherit-network"), "{text}");
    }

    #[test]
    fn an_address_without_a_port_is_invalid_input() {
        let e = crate::block_on(resolve("localhost")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        let e = crate::block_on(resolve("localhost:http")).unwrap_err();
        assert!(e.to_string().contains("not a port number"), "{e}");
    }
}
