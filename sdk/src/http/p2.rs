//! The WASI 0.2 backend of `wasync::http` (modes S and C):
//! `wasi:http/outgoing-handler`, response bodies over `wasi:io` streams.

use std::task::{Context, Poll, ready};

use bytes::Bytes;
use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    self as wasi, IncomingRequest, IncomingResponse, OutgoingBody, OutgoingRequest,
};
use wasip2::io::streams::StreamError;

use super::{Body, Error, Head, refused, wasi_glue};
use crate::io::{AsyncInputStream, AsyncOutputStream};

wasi_glue!(OutgoingRequest);

fn stream_error(e: StreamError) -> Error {
    match e {
        StreamError::Closed => Error::BodyCut,
        StreamError::LastOperationFailed(err) => match wasi::http_error_code(&err) {
            Some(code) => Error::from(code),
            None => Error::Io(err.to_debug_string()),
        },
    }
}

/// An incoming body being read: a response's, or a service's request's.
pub(super) struct BodyReader {
    // Field order is drop order: the stream (and its pollable), then the
    // body it belongs to, then the response or request the body belongs to.
    reader: AsyncInputStream,
    _body: wasi::IncomingBody,
    _owner: Owner,
}

/// What an incoming body belongs to, kept alive until the body is dropped.
enum Owner {
    Response(#[allow(dead_code)] IncomingResponse),
    Request(#[allow(dead_code)] IncomingRequest),
}

impl BodyReader {
    /// The body of `request`, a service's incoming request.
    pub(super) fn of_request(request: IncomingRequest) -> Result<BodyReader, Error> {
        let body = request
            .consume()
            .map_err(|()| Error::Other("the request body was already taken".into()))?;
        let stream = body
            .stream()
            .map_err(|()| Error::Other("the body stream was already taken".into()))?;
        Ok(BodyReader {
            reader: AsyncInputStream::new(stream),
            _body: body,
            _owner: Owner::Request(request),
        })
    }

    pub(super) fn poll_chunk(
        &mut self,
        cx: &mut Context<'_>,
        max: usize,
    ) -> Poll<Result<Option<Bytes>, Error>> {
        // At the end the body is complete (trailers are not used). The wasi
        // body is dropped with this value, after its stream.
        let next = ready!(self.reader.poll_raw(cx, max as u64));
        Poll::Ready(next.map(|c| c.map(Bytes::from)).map_err(stream_error))
    }
}

/// Sends the request; returns the response's status, headers and body.
pub(super) async fn send(
    parts: &http::request::Parts,
    head: Head<'_>,
    body: Body,
) -> Result<(u16, Vec<(String, Vec<u8>)>, BodyReader), Error> {
    let headers = wasi_fields(&head)?;
    let request = OutgoingRequest::new(headers);
    set_target(&request, parts, &head)?;

    let outgoing_body = request.body().map_err(|()| refused("body"))?;
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
            crate::wait_for(&ready).await;
        }
    };
    let response = match response {
        Ok(Ok(r)) => r,
        Ok(Err(code)) => return Err(code.into()),
        Err(()) => return Err(Error::Other("the response was already taken".into())),
    };
    let status = response.status();
    let headers = response.headers().entries();
    let body = response
        .consume()
        .map_err(|()| Error::Other("the response body was already taken".into()))?;
    let stream = body
        .stream()
        .map_err(|()| Error::Other("the response body stream was already taken".into()))?;
    Ok((
        status,
        headers,
        BodyReader {
            reader: AsyncInputStream::new(stream),
            _body: body,
            _owner: Owner::Response(response),
        },
    ))
}

/// Writes `body` into `outgoing`'s stream as it becomes available, then
/// drops the stream (the caller finishes the body).
pub(super) async fn write_body(outgoing: &OutgoingBody, body: Body) -> Result<(), Error> {
    if body.is_empty() {
        return Ok(());
    }
    let stream = outgoing
        .write()
        .map_err(|()| Error::Other("the request body stream was already taken".into()))?;
    let mut out = AsyncOutputStream::new(stream);
    body.write_to(&mut out).await?;
    // The stream must be gone before the body is finished.
    drop(out.into_inner());
    Ok(())
}
