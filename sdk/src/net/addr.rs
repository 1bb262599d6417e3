//! Addresses, shared by `wasi:sockets` 0.2 (`net`) and 0.3 (`net_p3`):
//! parsing `host:port`, and converting between `std::net` and wasi
//! addresses.
//!
//! The two wasi versions spell their address types alike (same names,
//! same fields) in different crates. The parent module says which by
//! naming them in its `wasi` module, and gives the `error` that turns its
//! error codes into `io::Error`s; everything here is written once.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use super::wasi::{
    ErrorCode, IpAddress, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress, Ipv6SocketAddress,
};
use super::{error, lookup_host};

/// `host` as an IP address, if it is one (`[::1]` included): it needs no
/// resolver, nor permission to use one.
pub(super) fn literal_ip(host: &str) -> Option<IpAddr> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.parse().ok()
}

/// The first address `addr` names (what a socket binds to).
pub(super) async fn first_addr(addr: &str) -> io::Result<SocketAddr> {
    let first = resolve(addr).await?.into_iter().next();
    first.ok_or_else(|| io::Error::other(format!("`{addr}` gave no address")))
}

/// A socket's own address or its peer's, as `std`'s type.
pub(super) fn address(
    got: Result<IpSocketAddress, ErrorCode>,
    what: &str,
) -> io::Result<SocketAddr> {
    got.map(from_wasi).map_err(|e| error(e, what))
}

/// The socket addresses `addr` names: `ip:port` and `[ipv6]:port` at once,
/// `host:port` through [`lookup_host`].
pub(super) async fn resolve(addr: &str) -> io::Result<Vec<SocketAddr>> {
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

/// The message of a denied operation, which says how to allow it.
pub(super) fn denied(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!(
            "{what}: the host denied network access (wasi:sockets access-denied); \
             grant it to the guest, for example `wasmtime run -S inherit-network` \
             or `wasync-harness --network`"
        ),
    )
}

pub(super) fn family(addr: &SocketAddr) -> IpAddressFamily {
    match addr {
        SocketAddr::V4(_) => IpAddressFamily::Ipv4,
        SocketAddr::V6(_) => IpAddressFamily::Ipv6,
    }
}

pub(super) fn ip_from_wasi(addr: IpAddress) -> IpAddr {
    match addr {
        IpAddress::Ipv4((a, b, c, d)) => IpAddr::V4(Ipv4Addr::new(a, b, c, d)),
        IpAddress::Ipv6((a, b, c, d, e, f, g, h)) => {
            IpAddr::V6(Ipv6Addr::new(a, b, c, d, e, f, g, h))
        }
    }
}

pub(super) fn to_wasi(addr: SocketAddr) -> IpSocketAddress {
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

pub(super) fn from_wasi(addr: IpSocketAddress) -> SocketAddr {
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
    fn an_address_without_a_port_is_invalid_input() {
        let e = crate::block_on(resolve("localhost")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        let e = crate::block_on(resolve("localhost:http")).unwrap_err();
        assert!(e.to_string().contains("not a port number"), "{e}");
    }

    #[test]
    fn a_literal_address_needs_no_lookup() {
        assert_eq!(literal_ip("[::1]"), Some("::1".parse().unwrap()));
        assert_eq!(literal_ip("127.0.0.1"), Some("127.0.0.1".parse().unwrap()));
        assert_eq!(literal_ip("localhost"), None);
    }
}
