//! The one error type of the wasync host (and of the harness built on it).
//! Every failure a user can cause (a bad file, a bad name, bad arguments, a
//! guest that traps or breaks the protocol, a full host) has its own
//! variant with a message that names the cause; nothing on those paths
//! panics.

use std::path::PathBuf;

/// Which kind of failure an [`Error`] is, for matching without its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    NotFound,
    Io,
    NotWasm,
    CoreModule,
    InvalidComponent,
    UnsatisfiedImport,
    MissingExport,
    NotAFunction,
    BadArguments,
    BadCallSyntax,
    Trap,
    InstanceDead,
    Config,
    Busy,
    Limit,
    Compose,
    Protocol,
    Cancelled,
    Other,
}

/// Everything the wasync host (and the harness) can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: no such file", path.display())]
    NotFound { path: PathBuf },

    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{}: not a WebAssembly file (it does not start with the `\\0asm` magic bytes)", path.display())]
    NotWasm { path: PathBuf },

    #[error(
        "{}: this is a core WebAssembly module, not a component; build it for \
         `wasm32-wasip2`, with `cargo component build`, or wrap it with \
         `wasm-tools component new`",
        path.display()
    )]
    CoreModule { path: PathBuf },

    #[error("{}: invalid component: {message}", path.display())]
    InvalidComponent { path: PathBuf, message: String },

    #[error("the component imports `{import}`, which the harness cannot provide: {reason}")]
    UnsatisfiedImport { import: String, reason: String },

    #[error("the component has no export `{name}`{}", list_hint(available))]
    MissingExport {
        name: String,
        available: Vec<String>,
    },

    #[error("the export `{name}` is not a function")]
    NotAFunction { name: String },

    #[error("bad arguments for `{func}`: {message}")]
    BadArguments { func: String, message: String },

    #[error("cannot parse the call `{input}`: {message}")]
    BadCallSyntax { input: String, message: String },

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

    #[error("the instance trapped earlier and cannot be entered again (first trap: {first})")]
    InstanceDead { first: String },

    #[error("bad configuration: {0}")]
    Config(String),

    /// The host already has as many calls in flight as it was built to
    /// take ([`crate::HostConfig::max_calls`]).
    #[error(
        "the host is busy: {limit} calls are already in flight (its limit); retry once some have finished"
    )]
    Busy { limit: usize },

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

    #[error("composition failed: {0}")]
    Compose(String),

    #[error("the guest broke the wasync ABI: {0}")]
    Protocol(String),

    #[error("the call was cancelled")]
    Cancelled,

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
