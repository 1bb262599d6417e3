//! What a guest gets from the host: the store data every instance lives in,
//! and the options that decide which WASI capabilities it receives.

use std::path::PathBuf;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::error::{Error, Result};
use crate::output::{Output, Stdio};

/// A host directory made visible to the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirMount {
    /// The folder on the host.
    pub host: PathBuf,
    /// The path the guest sees it at.
    pub guest: String,
    /// Whether the guest may only read it.
    pub read_only: bool,
}

impl std::str::FromStr for DirMount {
    type Err = String;

    /// Parses `host::guest` (read-write) or `host::guest::ro`, as
    /// `wasmtime run --dir` does; a bare `dir` maps to itself.
    fn from_str(s: &str) -> Result<DirMount, String> {
        let mut parts = s.split("::");
        let host = parts.next().filter(|h| !h.is_empty());
        let Some(host) = host else {
            return Err(format!(
                "`{s}`: expected HOST::GUEST, HOST::GUEST::ro or DIR"
            ));
        };
        let guest = parts.next().unwrap_or(host);
        let read_only = match parts.next() {
            None => false,
            Some("ro") => true,
            Some(other) => {
                return Err(format!(
                    "`{s}`: unknown dir option `{other}`; only `ro` exists"
                ));
            }
        };
        if parts.next().is_some() || guest.is_empty() {
            return Err(format!(
                "`{s}`: expected HOST::GUEST, HOST::GUEST::ro or DIR"
            ));
        }
        Ok(DirMount {
            host: PathBuf::from(host),
            guest: guest.to_owned(),
            read_only,
        })
    }
}

/// Parses `KEY=VALUE` for `--env`.
pub fn parse_env(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("`{s}`: expected KEY=VALUE")),
    }
}

/// What a guest reads from `wasi:cli/stdin`.
///
/// # Examples
///
/// ```
/// use wasync_harness::{Stdin, WasiOptions};
///
/// assert_eq!(WasiOptions::default().stdin, Stdin::Empty);
/// let fed = WasiOptions { stdin: Stdin::Bytes(b"one\ntwo\n".to_vec()), ..WasiOptions::default() };
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Stdin {
    /// Nothing: the stream is at its end at once.
    #[default]
    Empty,
    /// These bytes, then the end.
    Bytes(Vec<u8>),
    /// The host process's own standard input.
    Inherit,
}

/// The WASI capabilities an instance receives. The default is none at all:
/// no directories, no environment, no arguments, no network, empty stdin;
/// output passes through.
#[derive(Debug, Clone, Default)]
pub struct WasiOptions {
    /// What `wasi:cli/stdin` reads.
    pub stdin: Stdin,
    /// Where the guest's `wasi:cli/stdout` goes.
    pub stdout: Stdio,
    /// Where the guest's `wasi:cli/stderr` goes.
    pub stderr: Stdio,
    /// Host folders the guest may open.
    pub dirs: Vec<DirMount>,
    /// The environment variables the guest sees.
    pub env: Vec<(String, String)>,
    /// The command line `wasi:cli/environment` gives: the program's name
    /// first, then its arguments.
    pub args: Vec<String>,
    /// What the guest may reach with `wasi:sockets` (and whether it may
    /// resolve names).
    pub network: crate::net_policy::NetworkAccess,
    /// Where the guest may send HTTP requests.
    pub http: crate::http_policy::HttpAccess,
    /// Counts of the WASI 0.3 `wait-until`s the instances made with these
    /// options start (shared by clones).
    pub waits: std::sync::Arc<crate::clock::WaitCounters>,
}

impl WasiOptions {
    /// Options that capture both output streams, for tests.
    pub fn captured() -> WasiOptions {
        WasiOptions {
            stdout: Stdio::Capture,
            stderr: Stdio::Capture,
            ..WasiOptions::default()
        }
    }
}

/// The data of every store the harness creates.
pub struct HostState {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) stdout: Output,
    pub(crate) stderr: Output,
    pub(crate) polls: crate::poll_counters::PollCounters,
    pub(crate) wasync: wasync_host::WasyncCtx,
    pub(crate) http: wasmtime_wasi_http::WasiHttpCtx,
    pub(crate) http_policy: crate::http_policy::Policy,
    /// The instance's monotonic clock, shared with its WASI context.
    pub(crate) clock: crate::clock::Clock,
    pub(crate) waits: std::sync::Arc<crate::clock::WaitCounters>,
}

impl HostState {
    /// A store's state with the given capabilities; fails on a folder that cannot be opened.
    pub fn new(opts: &WasiOptions) -> Result<HostState> {
        let stdout = Output::stdout(opts.stdout);
        let stderr = Output::stderr(opts.stderr);
        let clock = crate::clock::Clock::new();
        let mut b = WasiCtxBuilder::new();
        b.stdout(stdout.clone())
            .stderr(stderr.clone())
            .monotonic_clock(clock.clone());
        match &opts.stdin {
            Stdin::Empty => {}
            Stdin::Bytes(bytes) => {
                b.stdin(wasmtime_wasi::p2::pipe::MemoryInputPipe::new(bytes.clone()));
            }
            Stdin::Inherit => {
                b.inherit_stdin();
            }
        }
        b.args(&opts.args);
        for (k, v) in &opts.env {
            b.env(k, v);
        }
        for dir in &opts.dirs {
            let perms = if dir.read_only {
                FsPerms::ReadOnly
            } else {
                FsPerms::ReadWrite
            };
            b.preopened_dir(&dir.host, &dir.guest, perms).map_err(|e| {
                Error::Config(format!(
                    "cannot preopen {} as `{}`: {e}",
                    dir.host.display(),
                    dir.guest
                ))
            })?;
        }
        crate::net_policy::apply(opts.network, &mut b);
        Ok(HostState {
            wasi: b.build(),
            table: ResourceTable::new(),
            stdout,
            stderr,
            polls: Default::default(),
            wasync: Default::default(),
            http: wasmtime_wasi_http::WasiHttpCtx::new(),
            http_policy: crate::http_policy::Policy(opts.http),
            clock,
            waits: opts.waits.clone(),
        })
    }

    /// What the guests of this store asked of `wasi:io/poll`.
    pub fn poll_counters(&self) -> crate::poll_counters::PollCounters {
        self.polls
    }

    /// The resource table, shared by WASI and the wasync ABI.
    pub fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }
}

impl wasmtime_wasi_http::WasiHttpView for HostState {
    fn http(&mut self) -> wasmtime_wasi_http::WasiHttpCtxView<'_> {
        wasmtime_wasi_http::WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.http_policy,
        }
    }
}

impl wasync_host::WasyncView for HostState {
    fn wasync(&mut self) -> wasync_host::WasyncCtxView<'_> {
        wasync_host::WasyncCtxView {
            ctx: &mut self.wasync,
            table: &mut self.table,
        }
    }

    fn panic_message(&self) -> Option<String> {
        crate::output::panic_message(&self.stderr.text())
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_mounts_parse_like_wasmtime_run() {
        let m: DirMount = "data::/words::ro".parse().unwrap();
        assert_eq!(m.host, PathBuf::from("data"));
        assert_eq!(m.guest, "/words");
        assert!(m.read_only);
        let m: DirMount = "data".parse().unwrap();
        assert_eq!(m.guest, "data");
        assert!(!m.read_only);
        assert!("::x".parse::<DirMount>().is_err());
        assert!("a::b::rw".parse::<DirMount>().is_err());
    }

    #[test]
    fn env_needs_a_key() {
        assert_eq!(parse_env("A=b=c").unwrap(), ("A".into(), "b=c".into()));
        assert!(parse_env("=x").is_err());
        assert!(parse_env("novalue").is_err());
    }
}
