//! The one error type of the wasync host (and of the harness built on it).
//! Every failure a user can cause (a bad file, a bad name, bad arguments, a
//! guest that traps or breaks the protocol, a full host) has its own
//! variant with a message that names the cause; nothing on those paths
//! panics.

use std::path::PathBuf;

/// Which kind of failure an [`Error`] is, for matching without its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A file that does not exist ([`Error::NotFound`]).
    NotFound,
    /// A file that could not be read ([`Error::Io`]).
    Io,
    /// A file that is not WebAssembly ([`Error::NotWasm`]).
    NotWasm,
    /// A core module where a component was expected ([`Error::CoreModule`]).
    CoreModule,
    /// A component that wasmtime rejects ([`Error::InvalidComponent`]).
    InvalidComponent,
    /// An import the host cannot provide ([`Error::UnsatisfiedImport`]).
    UnsatisfiedImport,
    /// A name the component does not export ([`Error::MissingExport`]).
    MissingExport,
    /// An export that is not a function ([`Error::NotAFunction`]).
    NotAFunction,
    /// Arguments that do not fit the function ([`Error::BadArguments`]).
    BadArguments,
    /// A call string that does not parse ([`Error::BadCallSyntax`]).
    BadCallSyntax,
    /// A guest that trapped ([`Error::Trap`]).
    Trap,
    /// An instance entered again after it trapped ([`Error::InstanceDead`]).
    InstanceDead,
    /// A bad host or harness setting ([`Error::Config`]).
    Config,
    /// A host at its limit of calls in flight ([`Error::Busy`]).
    Busy,
    /// An instance at or over one of its limits ([`Error::Limit`]).
    Limit,
    /// A composition that failed ([`Error::Compose`]).
    Compose,
    /// A guest that broke the wasync ABI ([`Error::Protocol`]).
    Protocol,
    /// A call that was cancelled ([`Error::Cancelled`]).
    Cancelled,
    /// Anything else, from wasmtime or the system ([`Error::Other`]).
    Other,
}

/// Everything the wasync host (and the harness) can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file does not exist.
    #[error("{}: no such file", path.display())]
    NotFound {
        /// The file.
        path: PathBuf,
    },

    /// The file exists but could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why it could not be read.
        #[source]
        source: std::io::Error,
    },

    /// The file is not WebAssembly at all.
    #[error("{}: not a WebAssembly file (it does not start with the `\\0asm` magic bytes)", path.display())]
    NotWasm {
        /// The file.
        path: PathBuf,
    },

    /// The file is a core module, not a component.
    #[error(
        "{}: this is a core WebAssembly module, not a component; build it for \
         `wasm32-wasip2`, with `cargo component build`, or wrap it with \
         `wasm-tools component new`",
        path.display()
    )]
    CoreModule {
        /// The file.
        path: PathBuf,
    },

    /// wasmtime rejected the component (validation or compilation).
    #[error("{}: invalid component: {message}", path.display())]
    InvalidComponent {
        /// The file.
        path: PathBuf,
        /// wasmtime's reason.
        message: String,
    },

    /// The component imports something the host does not provide.
    #[error("the component imports `{import}`, which the harness cannot provide: {reason}")]
    UnsatisfiedImport {
        /// The import's name.
        import: String,
        /// Why the host cannot provide it.
        reason: String,
    },

    /// The component has no export of that name.
    #[error("the component has no export `{name}`{}", list_hint(available))]
    MissingExport {
        /// The name asked for.
        name: String,
        /// The functions the component does export.
        available: Vec<String>,
    },

    /// The export exists but is not a function (an interface or a type).
    #[error("the export `{name}` is not a function")]
    NotAFunction {
        /// The export's name.
        name: String,
    },

    /// The arguments do not fit the function's parameters.
    #[error("bad arguments for `{func}`: {message}")]
    BadArguments {
        /// The function called.
        func: String,
        /// What does not fit.
        message: String,
    },

    /// A call string (`name(args)` in WAVE) that does not parse.
    #[error("cannot parse the call `{input}`: {message}")]
    BadCallSyntax {
        /// The call string as given.
        input: String,
        /// Where and why it does not parse.
        message: String,
    },

    /// A call trapped: a guest panic, an out-of-bounds access, a breach
    /// wasmtime caught. The instance is dead afterwards.
    #[error("{}", trap_message(export, message, panic.as_deref(), backtrace))]
    Trap {
        /// The export whose call trapped.
        export: String,
        /// wasmtime's trap message (for a Rust panic, "unreachable").
        message: String,
        /// The guest's panic message, when it printed one to stderr.
        panic: Option<String>,
        /// The wasm backtrace, one frame per line.
        backtrace: String,
    },

    /// The instance trapped before and cannot be entered again.
    #[error("the instance trapped earlier and cannot be entered again (first trap: {first})")]
    InstanceDead {
        /// The first trap's message.
        first: String,
    },

    /// A setting of the host or the harness is invalid.
    #[error("bad configuration: {0}")]
    Config(
        /// What is wrong with which setting.
        String,
    ),

    /// The host already has as many calls in flight as it was built to
    /// take ([`crate::HostConfig::max_calls`]).
    #[error(
        "the host is busy: {limit} calls are already in flight (its limit); retry once some have finished"
    )]
    Busy {
        /// The host's limit of calls in flight.
        limit: usize,
    },

    /// An instance hit one of its [`crate::Limits`]. With `stopped`, the
    /// instance went over it and is dead; without, the call was refused
    /// (too many in flight) or cancelled (past its call timeout) and the
    /// instance lives on.
    #[error("{}", limit_message(limit, instance, *stopped))]
    Limit {
        /// Which limit, with its value.
        limit: crate::Limit,
        /// The instance's name.
        instance: String,
        /// Whether the instance was stopped for it.
        stopped: bool,
    },

    /// Composing components failed (an unplugged import, a type mismatch).
    #[error("composition failed: {0}")]
    Compose(
        /// What failed.
        String,
    ),

    /// A mode C guest broke the wasync ABI (docs/abi.md).
    #[error("the guest broke the wasync ABI: {0}")]
    Protocol(
        /// Which rule was broken, and how.
        String,
    ),

    /// The call was cancelled before it finished.
    #[error("the call was cancelled")]
    Cancelled,

    /// Anything else, from wasmtime or the system.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

fn list_hint(available: &[String]) -> String {
    if available.is_empty() {
        "; it exports no functions".to_owned()
    } else {
        format!("; its functions are: {}", available.join(", "))
    }
}

fn limit_message(limit: &crate::Limit, instance: &str, stopped: bool) -> String {
    match (limit, stopped) {
        (_, true) => format!("instance `{instance}` went over its {limit}, and was stopped"),
        (crate::Limit::Calls { .. }, false) => {
            format!("instance `{instance}` is at its {limit}; retry once some have finished")
        }
        (_, false) => {
            format!("the call went over instance `{instance}`'s {limit}, and was cancelled")
        }
    }
}

fn trap_message(export: &str, message: &str, panic: Option<&str>, backtrace: &str) -> String {
    let mut s = format!("`{export}` trapped: {message}");
    if let Some(panic) = panic {
        s.push_str(&format!(" (guest panicked: {panic})"));
    }
    if !backtrace.is_empty() {
        s.push_str("\nwasm backtrace:\n");
        s.push_str(backtrace);
    }
    s
}

impl Error {
    /// The kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::Io { .. } => ErrorKind::Io,
            Error::NotWasm { .. } => ErrorKind::NotWasm,
            Error::CoreModule { .. } => ErrorKind::CoreModule,
            Error::InvalidComponent { .. } => ErrorKind::InvalidComponent,
            Error::UnsatisfiedImport { .. } => ErrorKind::UnsatisfiedImport,
            Error::MissingExport { .. } => ErrorKind::MissingExport,
            Error::NotAFunction { .. } => ErrorKind::NotAFunction,
            Error::BadArguments { .. } => ErrorKind::BadArguments,
            Error::BadCallSyntax { .. } => ErrorKind::BadCallSyntax,
            Error::Trap { .. } => ErrorKind::Trap,
            Error::InstanceDead { .. } => ErrorKind::InstanceDead,
            Error::Config(_) => ErrorKind::Config,
            Error::Busy { .. } => ErrorKind::Busy,
            Error::Limit { .. } => ErrorKind::Limit,
            Error::Compose(_) => ErrorKind::Compose,
            Error::Protocol(_) => ErrorKind::Protocol,
            Error::Cancelled => ErrorKind::Cancelled,
            Error::Other(_) => ErrorKind::Other,
        }
    }

    /// The first line of the message, for one-line CLI errors.
    pub fn headline(&self) -> String {
        let full = self.to_string();
        full.lines().next().unwrap_or_default().to_owned()
    }
}

/// The result type of the wasync host.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<wasmtime::Error> for Error {
    /// An error from wasmtime outside a call (configuring an engine,
    /// compiling a component): [`Error::Other`].
    fn from(e: wasmtime::Error) -> Error {
        Error::Other(anyhow::Error::from(e))
    }
}
