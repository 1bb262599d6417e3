//! The WASI 0.3 backend of `wasync::http` (mode N): `wasi:http/client.send`,
//! bodies over `stream<u8>`.
//!
//! A 0.3 request body is read by the host only once the request is sent,
//! and `send` returns only with the response head: writing the body before
//! (or while awaiting) `send` in the same future could wait forever. The
//! body is written by a task of its own (`wasync::spawn`), which ends when
//! the host has taken it all or dropped the stream.

use std::future::IntoFuture;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures::io::AsyncWriteExt;
use wasip3::http::client;
use wasip3::http::types::{self as wasi, Request, Response, Trailers};
use wasip3::wit_bindgen::{FutureRead, FutureReader, FutureWriter, StreamReader};
use wasip3::{wit_future, wit_stream};

use super::{Body, Error, Head, wasi_glue};
use crate::io::{AsyncInputStream, AsyncOutputStream};

wasi_glue!(Request);

/// How the body ended, which 0.3 reports after the stream closed.
type Ending = Pin<Box<FutureRead<Result<Option<Trailers>, wasi::ErrorCode>>>>;

/// A response body being read.
pub(super) struct BodyReader {
    reader: AsyncInputStream,
    /// Awaited once the stream closed: an error means the body was cut.
    ending: Option<Ending>,
    /// Tells the host how handling the response went: `Ok` when dropped
    /// (its default value), with this reader.
    _handled: FutureWriter<Result<(), wasi::ErrorCode>>,
    /// How sending the request went. Dropping it early makes the host drop
    /// the connection, response body included: it lives as long as the body.
    /// (None for the body of a request a service received.)
    _transmitted: Option<FutureReader<Result<(), wasi::ErrorCode>>>,
}

impl BodyReader {
    /// The body of a request the `wasi:http/handler` export received.
    pub(crate) fn of_request(request: Request) -> BodyReader {
        let (handled, handled_rx) = wit_future::new(|| Ok(()));
        let (stream, ending) = Request::consume_body(request, handled_rx);
        BodyReader {
            reader: AsyncInputStream::new(stream),
            ending: Some(Box::pin(ending.into_future())),
            _handled: handled,
            _transmitted: None,
        }
    }

    pub(super) fn poll_chunk(
        &mut self,
        cx: &mut Context<'_>,
        max: usize,
    ) -> Poll<Result<Option<Bytes>, Error>> {
        match ready!(self.reader.poll_chunk(cx, max)) {
            Ok(Some(bytes)) => return Poll::Ready(Ok(Some(Bytes::from(bytes)))),
            Ok(None) => {}
            Err(e) => return Poll::Ready(Err(Error::Io(e.to_string()))),
        }
        let Some(ending) = self.ending.as_mut() else {
            return Poll::Ready(Ok(None));
        };
        let ending = ready!(ending.as_mut().poll(cx));
        self.ending = None;
        Poll::Ready(ending.map(|_trailers| None).map_err(Error::from))
    }
}

/// Sends the request; returns the response's status, headers and body.
pub(super) async fn send(
    parts: &http::request::Parts,
    head: Head<'_>,
    body: Body,
) -> Result<(u16, Vec<(String, Vec<u8>)>, BodyReader), Error> {
    let headers = wasi_fields(&head)?;
    let (contents, trailers) = spawn_body(body);
    let (request, transmitted) = Request::new(headers, contents, trailers, None);
    set_target(&request, parts, &head)?;

    let response = client::send(request).await?;
    let status = response.get_status_code();
    let headers = response.get_headers().copy_all();
    let (handled, handled_rx) = wit_future::new(|| Ok(()));
    let (stream, ending) = Response::consume_body(response, handled_rx);
    Ok((
        status,
        headers,
        BodyReader {
            reader: AsyncInputStream::new(stream),
            ending: Some(Box::pin(ending.into_future())),
            _handled: handled,
            _transmitted: Some(transmitted),
        },
    ))
}

/// A body's contents as a `stream<u8>` (none for an empty body) and the
/// future of its ending, for a request or a response: a task of its own
/// (`wasync::spawn`) writes the body and then settles the ending, with no
/// trailers once the whole body went out, or with an error when it failed
/// part-way (so the peer sees a cut body, not a complete one). The host
/// reads the body only once the request or response is handed over, so
/// the writer cannot be the future that hands it over.
pub(crate) fn spawn_body(body: Body) -> (Option<StreamReader<u8>>, BodyEnding) {
    let (ending, ending_rx) = wit_future::new(|| Ok(None));
    if body.is_empty() {
        // No trailers: the writer's default value, sent when it is dropped.
        drop(ending);
        return (None, ending_rx);
    }
    let (tx, rx) = wit_stream::new::<u8>();
    drop(crate::spawn(async move {
        let mut out = AsyncOutputStream::new(tx);
        // A failed write may mean the peer dropped the stream: then the
        // ending is not read either.
        let result = match body.write_to(&mut out).await {
            Ok(()) => out
                .close()
                .await
                .map(|()| None)
                .map_err(|e| Error::Io(e.to_string())),
            Err(e) => Err(e),
        };
        let _ = ending
            .write(result.map_err(|e| wasi::ErrorCode::InternalError(Some(e.to_string()))))
            .await;
    }));
    (Some(rx), ending_rx)
}

/// The ending a body's writer reports.
pub(crate) type BodyEnding = FutureReader<Result<Option<Trailers>, wasi::ErrorCode>>;
