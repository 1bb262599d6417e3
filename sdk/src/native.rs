//! Mode N: the glue that `#[async_export]` and `wasync::generate!` emit
//! calls these; authors never do.
//!
//! - [`call`] runs an export call's future (see `runtime::native` for how
//!   the instance's runtime is driven from the calls' tasks).
//! - [`command_result`] and [`not_a_wasi_0_2_command`] are
//!   `#[wasync::main]`'s: the `wasi:cli/run@0.3` export's result, and the
//!   binary's `main`, which no 0.3 host calls.
//! - `owned_*` convert the arguments of an imported async function, as the
//!   wrapper takes them (the same as in modes S and C: `&str`, `&[T]`,
//!   `&Record`), into the owned values wit-bindgen's async import takes.

pub use crate::runtime::native::call;

/// What `wasi:cli/run@0.3`'s `run` returns for the value of the author's
/// `main`: as std does for a binary's `main` (`Termination`), an `Err` is
/// printed to stderr as `Error: {err:?}` and the command fails (the host
/// exits with status 1).
///
/// # Examples
///
/// ```
/// assert_eq!(wasync::native::command_result(()), Ok(()));
/// assert_eq!(wasync::native::command_result(Err::<(), _>("no input")), Err(()));
/// ```
// `result<_, _>` is what the WIT export returns: nothing to say in `()`.
#[allow(clippy::result_unit_err)]
pub fn command_result<T: std::process::Termination>(out: T) -> Result<(), ()> {
    if out.report() == std::process::ExitCode::SUCCESS {
        Ok(())
    } else {
        Err(())
    }
}

/// The binary's `main` of a mode N command. Its entry point is the
/// `wasi:cli/run@0.3` export; a host that calls the WASI 0.2 one instead
/// (through std's `main`) gets this message and exit status 1, not a
/// command that silently does nothing.
///
/// # Examples
///
/// ```no_run
/// // What `#[wasync::main]` emits as `fn main` in mode N.
/// wasync::native::not_a_wasi_0_2_command();
/// ```
pub fn not_a_wasi_0_2_command() -> ! {
    eprintln!(
        "this command was built for WASI 0.3 (wasync's mode N): its entry point is \
         `wasi:cli/run@0.3`; run it on a WASI 0.3 host (`wasmtime run -Sp3 \
         -Wcomponent-model-async`) or build it in mode S or C for WASI 0.2"
    );
    std::process::exit(1)
}

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
