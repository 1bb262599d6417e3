//! Outgoing HTTP for guests (`wasi:http/outgoing-handler`): off unless
//! asked for, and then to loopback addresses only. A request anywhere else
//! fails in the guest with `HTTP-request-denied`, a clear error rather than
//! a trap.

use std::future::Future;
use std::net::IpAddr;

use http_body_util::BodyExt;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

/// Where guests may send HTTP requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HttpAccess {
    /// Nowhere: every request is denied.
    #[default]
    None,
    /// To `localhost`, `127.0.0.0/8` and `::1` only.
    Loopback,
}

/// Whether `host` (as in a URI's authority, brackets allowed) is loopback.
pub fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The hooks wasmtime-wasi-http calls to send a guest's request.
pub(crate) struct Policy(pub HttpAccess);

type Sent = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), HttpError>> + Send>,
                ),
                HttpError,
            >,
        > + Send,
>;

impl WasiHttpHooks for Policy {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> Sent {
        drop(fut);
        let allowed =
            self.0 == HttpAccess::Loopback && request.uri().host().is_some_and(is_loopback);
        Box::new(async move {
            if !allowed {
                return Err(HttpError::HttpRequestDenied);
            }
            let (res, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((
                res.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn Future<Output = Result<(), HttpError>> + Send>,
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::is_loopback;

    #[test]
    fn only_loopback_hosts_count() {
        for host in ["localhost", "127.0.0.1", "127.8.9.10", "[::1]", "::1"] {
            assert!(is_loopback(host), "{host}");
        }
        for host in [
            "example.com",
            "10.0.0.1",
            "0.0.0.0",
            "[::2]",
            "localhost.evil.com",
        ] {
            assert!(!is_loopback(host), "{host}");
        }
    }
}
