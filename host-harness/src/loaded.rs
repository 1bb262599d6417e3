//! A compiled component with the name it was loaded under.

use wasmtime::component::Component;

/// A compiled component, ready to instantiate. Cheap to clone.
#[derive(Clone)]
pub struct Loaded {
    /// Where it came from, for messages.
    pub name: String,
    pub(crate) component: Component,
    pub(crate) native: bool,
}

impl Loaded {
    /// The compiled component.
    pub fn component(&self) -> &Component {
        &self.component
    }

    /// Whether it is a mode N (native WASI 0.3) component, compiled for
    /// the harness's engine with concurrency support.
    pub fn is_native(&self) -> bool {
        self.native
    }
}

/// A `Loaded` is its component, with a name: it goes wherever a
/// `&Component` does (such as `Concurrent::add`).
impl std::ops::Deref for Loaded {
    type Target = Component;

    fn deref(&self) -> &Component {
        &self.component
    }
}
