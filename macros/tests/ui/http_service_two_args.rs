// A handler takes the request only.
use wasync::http::Body;
use wasync::http::server::{Request, Response};

#[wasync::http_service]
async fn serve(req: Request<Body>, extra: u32) -> Response<Body> {
    drop(extra);
    Response::new(req.into_body())
}

fn main() {}
