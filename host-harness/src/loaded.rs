//! A compiled component with the name it was loaded under.

use wasmtime::component::Component;

/// A compiled component, ready to instantiate. Cheap to clone.
#[derive(Clone)]
pub struct Loaded {
    /// Where it came from, for messages.
    pub name: String,
    pub(crate) component: Component,
}

impl Loaded {
    /// The compiled component.
    pub fn component(&self) -> &Component {
        &self.component
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
