//! What a guest may reach with `wasi:sockets`: nothing unless asked for;
//! loopback only; or everything the host can reach. A refused operation
//! fails in the guest with `access-denied`, a clear error rather than a
//! trap.

use std::net::SocketAddr;

use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::sockets::SocketAddrUse;

/// Where guests may open sockets.
///
/// # Examples
///
/// ```
/// use wasync_harness::{NetworkAccess, WasiOptions};
///
/// let opts = WasiOptions {
///     network: "loopback".parse().unwrap(),
///     ..WasiOptions::captured()
/// };
/// assert_eq!(opts.network, NetworkAccess::Loopback);
/// assert_eq!(WasiOptions::default().network, NetworkAccess::None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NetworkAccess {
    /// Nowhere: every socket operation and name lookup is denied.
    #[default]
    None,
    /// Loopback addresses only (`127.0.0.0/8`, `::1`): connect, listen,
    /// accept and send to loopback; name lookups are allowed, so that
    /// `localhost` resolves, but what they return is reachable only if it
    /// is loopback.
    Loopback,
    /// Every address the host can reach.
    Any,
}

impl std::str::FromStr for NetworkAccess {
    type Err = String;

    /// `none`, `loopback` or `any`, as the CLI's `--network` takes them.
    fn from_str(s: &str) -> Result<NetworkAccess, String> {
        match s {
            "none" => Ok(NetworkAccess::None),
            "loopback" => Ok(NetworkAccess::Loopback),
            "any" => Ok(NetworkAccess::Any),
            other => Err(format!("`{other}`: expected `none`, `loopback` or `any`")),
        }
    }
}

/// Whether the loopback policy allows `addr` for `use_`. An implicit bind
/// (of a connecting socket) names the wildcard address with port 0; a
/// listener on the wildcard address is refused when it starts listening.
fn loopback_allows(addr: SocketAddr, use_: SocketAddrUse) -> bool {
    let implicit = addr.ip().is_unspecified() && addr.port() == 0;
    match use_ {
        SocketAddrUse::TcpBind | SocketAddrUse::UdpBind => addr.ip().is_loopback() || implicit,
        _ => addr.ip().is_loopback(),
    }
}

/// Grants `access` in the WASI context being built.
pub(crate) fn apply(access: NetworkAccess, b: &mut WasiCtxBuilder) {
    match access {
        NetworkAccess::None => {}
        NetworkAccess::Loopback => {
            b.socket_addr_check(|addr, use_| {
                let allowed = loopback_allows(addr, use_);
                Box::pin(async move { allowed })
            });
        }
        NetworkAccess::Any => {
            b.inherit_network();
        }
    }
    if access != NetworkAccess::None {
        b.allow_tcp(true).allow_udp(true).allow_ip_name_lookup(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn loopback_allows_loopback_peers_and_implicit_binds_only() {
        use SocketAddrUse::*;
        for (a, use_, allowed) in [
            ("127.0.0.1:80", TcpConnect, true),
            ("[::1]:80", TcpConnect, true),
            ("10.0.0.1:80", TcpConnect, false),
            ("0.0.0.0:0", TcpBind, true),
            ("0.0.0.0:8080", TcpBind, false),
            ("0.0.0.0:8080", TcpListen, false),
            ("127.0.0.1:8080", TcpListen, true),
            ("192.168.1.2:5000", TcpAccept, false),
            ("127.0.0.1:5000", UdpBind, true),
            ("8.8.8.8:53", UdpSend, false),
        ] {
            assert_eq!(loopback_allows(addr(a), use_), allowed, "{a} {use_:?}");
        }
    }

    #[test]
    fn network_access_parses_its_three_names() {
        assert_eq!("loopback".parse(), Ok(NetworkAccess::Loopback));
        assert_eq!("any".parse(), Ok(NetworkAccess::Any));
        assert_eq!("none".parse(), Ok(NetworkAccess::None));
        assert!("all".parse::<NetworkAccess>().is_err());
    }
}
