//! Mode N: the glue that `#[async_export]` and `wasync::generate!` emit
//! calls these; authors never do.
//!
//! - [`call`] runs an export call's future (see `runtime::native` for how
//!   the instance's runtime is driven from the calls' tasks).
//! - `owned_*` convert the arguments of an imported async function, as the
//!   wrapper takes them (the same as in modes S and C: `&str`, `&[T]`,
//!   `&Record`), into the owned values wit-bindgen's async import takes.

pub use crate::runtime::native::call;

/// A string argument, borrowed or owned, as an owned `String`.
///
/// # Examples
///
/// ```
/// assert_eq!(wasync::native::owned_string("hi"), "hi");
/// ```
pub fn owned_string(s: impl Into<String>) -> String {
    s.into()
}

/// A list argument, a slice or a `Vec`, as an owned `Vec`.
///
/// # Examples
///
/// ```
/// let v: Vec<u32> = wasync::native::owned_list(&[1, 2][..]);
/// assert_eq!(v, [1, 2]);
/// ```
pub fn owned_list<T, L: Into<Vec<T>>>(list: L) -> Vec<T> {
    list.into()
}

/// A value that an argument may be, by value or by reference.
///
/// # Examples
///
/// ```
/// use wasync::native::OwnedArg;
///
/// let n: u32 = (&7u32).owned_arg();
/// assert_eq!(n, 7);
/// ```
pub trait OwnedArg<T> {
    /// The owned value.
    fn owned_arg(self) -> T;
}

impl<T> OwnedArg<T> for T {
    fn owned_arg(self) -> T {
        self
    }
}

impl<T: Clone> OwnedArg<T> for &T {
    fn owned_arg(self) -> T {
        self.clone()
    }
}

/// A record, variant, enum or flags argument, by value or by reference, as
/// an owned value.
///
/// # Examples
///
/// ```
/// #[derive(Clone, Debug, PartialEq)]
/// struct Point { x: i32 }
///
/// let p = Point { x: 1 };
/// assert_eq!(wasync::native::owned_value::<Point, _>(&p), p);
/// assert_eq!(wasync::native::owned_value::<Point, _>(p.clone()), p);
/// ```
pub fn owned_value<T, A: OwnedArg<T>>(arg: A) -> T {
    arg.owned_arg()
}
