//! A small HTTP/1.1 client on hyper, for what the harness measures and
//! tests: it keeps one connection open for many requests, and records when
//! the head and each piece of the body arrived.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

use crate::error::{Error, Result};

/// A response read whole, with when its parts arrived.
///
/// # Examples
///
/// ```no_run
/// # async fn demo(addr: std::net::SocketAddr) -> wasync_harness::Result<()> {
/// let r = wasync_harness::http_client::fetch(addr, "GET", "/count?to=3", Default::default()).await?;
/// println!("head after {:?}, {} pieces of body", r.head_after, r.frames.len());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The status code.
    pub status: u16,
    /// The headers.
    pub headers: http::HeaderMap,
    /// The whole body.
    pub body: Bytes,
    /// When the head arrived, from when the request was sent.
    pub head_after: Duration,
    /// Each piece of the body as it arrived, with when (from when the
    /// request was sent).
    pub frames: Vec<(Duration, Bytes)>,
}

impl Fetched {
    /// The body as text (lossy).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn demo(r: &wasync_harness::http_client::Fetched) {
    /// assert_eq!(r.text(), "hello\n");
    /// # }
    /// ```
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header's value as text, if present and text.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn demo(r: &wasync_harness::http_client::Fetched) {
    /// let kind = r.header("content-type");
    /// # }
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// One keep-alive connection to a server.
///
/// # Examples
///
/// ```no_run
/// # async fn demo(addr: std::net::SocketAddr) -> wasync_harness::Result<()> {
/// let mut conn = wasync_harness::http_client::Connection::open(addr).await?;
/// for _ in 0..3 {
///     let r = conn.fetch("GET", "/hello", Default::default()).await?;
/// }
/// # Ok(()) }
/// ```
pub struct Connection {
    addr: SocketAddr,
    sender: SendRequest<Full<Bytes>>,
}

fn failed(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Config(format!("HTTP client: {what}: {e}"))
}

impl Connection {
    /// Connects to `addr`.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo() -> wasync_harness::Result<()> {
    /// let conn = wasync_harness::http_client::Connection::open("127.0.0.1:8080".parse().unwrap()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn open(addr: SocketAddr) -> Result<Connection> {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| failed(&format!("connect to {addr}"), e))?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| failed("handshake", e))?;
        tokio::spawn(conn);
        Ok(Connection { addr, sender })
    }

    /// Sends `method path` with `body` and reads the whole response.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(mut conn: wasync_harness::http_client::Connection) -> wasync_harness::Result<()> {
    /// let echoed = conn.fetch("POST", "/echo", "some bytes".into()).await?;
    /// assert_eq!(echoed.body, "some bytes");
    /// # Ok(()) }
    /// ```
    pub async fn fetch(&mut self, method: &str, path: &str, body: Bytes) -> Result<Fetched> {
        let req = http::Request::builder()
            .method(method)
            .uri(path)
            .header(http::header::HOST, self.addr.to_string())
            .body(Full::new(body))
            .map_err(|e| failed("request", e))?;
        self.sender
            .ready()
            .await
            .map_err(|e| failed("connection", e))?;
        let start = Instant::now();
        let resp = self
            .sender
            .send_request(req)
            .await
            .map_err(|e| failed(&format!("{method} {path}"), e))?;
        let head_after = start.elapsed();
        let (parts, mut incoming) = resp.into_parts();
        let mut frames = Vec::new();
        let mut whole = Vec::new();
        while let Some(frame) = incoming.frame().await {
            let frame = frame.map_err(|e| failed(&format!("body of {method} {path}"), e))?;
            if let Ok(data) = frame.into_data() {
                whole.extend_from_slice(&data);
                frames.push((start.elapsed(), data));
            }
        }
        Ok(Fetched {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body: whole.into(),
            head_after,
            frames,
        })
    }
}

/// One request on a connection of its own.
///
/// # Examples
///
/// ```no_run
/// # async fn demo() -> wasync_harness::Result<()> {
/// let addr = "127.0.0.1:8080".parse().unwrap();
/// let r = wasync_harness::http_client::fetch(addr, "GET", "/hello", Default::default()).await?;
/// assert_eq!(r.status, 200);
/// # Ok(()) }
/// ```
pub async fn fetch(addr: SocketAddr, method: &str, path: &str, body: Bytes) -> Result<Fetched> {
    Connection::open(addr)
        .await?
        .fetch(method, path, body)
        .await
}
