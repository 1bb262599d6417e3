//! Running commands: components that export `wasi:cli/run`, as
//! `wasmtime run` does, with stdin, arguments and environment from
//! [`WasiOptions`] and the exit status as the result.
//!
//! A mode N command (native WASI 0.3) exports the async
//! `wasi:cli/run@0.3`, called inside `run_concurrent`; as a Rust binary it
//! also exports the 0.2 `run` (std's `main`), which is not its entry point.
//! Like `wasmtime run`, the harness prefers 0.3 where the component has it.

use wasmtime::component::Component;
use wasmtime_wasi::I32Exit;
use wasmtime_wasi::p2::bindings::CommandPre;
use wasmtime_wasi::p3::bindings::CommandPre as CommandPreP3;
use wasync_host::{WasyncView, call_error, exported_funcs};

use crate::error::{Error, Result};
use crate::output::Output;
use crate::{Harness, Loaded, WasiOptions};

/// The export a command runs.
pub const RUN: &str = "wasi:cli/run#run";

/// How a command ended: its exit status, and what it wrote.
///
/// The status is 0 when `run` returned `ok`, 1 when it returned `err` (a
/// Rust `main` that returned `Err`), and the code it passed when it called
/// `wasi:cli/exit`. A trap is an error, not a status.
///
/// # Examples
///
/// ```no_run
/// # async fn demo() -> wasync_harness::Result<()> {
/// use wasync_harness::{Harness, Stdin, WasiOptions};
///
/// let harness = Harness::new()?;
/// let jobs = harness.load("jobs.wasm")?;
/// let opts = WasiOptions {
///     stdin: Stdin::Bytes(b"quick 10\nslow 50\n".to_vec()),
///     ..WasiOptions::captured()
/// };
/// let exit = harness.run_command(&jobs, &opts).await?;
/// assert!(exit.success());
/// print!("{}", exit.stdout.text());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Exit {
    /// The exit status.
    pub status: i32,
    /// The guest's stdout (all of it when captured).
    pub stdout: Output,
    /// The guest's stderr (all of it when captured).
    pub stderr: Output,
}

impl std::fmt::Debug for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exit")
            .field("status", &self.status)
            .field("stdout", &self.stdout.text())
            .field("stderr", &self.stderr.text())
            .finish()
    }
}

impl Exit {
    /// Whether the command succeeded (status 0).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(h: wasync_harness::Harness, c: wasync_harness::Loaded) -> wasync_harness::Result<()> {
    /// let exit = h.run_command(&c, &wasync_harness::WasiOptions::captured()).await?;
    /// if !exit.success() {
    ///     eprintln!("status {}: {}", exit.status, exit.stderr.text());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn success(&self) -> bool {
        self.status == 0
    }
}

/// Whether `component` is a command (exports `wasi:cli/run`).
///
/// # Examples
///
/// ```no_run
/// # fn demo() -> wasync_harness::Result<()> {
/// let harness = wasync_harness::Harness::new()?;
/// let loaded = harness.load("app.wasm")?;
/// let command = wasync_harness::command::is_command(loaded.component());
/// # Ok(()) }
/// ```
pub fn is_command(component: &Component) -> bool {
    exported_funcs(component.engine(), component)
        .iter()
        .any(|(name, _)| name.starts_with("wasi:cli/run") && name.ends_with("#run"))
}

/// A command instantiated and ready to run: its output can be read while
/// it runs (a server announcing its port, for example).
///
/// # Examples
///
/// ```no_run
/// # async fn demo(h: wasync_harness::Harness, c: wasync_harness::Loaded) -> wasync_harness::Result<()> {
/// let run = h.start_command(&c, &wasync_harness::WasiOptions::captured()).await?;
/// let stdout = run.stdout();
/// let running = tokio::spawn(run.wait());
/// while !stdout.text().contains("listening on") {
///     tokio::time::sleep(std::time::Duration::from_millis(10)).await;
/// }
/// // ... talk to it, then:
/// let exit = running.await.unwrap()?;
/// # Ok(()) }
/// ```
pub struct CommandRun {
    store: wasmtime::Store<crate::HostState>,
    command: Entry,
}

/// The `wasi:cli/run` a command is run through.
enum Entry {
    P2(wasmtime_wasi::p2::bindings::Command),
    /// Mode N: the async `wasi:cli/run@0.3`.
    P3(wasmtime_wasi::p3::bindings::Command),
}

impl CommandRun {
    /// The guest's stdout, readable while it runs.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn demo(run: &wasync_harness::CommandRun) {
    /// let so_far = run.stdout().text();
    /// # }
    /// ```
    pub fn stdout(&self) -> Output {
        self.store.data().stdout.clone()
    }

    /// The guest's stderr, readable while it runs.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn demo(run: &wasync_harness::CommandRun) {
    /// let warnings = run.stderr().text();
    /// # }
    /// ```
    pub fn stderr(&self) -> Output {
        self.store.data().stderr.clone()
    }

    /// Runs `wasi:cli/run` to the end.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(run: wasync_harness::CommandRun) -> wasync_harness::Result<()> {
    /// let exit = run.wait().await?;
    /// println!("exit status {}", exit.status);
    /// # Ok(()) }
    /// ```
    pub async fn wait(self) -> Result<Exit> {
        let CommandRun { mut store, command } = self;
        let exit = |store: &wasmtime::Store<crate::HostState>, status| Exit {
            status,
            stdout: store.data().stdout.clone(),
            stderr: store.data().stderr.clone(),
        };
        let outcome = match command {
            Entry::P2(command) => command.wasi_cli_run().call_run(&mut store).await,
            Entry::P3(command) => store
                .run_concurrent(async move |accessor| {
                    command.wasi_cli_run().call_run(accessor).await
                })
                .await
                .and_then(|outcome| outcome),
        };
        match outcome {
            Ok(Ok(())) => Ok(exit(&store, 0)),
            Ok(Err(())) => Ok(exit(&store, 1)),
            Err(e) => match e.downcast_ref::<I32Exit>() {
                Some(I32Exit(code)) => Ok(exit(&store, *code)),
                None => Err(call_error(RUN, e, store.data().panic_message())),
            },
        }
    }
}

impl Harness {
    /// Instantiates the command `loaded` with `opts`, ready to run. A
    /// component without `wasi:cli/run` is a `MissingExport` error.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo() -> wasync_harness::Result<()> {
    /// let harness = wasync_harness::Harness::new()?;
    /// let server = harness.load("echo-server.wasm")?;
    /// let run = harness.start_command(&server, &wasync_harness::WasiOptions::captured()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn start_command(&self, loaded: &Loaded, opts: &WasiOptions) -> Result<CommandRun> {
        if !is_command(loaded.component()) {
            return Err(self.missing_export(loaded, RUN));
        }
        let pre = self.instance_pre(loaded)?;
        let loading = |e| Error::Other(anyhow::Error::from(e).context("loading the command"));
        let mut store = self.new_store(loaded.component().engine(), opts)?;
        // A mode N component whose only `run` is 0.2 runs through that.
        let p3 = if loaded.is_native() {
            CommandPreP3::new(pre.clone()).ok()
        } else {
            None
        };
        let instantiated = match p3 {
            Some(p3) => p3.instantiate_async(&mut store).await.map(Entry::P3),
            None => CommandPre::new(pre)
                .map_err(loading)?
                .instantiate_async(&mut store)
                .await
                .map(Entry::P2),
        };
        match instantiated {
            Ok(command) => Ok(CommandRun { store, command }),
            Err(e) => Err(call_error(
                "<instantiation>",
                e,
                store.data().panic_message(),
            )),
        }
    }

    /// Runs the command `loaded` in a new instance with `opts`, to the end.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo() -> wasync_harness::Result<()> {
    /// let harness = wasync_harness::Harness::new()?;
    /// let app = harness.load("app.wasm")?;
    /// let opts = wasync_harness::WasiOptions {
    ///     args: vec!["app".into(), "--verbose".into()],
    ///     ..wasync_harness::WasiOptions::captured()
    /// };
    /// let exit = harness.run_command(&app, &opts).await?;
    /// # Ok(()) }
    /// ```
    pub async fn run_command(&self, loaded: &Loaded, opts: &WasiOptions) -> Result<Exit> {
        self.start_command(loaded, opts).await?.wait().await
    }
}
