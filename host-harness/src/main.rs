//! The `wasync-harness` command line. Every subcommand is a thin layer over
//! the library; errors print one line naming the cause and exit non-zero.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use wasync_harness::{DirMount, Harness, HarnessConfig, WasiOptions, parse_env, results_to_wave};

/// Load, call and inspect WebAssembly components built with wasync.
#[derive(Parser)]
#[command(name = "wasync-harness", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Call one export of a component and print the result in WAVE.
    ///
    /// Example: wasync-harness call hello.wasm 'greet("world")'
    Call(CallArgs),
    /// Build every guest, then call the hello guest: the quickest proof
    /// that the toolchain, the guest pipeline and the harness work.
    Demo,
    /// Run benchmarks side by side and print a table (or JSON lines).
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Print a component's imports and exports as WIT.
    Wit {
        /// The component (.wasm) to inspect.
        component: PathBuf,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// The guest runtime on wasync against the same program on wstd 0.6.8:
    /// timer storm, idle-timer overhead, spawn and join, poll-turn cost.
    Runtime {
        /// Print one JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
        /// Small sizes only, to check that everything runs.
        #[arg(long)]
        quick: bool,
        /// Seconds a timer storm may run before it counts as not finished.
        #[arg(long, default_value_t = 30)]
        storm_limit: u64,
    },
}

/// WASI capabilities and engine settings shared by the subcommands that run
/// guests. A guest gets nothing that is not asked for here.
#[derive(Args)]
struct RunOptions {
    /// Preopen a host directory: HOST::GUEST, HOST::GUEST::ro (read-only),
    /// or DIR (same path on both sides). Repeatable.
    #[arg(long = "dir", value_name = "HOST::GUEST", value_parser = parse_dir)]
    dirs: Vec<DirMount>,
    /// Set an environment variable for the guest. Repeatable.
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
    env: Vec<(String, String)>,
    /// Let the guest open sockets and resolve host names.
    #[arg(long)]
    network: bool,
    /// Turn on wasmtime's `concurrency_support` (slower for mode S and C
    /// calls; see docs/benchmarks.md).
    #[arg(long)]
    concurrency_support: bool,
}

impl RunOptions {
    fn wasi(&self) -> WasiOptions {
        WasiOptions {
            dirs: self.dirs.clone(),
            env: self.env.clone(),
            network: self.network,
            ..WasiOptions::default()
        }
    }

    fn harness(&self) -> wasync_harness::Result<Harness> {
        Harness::with_config(HarnessConfig {
            concurrency_support: self.concurrency_support,
            ..HarnessConfig::default()
        })
    }
}

#[derive(Args)]
struct CallArgs {
    /// The component (.wasm) to call.
    component: PathBuf,
    /// The call in WAVE syntax: `name(arg, ...)`. Root functions are named
    /// plainly, interface functions as `ns:pkg/iface#name`.
    call: String,
    /// Print the wasm backtrace when the guest traps.
    #[arg(long)]
    backtrace: bool,
    #[command(flatten)]
    run: RunOptions,
}

fn parse_dir(s: &str) -> Result<DirMount, String> {
    s.parse()
}

async fn call(args: CallArgs) -> wasync_harness::Result<String> {
    let harness = args.run.harness()?;
    let loaded = harness.load(&args.component)?;
    let mut inst = harness.instantiate(&loaded, &args.run.wasi()).await?;
    let results = inst.call_wave(&args.call).await?;
    results_to_wave(&results)
}

async fn demo() -> wasync_harness::Result<String> {
    eprintln!("building the guests (the first run installs the wasm targets and cargo-component)");
    let mut pipeline = wasync_build::Pipeline::for_this_repo();
    pipeline.progress = wasync_build::Progress::Lines;
    let artifacts = pipeline
        .run()
        .map_err(|e| wasync_harness::Error::Config(format!("the guest build failed: {e}")))?;
    let hello = artifacts
        .iter()
        .find(|a| a.name == "hello")
        .ok_or_else(|| {
            wasync_harness::Error::Config("the pipeline built no `hello` guest".into())
        })?;
    let harness = Harness::new()?;
    let loaded = harness.load(&hello.path)?;
    let mut inst = harness
        .instantiate(&loaded, &WasiOptions::default())
        .await?;
    let call = r#"greet("world")"#;
    let results = inst.call_wave(call).await?;
    Ok(format!(
        "{} {call} = {}",
        hello.path.display(),
        results_to_wave(&results)?
    ))
}

async fn run(cli: Cli) -> wasync_harness::Result<Option<String>> {
    match cli.command {
        Command::Demo => demo().await.map(Some),
        Command::Call(args) => call(args).await.map(Some),
        Command::Bench(BenchCommand::Runtime {
            json,
            quick,
            storm_limit,
        }) => {
            let opts = wasync_harness::bench::runtime::Options {
                json,
                quick,
                storm_limit: std::time::Duration::from_secs(storm_limit),
            };
            wasync_harness::bench::runtime::run(&opts).await.map(|_| None)
        }
        Command::Wit { component } => wasync_harness::wit::component_wit(&component).map(Some),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let backtrace = matches!(&cli.command, Command::Call(a) if a.backtrace);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(Some(out)) => {
            if !out.is_empty() {
                println!("{}", out.trim_end());
            }
            ExitCode::SUCCESS
        }
        Ok(None) => ExitCode::SUCCESS,
        Err(e) => {
            if backtrace {
                eprintln!("error: {e}");
            } else {
                eprintln!("error: {}", e.headline());
            }
            ExitCode::FAILURE
        }
    }
}
