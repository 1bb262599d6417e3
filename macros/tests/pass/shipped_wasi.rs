// A world that imports WASI packages it does not carry: generate! takes
// them from the WIT wasync ships, and the async export still type-checks.
mod bindings {
    wasync::generate!({
        inline: "
            package demo:clock;
            world clock {
                import wasi:clocks/monotonic-clock@0.2.12;
                import wasi:random/random@0.2.12;
                export nap: async func(ms: u32) -> u64;
            }
        ",
        world: "clock",
    });
}

struct Clock;

#[wasync::async_export]
impl bindings::Guest for Clock {
    async fn nap(ms: u32) -> u64 {
        let _ = bindings::wasi::random::random::get_random_u64;
        wasync::time::sleep(std::time::Duration::from_millis(ms.into())).await;
        u64::from(ms)
    }
}

fn main() {}
