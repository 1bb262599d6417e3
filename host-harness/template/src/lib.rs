//! A wasync component: `async fn`s that spawn tasks, use timeouts and abort
//! tasks, from one source that builds for any WASI 0.2 host (mode S), for a
//! wasync host that serves overlapping calls (mode C), and as a native
//! WASI 0.3 component (mode N):
//!
//! ```sh
//! cargo build --release --target wasm32-wasip2                         # mode S
//! cargo build --release --target wasm32-wasip2 --features concurrent   # mode C
//! cargo build --release --target wasm32-wasip2 --features native       # mode N
//! ```

mod bindings {
    wasync::generate!({ world: "{{world}}" });
}

use std::time::Duration;

use wasync::task::JoinSet;
use wasync::time::{Instant, sleep, timeout, timeout_at};

struct Component;

#[wasync::async_export]
impl bindings::Guest for Component {
    async fn fan_out(delays_ms: Vec<u32>, timeout_ms: u32) -> Vec<u32> {
        let deadline = Instant::now() + Duration::from_millis(timeout_ms.into());
        let mut tasks = JoinSet::new();
        for ms in delays_ms {
            tasks.spawn(async move {
                sleep(Duration::from_millis(ms.into())).await;
                ms
            });
        }
        let mut finished = Vec::new();
        while let Ok(Some(done)) = timeout_at(deadline, tasks.join_next()).await {
            finished.extend(done.ok());
        }
        // Dropping the set aborts the tasks the deadline cut off.
        drop(tasks);
        finished
    }

    async fn echo_within(text: String, ms: u32, limit_ms: u32) -> String {
        let work = async {
            sleep(Duration::from_millis(ms.into())).await;
            text
        };
        match timeout(Duration::from_millis(limit_ms.into()), work).await {
            Ok(text) => text,
            Err(_) => "timed out".to_owned(),
        }
    }
}

bindings::export!(Component with_types_in bindings);
