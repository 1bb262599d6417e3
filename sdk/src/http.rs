//! An async HTTP client over `wasi:http/outgoing-handler`, with the `http`
//! crate's types.
//!
//! Response bodies stream: an [`IncomingBody`] is a `futures::Stream` of
//! chunks and an `AsyncRead`. Request bodies are written asynchronously.
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
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures::io::{AsyncRead, AsyncWriteExt};
use futures::stream::{Stream, StreamExt};
pub use http::{HeaderMap, Method, StatusCode, Uri};
use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    self as wasi, ErrorCode, Fields, IncomingResponse, OutgoingBody, OutgoingRequest, Scheme,
};
use wasip2::io::streams::StreamError;

use crate::io::{AsyncInputStream, AsyncOutputStream};

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

impl From<ErrorCode> for Error {
    fn from(code: ErrorCode) -> Error {
        match code {
            ErrorCode::HttpRequestDenied | ErrorCode::DestinationIpProhibited => Error::Denied,
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
            | ErrorCode::HttpResponseContentCoding(_) => Error::Protocol(format!("{code:?}")),
            ErrorCode::HttpRequestMethodInvalid
            | ErrorCode::HttpRequestUriInvalid
            | ErrorCode::HttpRequestUriTooLong => Error::InvalidRequest(format!("{code:?}")),
            other => Error::Other(format!("{other:?}")),
        }
    }
}

fn stream_error(e: StreamError) -> Error {
    match e {
        StreamError::Closed => Error::BodyCut,
        StreamError::LastOperationFailed(err) => match wasi::http_error_code(&err) {
            Some(code) => Error::from(code),
            None => Error::Io(err.to_debug_string()),
        },
    }
}

/// A request body.
///
/// # Examples
///
/// ```
/// let empty = wasync::http::Body::empty();
/// let text = wasync::http::Body::from("hello");
/// assert!(empty.is_empty() && !text.is_empty());
/// ```
pub struct Body(Inner);

enum Inner {
    Bytes(Bytes),
    Reader(Pin<Box<dyn AsyncRead>>),
}

impl Body {
    /// No body.
    pub fn empty() -> Body {
        Body(Inner::Bytes(Bytes::new()))
    }

    /// A body read from `reader` and written as it arrives.
    pub fn from_reader(reader: impl AsyncRead + 'static) -> Body {
        Body(Inner::Reader(Box::pin(reader)))
    }

    /// Whether the body is known to be empty.
    pub fn is_empty(&self) -> bool {
        matches!(&self.0, Inner::Bytes(b) if b.is_empty())
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Inner::Bytes(b) => f.debug_tuple("Body").field(&b.len()).finish(),
            Inner::Reader(_) => f.write_str("Body(reader)"),
        }
    }
}

impl From<()> for Body {
    fn from((): ()) -> Body {
        Body::empty()
    }
}

impl From<Bytes> for Body {
    fn from(b: Bytes) -> Body {
        Body(Inner::Bytes(b))
    }
}

impl From<Vec<u8>> for Body {
    fn from(b: Vec<u8>) -> Body {
        Body(Inner::Bytes(b.into()))
    }
}

impl From<String> for Body {
    fn from(s: String) -> Body {
        Body(Inner::Bytes(s.into()))
    }
}

impl From<&'static str> for Body {
    fn from(s: &'static str) -> Body {
        Body(Inner::Bytes(Bytes::from_static(s.as_bytes())))
    }
}

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
        let mut body = self.body;
        let mut out = Vec::new();
        while let Some(chunk) = body.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(out.into())
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
        let bytes = self.bytes().await?;
        String::from_utf8(bytes.to_vec())
            .map_err(|e| Error::Io(format!("the body is not UTF-8: {e}")))
    }
}

/// A response body: a stream of chunks, and an `AsyncRead`.
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
pub struct IncomingBody {
    // Field order is drop order: the stream (and its pollable), then the
    // body it belongs to, then the response the body belongs to.
    reader: AsyncInputStream,
    _body: wasi::IncomingBody,
    _response: IncomingResponse,
}

impl fmt::Debug for IncomingBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IncomingBody").finish_non_exhaustive()
    }
}

impl IncomingBody {
    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Error>>> {
        match ready!(self.reader.poll_raw(cx, 64 * 1024)) {
            Ok(Some(bytes)) => Poll::Ready(Some(Ok(Bytes::from(bytes)))),
            // The body is complete (trailers are not used). The wasi body
            // is dropped with this value, after its stream.
            Ok(None) => Poll::Ready(None),
            Err(e) => Poll::Ready(Some(Err(stream_error(e)))),
        }
    }
}

impl Stream for IncomingBody {
    type Item = Result<Bytes, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_chunk(cx)
    }
}

impl AsyncRead for IncomingBody {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match ready!(this.reader.poll_raw(cx, buf.len() as u64)) {
            Ok(Some(bytes)) => Poll::Ready(crate::io::fill(buf, &bytes)),
            Ok(None) => Poll::Ready(Ok(0)),
            Err(e) => Poll::Ready(Err(io::Error::other(stream_error(e)))),
        }
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

fn wasi_method(m: &Method) -> wasi::Method {
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
    let body: Body = body.into();
    let entries: Vec<(String, Vec<u8>)> = parts
        .headers
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.as_bytes().to_vec()))
        .collect();
    let headers = Fields::from_list(&entries)
        .map_err(|e| Error::InvalidRequest(format!("headers: {e:?}")))?;
    let request = OutgoingRequest::new(headers);
    let bad = |what: &str| Error::InvalidRequest(format!("the host refused the {what}"));
    request
        .set_method(&wasi_method(&parts.method))
        .map_err(|()| bad("method"))?;
    let scheme = match parts.uri.scheme_str() {
        Some("http") | None => Scheme::Http,
        Some("https") => Scheme::Https,
        Some(other) => Scheme::Other(other.to_owned()),
    };
    request
        .set_scheme(Some(&scheme))
        .map_err(|()| bad("scheme"))?;
    let authority = parts
        .uri
        .authority()
        .ok_or_else(|| Error::InvalidRequest(format!("`{}` has no host", parts.uri)))?;
    request
        .set_authority(Some(authority.as_str()))
        .map_err(|()| bad("authority"))?;
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    request
        .set_path_with_query(Some(path))
        .map_err(|()| bad("path"))?;

    let outgoing_body = request.body().map_err(|()| bad("body"))?;
    let future = outgoing_handler::handle(request, None)?;
    write_body(&outgoing_body, body).await?;
    OutgoingBody::finish(outgoing_body, None)?;

    let response = {
        // The pollable is a child of the future: it goes first.
        let ready = future.subscribe();
        loop {
            if let Some(result) = future.get() {
                break result;
            }
            crate::poll::wait_for_handle(ready.handle()).await;
        }
    };
    let response = match response {
        Ok(Ok(r)) => r,
        Ok(Err(code)) => return Err(code.into()),
        Err(()) => return Err(Error::Other("the response was already taken".into())),
    };
    let status = StatusCode::from_u16(response.status())
        .map_err(|e| Error::Protocol(format!("status {}: {e}", response.status())))?;
    let mut headers = HeaderMap::new();
    for (name, value) in response.headers().entries() {
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_bytes(&value),
        ) {
            headers.append(n, v);
        }
    }
    let body = response
        .consume()
        .map_err(|()| Error::Other("the response body was already taken".into()))?;
    let stream = body
        .stream()
        .map_err(|()| Error::Other("the response body stream was already taken".into()))?;
    Ok(Response {
        status,
        headers,
        body: IncomingBody {
            reader: AsyncInputStream::new(stream),
            _body: body,
            _response: response,
        },
    })
}

async fn write_body(outgoing: &OutgoingBody, body: Body) -> Result<(), Error> {
    if body.is_empty() {
        return Ok(());
    }
    let stream = outgoing
        .write()
        .map_err(|()| Error::Other("the request body stream was already taken".into()))?;
    let mut out = AsyncOutputStream::new(stream);
    let io = |e: io::Error| Error::Io(e.to_string());
    match body.0 {
        Inner::Bytes(b) => out.write_all(&b).await.map_err(io)?,
        Inner::Reader(reader) => {
            futures::io::copy(reader, &mut out).await.map_err(io)?;
        }
    }
    out.flush().await.map_err(io)?;
    // The stream must be gone before the body is finished.
    drop(out.into_inner());
    Ok(())
}
