//! Speaks the wasync ABI by hand, and wrongly on request: the host must
//! answer each violation with a clear error and never panic.

mod bindings {
    // The world names the ABI itself (mode S adds nothing to it): the
    // `wasync:abi` and `wasi:io` WIT come from what wasync ships.
    ::wasync::generate!({
        inline: "
            package rogue:test;
            world rogue {
                import wasync:abi/host@0.1.0;
                export wasync:abi/guest@0.1.0;
                /// How to misbehave: 0 reports an unknown call finished,
                /// 1 returns a call id that is already in flight,
                /// 2 parks a pollable and then drops it, leaving the host
                /// a stale handle,
                /// 3 behaves,
                /// 4 reports its call finished twice in one list,
                /// 5 reports its call finished again after the host
                /// fetched the result (an id reused after finishing).
                export job-start: func(how: u32) -> result<u32, u32>;
                export job-finish: func(call-id: u32) -> u32;
            }
        ",
        world: "rogue",
        with: { "wasi:io/poll@0.2.12": wasip2::io::poll },
    });
}

use bindings::wasync::abi::host;

struct Rogue;

impl bindings::Guest for Rogue {
    fn job_start(how: u32) -> Result<u32, u32> {
        match how {
            0 => {
                host::park(&[], &[99]);
                Err(7)
            }
            1 => Err(5),
            2 => {
                let pollable =
                    wasip2::clocks::monotonic_clock::subscribe_duration(3_600_000_000_000);
                host::park(&[&pollable], &[]);
                drop(pollable);
                Err(8)
            }
            4 => {
                host::park(&[], &[12, 12]);
                Err(12)
            }
            5 => {
                host::park(&[], &[13]);
                Err(13)
            }
            _ => Ok(how),
        }
    }

    fn job_finish(call_id: u32) -> u32 {
        if call_id == 13 {
            host::park(&[], &[13]);
        }
        call_id
    }
}

impl bindings::exports::wasync::abi::guest::Guest for Rogue {
    fn wake(_ready: Vec<u32>) {}
    fn cancel(_call_id: u32) {}
}

bindings::export!(Rogue with_types_in bindings);
