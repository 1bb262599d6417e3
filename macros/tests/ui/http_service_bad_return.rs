// A handler must return something that becomes a response.
use wasync::http::Body;
use wasync::http::server::Request;

#[wasync::http_service]
async fn serve(req: Request<Body>) -> u32 {
    drop(req);
    42
}

fn main() {}
