//! HTTP services: `#[wasync::http_service]` turns
//! `async fn(Request<Body>) -> Response<Body>` into the component's
//! `wasi:http/incoming-handler` export, a WASI 0.2 proxy that runs under
//! `wasmtime serve` or any other 0.2 HTTP host.
//!
//! How a request is served (modes S and C alike: a handler call is a plain
//! WASI 0.2 export, which no host overlaps; in mode N the component exports
//! the async `wasi:http/handler@0.3` instead, whose calls a host may overlap
//! in one instance, and steps 3 and 4 are the 0.3 response's head and its
//! `stream<u8>`, written by a task of its own):
//! 1. the wasi request becomes an `http::Request<Body>` whose body streams
//!    from the host;
//! 2. the handler runs on the instance's runtime (`block_on`): spawned
//!    tasks, timers and I/O run while it waits;
//! 3. as soon as it returns, the status and headers go to the host
//!    (`response-outparam.set`), so the client sees the head before the
//!    body is complete;
//! 4. the body is written as it becomes available (from bytes, a reader, a
//!    stream, or a [`Body::channel`] that a spawned task still writes), and
//!    then finished. A body that fails part-way is left unfinished, which
//!    the host reports to the client as a cut-short body.
//!
//! The handler's return value may be a `Response<B>` for any `B:
//! Into<Body>`, a [`StatusCode`], or a `Result` of either whose error is
//! shown as a `500` (see [`IntoResponse`]).
//!
//! # Examples
//!
//! ```no_run
//! use wasync::http::server::{Request, Response};
//! use wasync::http::{Body, StatusCode};
//!
//! #[wasync::http_service]
//! async fn serve(req: Request<Body>) -> Result<Response<Body>, wasync::http::Error> {
//!     match req.uri().path() {
//!         "/echo" => Ok(Response::new(req.into_body())), // streams back as it arrives
//!         "/hello" => Ok(Response::new("hello\n".into())),
//!         _ => Ok(Response::builder().status(StatusCode::NOT_FOUND).body(Body::empty()).unwrap()),
//!     }
//! }
//! ```

use std::fmt;

pub use http::{Request, Response};

use super::{Body, StatusCode};

#[cfg(any(not(target_family = "wasm"), not(feature = "native")))]
pub use p2::handle;
#[cfg(all(target_family = "wasm", feature = "native"))]
pub use p3::handle;

/// What a service handler may return: a response, a bare status, or a
/// `Result` whose error becomes a `500 Internal Server Error` with the
/// error's text as its body.
///
/// # Examples
///
/// ```
/// use wasync::http::server::{IntoResponse, Response};
/// use wasync::http::StatusCode;
///
/// let ok = Response::new("fine").into_response();
/// assert_eq!(ok.status(), StatusCode::OK);
/// let gone = StatusCode::GONE.into_response();
/// assert_eq!(gone.status(), StatusCode::GONE);
/// let failed: Result<Response<&str>, String> = Err("the index is missing".into());
/// let failed = failed.into_response();
/// assert_eq!(failed.status(), StatusCode::INTERNAL_SERVER_ERROR);
/// let text = wasync::block_on(failed.into_body().text()).unwrap();
/// assert_eq!(text, "the index is missing\n");
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an HTTP response",
    label = "a handler returns this",
    note = "return a `Response<B>` (with `B: Into<Body>`), a `StatusCode`, or a `Result` of \
            either whose error is `Display` (it becomes a 500)"
)]
pub trait IntoResponse {
    /// The response to send.
    fn into_response(self) -> Response<Body>;
}

impl<B: Into<Body>> IntoResponse for Response<B> {
    fn into_response(self) -> Response<Body> {
        self.map(Into::into)
    }
}

impl IntoResponse for StatusCode {
    fn into_response(self) -> Response<Body> {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = self;
        r
    }
}

impl<R: IntoResponse, E: fmt::Display> IntoResponse for Result<R, E> {
    fn into_response(self) -> Response<Body> {
        match self {
            Ok(r) => r.into_response(),
            Err(e) => {
                let mut r = Response::new(Body::from(format!("{e}\n")));
                *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                r.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static("text/plain; charset=utf-8"),
                );
                r
            }
        }
    }
}

/// A wasi request (0.2's or 0.3's: the same methods and schemes, under
/// `WasiMethod` and `Scheme` where it is invoked) as an `http::Request`
/// whose body streams from the host: `Ok` of it, or `Err` of a message.
/// The parts are evaluated in order, the body last (taking it may consume
/// the request).
#[cfg_attr(all(target_family = "wasm", feature = "native"), allow(unused_macros))]
macro_rules! http_request {
    (
        method: $method:expr,
        scheme: $scheme:expr,
        authority: $authority:expr,
        path: $path:expr,
        headers: $headers:expr,
        body: $body:expr,
    ) => {{
        let method = match $method {
            WasiMethod::Get => Method::GET,
            WasiMethod::Head => Method::HEAD,
            WasiMethod::Post => Method::POST,
            WasiMethod::Put => Method::PUT,
            WasiMethod::Delete => Method::DELETE,
            WasiMethod::Connect => Method::CONNECT,
            WasiMethod::Options => Method::OPTIONS,
            WasiMethod::Trace => Method::TRACE,
            WasiMethod::Patch => Method::PATCH,
            WasiMethod::Other(m) => {
                Method::from_bytes(m.as_bytes()).map_err(|e| format!("method `{m}`: {e}"))?
            }
        };
        let mut uri = http::Uri::builder();
        if let Some(authority) = $authority {
            let scheme = match $scheme {
                Some(Scheme::Https) => "https".to_owned(),
                Some(Scheme::Other(s)) => s,
                Some(Scheme::Http) | None => "http".to_owned(),
            };
            uri = uri.scheme(scheme.as_str()).authority(authority.as_str());
        }
        let path = $path.unwrap_or_else(|| "/".to_owned());
        let uri = uri
            .path_and_query(path.as_str())
            .build()
            .map_err(|e| format!("the request URI `{path}`: {e}"))?;
        let headers = header_map($headers);
        let mut http = Request::new(Body::from(IncomingBody($body)));
        *http.method_mut() = method;
        *http.uri_mut() = uri;
        *http.headers_mut() = headers;
        Ok(http)
    }};
}

/// The `wasi:http/incoming-handler` glue of modes S and C.
#[cfg(any(not(target_family = "wasm"), not(feature = "native")))]
mod p2 {
    use std::future::Future;

    use futures::FutureExt;
    use wasip2::http::types::{
        ErrorCode, Fields, IncomingRequest, Method as WasiMethod, OutgoingBody, OutgoingResponse,
        ResponseOutparam, Scheme,
    };

    use super::{IntoResponse, Request};
    use crate::http::p2::{BodyReader, write_body};
    use crate::http::{Body, IncomingBody, Method, header_map};

    /// Serves one request of the `wasi:http/incoming-handler` export with
    /// `handler`, to completion (modes S and C). What `#[http_service]` calls.
    #[doc(hidden)]
    pub fn handle<F, Fut>(request: IncomingRequest, out: ResponseOutparam, handler: F)
    where
        F: FnOnce(Request<Body>) -> Fut,
        Fut: Future<Output: IntoResponse>,
    {
        crate::runtime::block_on(serve(request, out, handler));
    }

    async fn serve<F, Fut>(request: IncomingRequest, out: ResponseOutparam, handler: F)
    where
        F: FnOnce(Request<Body>) -> Fut,
        Fut: Future<Output: IntoResponse>,
    {
        let request = match to_http(request) {
            Ok(r) => r,
            Err(message) => {
                ResponseOutparam::set(out, Err(ErrorCode::InternalError(Some(message))));
                return;
            }
        };
        // A panicking handler traps the instance anyway; catching it here would
        // only hide the message the host shows.
        let response = handler(request).map(IntoResponse::into_response).await;
        let (parts, body) = response.into_parts();
        let entries: Vec<(String, Vec<u8>)> = parts
            .headers
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.as_bytes().to_vec()))
            .collect();
        let headers = match Fields::from_list(&entries) {
            Ok(h) => h,
            Err(e) => {
                let message = format!("the handler's response headers were refused: {e:?}");
                ResponseOutparam::set(out, Err(ErrorCode::InternalError(Some(message))));
                return;
            }
        };
        let response = OutgoingResponse::new(headers);
        // `StatusCode` holds 100..=999 only, which the host accepts.
        let _ = response.set_status_code(parts.status.as_u16());
        let Ok(outgoing) = response.body() else {
            let message = "the response body was already taken".to_owned();
            ResponseOutparam::set(out, Err(ErrorCode::InternalError(Some(message))));
            return;
        };
        // The head goes out now; the body follows as it is written.
        ResponseOutparam::set(out, Ok(response));
        match write_body(&outgoing, body).await {
            Ok(()) => {
                if let Err(e) = OutgoingBody::finish(outgoing, None) {
                    eprintln!("wasync::http: finishing the response body failed: {e:?}");
                }
            }
            // Dropping the body unfinished tells the host it is incomplete.
            Err(e) => eprintln!("wasync::http: the response body failed part-way: {e}"),
        }
    }

    /// The wasi request as an `http::Request` whose body streams from the host.
    fn to_http(request: IncomingRequest) -> Result<Request<Body>, String> {
        http_request! {
            method: request.method(),
            scheme: request.scheme(),
            authority: request.authority(),
            path: request.path_with_query(),
            headers: request.headers().entries(),
            body: BodyReader::of_request(request).map_err(|e| e.to_string())?,
        }
    }
}

/// The `wasi:http/handler@0.3` glue of mode N.
#[cfg(all(target_family = "wasm", feature = "native"))]
mod p3 {
    use std::future::Future;

    use wasip3::http::types::{
        ErrorCode, Fields, Method as WasiMethod, Request as WasiRequest, Response as WasiResponse,
        Scheme,
    };

    use super::{IntoResponse, Request};
    use crate::http::p3::{BodyReader, spawn_body};
    use crate::http::{Body, IncomingBody, Method, header_map};

    /// Serves one call of the `wasi:http/handler` export with `handler`
    /// (mode N; `#[http_service]` runs it as an export call). The response
    /// goes back as soon as the handler returns; its body is written after.
    #[doc(hidden)]
    pub async fn handle<F, Fut>(request: WasiRequest, handler: F) -> Result<WasiResponse, ErrorCode>
    where
        F: FnOnce(Request<Body>) -> Fut,
        Fut: Future<Output: IntoResponse>,
    {
        let request = to_http(request).map_err(|m| ErrorCode::InternalError(Some(m)))?;
        let response = handler(request).await.into_response();
        let (parts, body) = response.into_parts();
        let entries: Vec<(String, Vec<u8>)> = parts
            .headers
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.as_bytes().to_vec()))
            .collect();
        let headers = Fields::from_list(&entries).map_err(|e| {
            ErrorCode::InternalError(Some(format!(
                "the handler's response headers were refused: {e:?}"
            )))
        })?;
        let (contents, ending) = spawn_body(body);
        let (response, transmitted) = WasiResponse::new(headers, contents, ending);
        // `StatusCode` holds 100..=999 only, which the host accepts.
        let _ = response.set_status_code(parts.status.as_u16());
        // Whether the host sent it all, reported after this call returned.
        drop(crate::spawn(async move {
            if let Err(e) = transmitted.await {
                eprintln!("wasync::http: sending the response failed: {e:?}");
            }
        }));
        Ok(response)
    }

    /// The 0.3 request as an `http::Request` whose body streams from the
    /// host.
    fn to_http(request: WasiRequest) -> Result<Request<Body>, String> {
        http_request! {
            method: request.get_method(),
            scheme: request.get_scheme(),
            authority: request.get_authority(),
            path: request.get_path_with_query(),
            headers: request.get_headers().copy_all(),
            body: BodyReader::of_request(request),
        }
    }
}
