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

mod addr;
mod stream;
mod tcp;
mod udp;

use std::io;
use std::net::{IpAddr, SocketAddr};

use wasip2::io::poll::Pollable;
use wasip2::sockets::instance_network::instance_network;
use wasip2::sockets::ip_name_lookup::resolve_addresses;
use wasip2::sockets::network::{ErrorCode, Network};

use addr::{
    address, denied, family, first_addr, from_wasi, ip_from_wasi, literal_ip, resolve, to_wasi,
};

/// The wasi types the shared modules (`addr`, `stream`) name, in their
/// 0.2 spelling.
mod wasi {
    pub(super) use wasip2::sockets::network::{
        ErrorCode, IpAddress, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress,
        Ipv6SocketAddress,
    };
    pub(super) use wasip2::sockets::tcp::TcpSocket;
}

pub use stream::{Incoming, TcpReadHalf, TcpStream, TcpWriteHalf};
pub use tcp::TcpListener;
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
    if let Some(ip) = literal_ip(host) {
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
    let addr = first_addr(addr).await?;
    native_guard(what);
    Ok(addr)
}

/// The instance's network, which every socket operation names.
fn network() -> Network {
    instance_network()
}

/// A wasi socket error as an `io::Error` that says what failed, and for a
/// denied operation, how to allow it.
fn error(code: ErrorCode, what: &str) -> io::Error {
    use io::ErrorKind as K;
    let kind = match code {
        ErrorCode::AccessDenied => return denied(what),
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
}
