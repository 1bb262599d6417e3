// One type implements two exported interfaces that both have an
// `async fn get`: the usual wit-bindgen pattern (one `struct Component`
// implements every `Guest` trait). The hidden methods that hold the
// bodies must not clash.
mod bindings {
    wasync::generate!({
        inline: "
            package demo:two;
            interface left { get: async func() -> u32; }
            interface right { get: async func(x: u32) -> u32; }
            world app { export left; export right; }
        ",
        world: "app",
    });
}

use bindings::exports::demo::two::{left, right};

struct Component;

#[wasync::async_export]
impl left::Guest for Component {
    async fn get() -> u32 {
        1
    }
}

#[wasync::async_export]
impl right::Guest for Component {
    async fn get(x: u32) -> u32 {
        x + 1
    }
}

fn main() {
    assert_eq!(<Component as left::Guest>::get(), 1);
    assert_eq!(<Component as right::Guest>::get(41), 42);
}
