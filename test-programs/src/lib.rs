//! The guest programs, built for wasm by `build.rs` through the guest build
//! pipeline (`wasync-build`). Each constant is the path of one `.wasm`.

include!(concat!(env!("OUT_DIR"), "/guests.rs"));

/// The path of the guest artifact called `name` (`hello`, `mode-tests-c`…).
pub fn path(name: &str) -> Option<&'static str> {
    ALL.iter().find(|(n, _)| *n == name).map(|(_, p)| *p)
}
