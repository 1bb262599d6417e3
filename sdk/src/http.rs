//! HTTP with the `http` crate's types: an async client, over
//! `wasi:http/outgoing-handler` (WASI 0.2) in modes S and C and over
//! `wasi:http/client` (WASI 0.3) in mode N with the same API; and services
//! (`wasi:http/incoming-handler`, modes S and C) through
//! `#[wasync::http_service]` (see [`server`]).
//!
//! Bodies stream both ways: a [`Body`] (and an [`IncomingBody`]) is a
//! `futures::Stream` of chunks and an `AsyncRead`, and a body to send may
//! be bytes, a reader, a stream, or a channel written by another task.
//! Request bodies are written asynchronously (in mode N by a task of their
//! own: a 0.3 body is read only once the request is sent, so writing it
//! before sending would wait forever).
//! A timeout is `wasync::time::timeout` around the future; dropping the
//! future, by timeout or otherwise, drops the request and the host cancels
//! it. Errors are typed and nothing panics.
//!
//! ```no_run
//! # async fn demo() -> Result<(), wasync::http::Error> {
//! use std::time::Duration;
//!
//! let resp = wasync::http::get("http://127.0.0.1:8080/suggest?prefix=ru").await?;
//! assert!(resp.status().is_success());
//! let body = resp.text().await?;
//!
//! let slow = wasync::time::timeout(
//!     Duration::from_millis(100),
//!     wasync::http::get("http://127.0.0.1:8080/slow"),
//! )
//! .await;
//! # Ok(()) }
//! ```

use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::io::AsyncRead;
use futures::stream::Stream;
pub use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};

use crate::chunks::{self, CHUNK};

#[cfg(any(not(target_family = "wasm"), not(feature = "native")))]
mod p2;
#[cfg(any(not(target_family = "wasm"), not(feature = "native")))]
use p2 as backend;
#[cfg(all(target_family = "wasm", feature = "native"))]
mod p3;
#[cfg(all(target_family = "wasm", feature = "native"))]
use p3 as backend;

mod body;
pub mod server;

pub use body::{Body, BodyWriter};

/// What can go wrong with a request.
///
/// # Examples
///
/// ```no_run
/// # async fn demo() {
/// match wasync::http::get("http://127.0.0.1:9/").await {
///     Err(wasync::http::Error::ConnectionRefused) => println!("nobody listens"),
///     Err(e) => println!("{e}"),
///     Ok(resp) => println!("{}", resp.status()),
/// }
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The request cannot be sent as written (bad URL, method or header).
    InvalidRequest(String),
    /// The host refused to send it (for example, a destination it does not
    /// allow).
    Denied,
    /// Nothing accepted the connection.
    ConnectionRefused,
    /// The host name did not resolve.
    Dns(String),
    /// A timeout of the host's elapsed (connecting, first byte, between
    /// bytes).
    Timeout(String),
    /// The peer broke HTTP.
    Protocol(String),
    /// The response body ended before it was complete.
    BodyCut,
    /// Reading or writing a body failed otherwise.
    Io(String),
    /// Another `wasi:http` error code.
    Other(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidRequest(m) => write!(f, "invalid request: {m}"),
            Error::Denied => f.write_str("the host denied the request"),
            Error::ConnectionRefused => f.write_str("connection refused"),
            Error::Dns(m) => write!(f, "DNS lookup failed: {m}"),
            Error::Timeout(m) => write!(f, "timed out: {m}"),
            Error::Protocol(m) => write!(f, "HTTP protocol error: {m}"),
            Error::BodyCut => f.write_str("the response body was cut short"),
            Error::Io(m) => write!(f, "body I/O failed: {m}"),
            Error::Other(m) => write!(f, "HTTP request failed: {m}"),
        }
    }
}

impl std::error::Error for Error {}

/// What both backends need of `wasi:http/types` (0.2's or 0.3's, whichever
/// `wasi` names where it is invoked: their codes, methods and request
/// setters are the same): `impl From<wasi::ErrorCode> for Error`, and
/// `wasi_fields` and `set_target`, which build a request's headers and set its
/// method, scheme, authority and path.
macro_rules! wasi_glue {
    ($request:ty) => {
        impl From<wasi::ErrorCode> for super::Error {
            fn from(code: wasi::ErrorCode) -> super::Error {
                use super::Error;
                use wasi::ErrorCode;
                match code {
                    ErrorCode::HttpRequestDenied | ErrorCode::DestinationIpProhibited => {
                        Error::Denied
                    }
                    ErrorCode::ConnectionRefused => Error::ConnectionRefused,
                    ErrorCode::DnsTimeout => Error::Dns("timed out".into()),
                    ErrorCode::DnsError(e) => Error::Dns(format!("{:?}", e.rcode)),
                    ErrorCode::DestinationNotFound => Error::Dns("destination not found".into()),
                    ErrorCode::ConnectionTimeout
                    | ErrorCode::ConnectionReadTimeout
                    | ErrorCode::ConnectionWriteTimeout
                    | ErrorCode::HttpResponseTimeout => Error::Timeout(format!("{code:?}")),
                    ErrorCode::HttpResponseIncomplete => Error::BodyCut,
                    ErrorCode::HttpProtocolError
                    | ErrorCode::HttpResponseHeaderSectionSize(_)
                    | ErrorCode::HttpResponseHeaderSize(_)
                    | ErrorCode::HttpResponseTransferCoding(_)
                    | ErrorCode::HttpResponseContentCoding(_) => {
                        Error::Protocol(format!("{code:?}"))
                    }
                    ErrorCode::HttpRequestMethodInvalid
                    | ErrorCode::HttpRequestUriInvalid
                    | ErrorCode::HttpRequestUriTooLong => {
                        Error::InvalidRequest(format!("{code:?}"))
                    }
                    other => Error::Other(format!("{other:?}")),
                }
            }
        }

        /// The method as `wasi:http` spells it.
        fn wasi_method(m: &http::Method) -> wasi::Method {
            use http::Method;
            match *m {
                Method::GET => wasi::Method::Get,
                Method::HEAD => wasi::Method::Head,
                Method::POST => wasi::Method::Post,
                Method::PUT => wasi::Method::Put,
                Method::DELETE => wasi::Method::Delete,
                Method::CONNECT => wasi::Method::Connect,
                Method::OPTIONS => wasi::Method::Options,
                Method::TRACE => wasi::Method::Trace,
                Method::PATCH => wasi::Method::Patch,
                ref other => wasi::Method::Other(other.as_str().to_owned()),
            }
        }

        /// The scheme as `wasi:http` spells it (`http` if the URI has none).
        fn wasi_scheme(uri: &http::Uri) -> wasi::Scheme {
            match uri.scheme_str() {
                Some("http") | None => wasi::Scheme::Http,
                Some("https") => wasi::Scheme::Https,
                Some(other) => wasi::Scheme::Other(other.to_owned()),
            }
        }

        /// The request's headers as `wasi:http` fields.
        fn wasi_fields(head: &super::Head<'_>) -> Result<wasi::Fields, super::Error> {
            wasi::Fields::from_list(&head.entries)
                .map_err(|e| super::Error::InvalidRequest(format!("headers: {e:?}")))
        }

        /// Sets where `request` goes and how.
        fn set_target(
            request: &$request,
            parts: &http::request::Parts,
            head: &super::Head<'_>,
        ) -> Result<(), super::Error> {
            use super::refused;
            request
                .set_method(&wasi_method(&parts.method))
                .map_err(|()| refused("method"))?;
            request
                .set_scheme(Some(&wasi_scheme(&parts.uri)))
                .map_err(|()| refused("scheme"))?;
            request
                .set_authority(Some(head.authority))
                .map_err(|()| refused("authority"))?;
            request
                .set_path_with_query(Some(head.path))
                .map_err(|()| refused("path"))
        }
    };
}
use wasi_glue;

/// A response whose body has not been read yet.
///
/// # Examples
///
/// ```no_run
/// # async fn demo() -> Result<(), wasync::http::Error> {
/// let resp: wasync::http::Response = wasync::http::get("http://127.0.0.1:8080/").await?;
/// println!("{} {:?}", resp.status(), resp.headers().get("content-type"));
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Response {
    status: StatusCode,
    headers: HeaderMap,
    body: IncomingBody,
}

impl Response {
    /// The status code.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), wasync::http::Error> {
    /// let ok = wasync::http::get("http://127.0.0.1:8080/").await?.status().is_success();
    /// # Ok(()) }
    /// ```
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The headers.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), wasync::http::Error> {
    /// let resp = wasync::http::get("http://127.0.0.1:8080/").await?;
    /// let kind = resp.headers().get("content-type");
    /// # Ok(()) }
    /// ```
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The body, to read as a stream or with `AsyncRead`.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use futures::io::AsyncReadExt;
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut resp = wasync::http::get("http://127.0.0.1:8080/").await?;
    /// let mut first = [0u8; 16];
    /// resp.body_mut().read(&mut first).await?;
    /// # Ok(()) }
    /// ```
    pub fn body_mut(&mut self) -> &mut IncomingBody {
        &mut self.body
    }

    /// Takes the body.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), wasync::http::Error> {
    /// let body = wasync::http::get("http://127.0.0.1:8080/").await?.into_body();
    /// # Ok(()) }
    /// ```
    pub fn into_body(self) -> IncomingBody {
        self.body
    }

    /// As an `http::Response`.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), wasync::http::Error> {
    /// let resp: http::Response<wasync::http::IncomingBody> =
    ///     wasync::http::get("http://127.0.0.1:8080/").await?.into_http();
    /// # Ok(()) }
    /// ```
    pub fn into_http(self) -> http::Response<IncomingBody> {
        let mut r = http::Response::new(self.body);
        *r.status_mut() = self.status;
        *r.headers_mut() = self.headers;
        r
    }

    /// Reads the whole body.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), wasync::http::Error> {
    /// let bytes = wasync::http::get("http://127.0.0.1:8080/").await?.bytes().await?;
    /// # Ok(()) }
    /// ```
    pub async fn bytes(self) -> Result<Bytes, Error> {
        Body::from(self.body).bytes().await
    }

    /// Reads the whole body as UTF-8 text.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), wasync::http::Error> {
    /// let text = wasync::http::get("http://127.0.0.1:8080/").await?.text().await?;
    /// # Ok(()) }
    /// ```
    pub async fn text(self) -> Result<String, Error> {
        Body::from(self.body).text().await
    }
}

/// A body that arrived from the host (a response's, or in modes S and C a
/// service's request): a stream of chunks, and an `AsyncRead`.
///
/// # Examples
///
/// ```no_run
/// use futures::StreamExt;
/// # async fn demo() -> Result<(), wasync::http::Error> {
/// let resp = wasync::http::get("http://127.0.0.1:8080/big").await?;
/// let mut body = resp.into_body();
/// while let Some(chunk) = body.next().await {
///     println!("{} bytes", chunk?.len());
/// }
/// # Ok(()) }
/// ```
pub struct IncomingBody(backend::BodyReader);

impl fmt::Debug for IncomingBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IncomingBody").finish_non_exhaustive()
    }
}

impl Stream for IncomingBody {
    type Item = Result<Bytes, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        chunks::poll_next(self.get_mut().0.poll_chunk(cx, CHUNK))
    }
}

impl AsyncRead for IncomingBody {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let max = buf.len().min(CHUNK);
        let next = self.get_mut().0.poll_chunk(cx, max);
        chunks::poll_read(buf, next.map_err(io::Error::other))
    }
}

/// Sends a `GET` for `url`.
///
/// # Examples
///
/// ```no_run
/// # async fn demo() -> Result<(), wasync::http::Error> {
/// let resp = wasync::http::get("http://127.0.0.1:8080/suggest?prefix=wa").await?;
/// # Ok(()) }
/// ```
pub async fn get(url: &str) -> Result<Response, Error> {
    let req = http::Request::get(url)
        .body(Body::empty())
        .map_err(|e| Error::InvalidRequest(e.to_string()))?;
    send(req).await
}

/// Sends a request and waits for the response head.
///
/// # Examples
///
/// ```no_run
/// # async fn demo() -> Result<(), wasync::http::Error> {
/// let req = http::Request::post("http://127.0.0.1:8080/echo").body("hello").unwrap();
/// let echoed = wasync::http::send(req).await?.text().await?;
/// # Ok(()) }
/// ```
pub async fn send(req: http::Request<impl Into<Body>>) -> Result<Response, Error> {
    let (parts, body) = req.into_parts();
    let head = Head::of(&parts)?;
    let (status, headers, body) = backend::send(&parts, head, body.into()).await?;
    let status = StatusCode::from_u16(status)
        .map_err(|e| Error::Protocol(format!("status {status}: {e}")))?;
    Ok(Response {
        status,
        headers: header_map(headers),
        body: IncomingBody(body),
    })
}

/// What every backend needs of a request's head.
struct Head<'a> {
    /// The headers as `wasi:http` fields take them.
    entries: Vec<(String, Vec<u8>)>,
    authority: &'a str,
    path: &'a str,
}

impl<'a> Head<'a> {
    fn of(parts: &'a http::request::Parts) -> Result<Head<'a>, Error> {
        let authority = parts
            .uri
            .authority()
            .ok_or_else(|| Error::InvalidRequest(format!("`{}` has no host", parts.uri)))?;
        Ok(Head {
            entries: parts
                .headers
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), v.as_bytes().to_vec()))
                .collect(),
            authority: authority.as_str(),
            path: parts.uri.path_and_query().map_or("/", |p| p.as_str()),
        })
    }
}

/// A refusal of the host to take part of a request.
fn refused(what: &str) -> Error {
    Error::InvalidRequest(format!("the host refused the {what}"))
}

/// The response headers, as the `http` crate keeps them (invalid ones are
/// skipped).
fn header_map(entries: Vec<(String, Vec<u8>)>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in entries {
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_bytes(&value),
        ) {
            headers.append(n, v);
        }
    }
    headers
}
