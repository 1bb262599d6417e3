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
    /// Compose components statically with wac-graph (mode S): plug the
    /// exports of each PLUG into the imports of ROOT and write the result.
    Compose(ComposeArgs),
    /// Print the WIT of a world as a wasync mode lowers it.
    Lower(LowerArgs),
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
    /// The cost of one call in modes S and C next to a plain export, and
    /// overlapping calls into one instance in each mode.
    Calls {
        /// Print one JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
        /// Small sizes only, to check that everything runs.
        #[arg(long)]
        quick: bool,
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

#[derive(Args)]
struct ComposeArgs {
    /// The component whose imports get plugged.
    root: PathBuf,
    /// A component whose exports satisfy imports of ROOT: `IMPORT=PATH`
    /// plugs the import named IMPORT, `PATH` every import named like one of
    /// its exports. Repeatable.
    #[arg(long = "plug", value_name = "[IMPORT=]PATH", required = true)]
    plugs: Vec<wasync_harness::compose::Plug>,
    /// Treat ROOT and the plugs as a chain: ROOT imports what the first
    /// plug exports, which imports what the next exports, and so on.
    #[arg(long)]
    chain: bool,
    /// Where to write the composed component.
    #[arg(short, long, value_name = "OUT.wasm")]
    output: PathBuf,
}

#[derive(Args)]
struct LowerArgs {
    /// A WIT folder (with its dependencies in `deps/`).
    wit: PathBuf,
    /// The world to lower; may be omitted if the package has only one.
    #[arg(long)]
    world: Option<String>,
    /// S (standard) or C (concurrent).
    #[arg(long, value_parser = parse_mode)]
    mode: wasync_lower::Mode,
    /// Write the lowered package and its dependencies to this folder
    /// (the layout cargo-component reads) instead of printing.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

fn parse_mode(s: &str) -> Result<wasync_lower::Mode, String> {
    s.parse().map_err(|e: wasync_lower::UnknownMode| e.to_string())
}

fn lower(args: LowerArgs) -> wasync_harness::Result<Option<String>> {
    let repo_deps = wasync_build::Pipeline::for_this_repo().repo.join("wit").join("deps");
    let (resolve, lowering) =
        wasync_lower::load_and_lower(&args.wit, args.world.as_deref(), args.mode, &[repo_deps])
            .map_err(|e| wasync_harness::Error::Config(format!("{e:#}")))?;
    match args.out {
        Some(dir) => {
            wasync_lower::write_dir(&resolve, lowering.world, &dir)
                .map_err(|e| wasync_harness::Error::Config(format!("{e:#}")))?;
            Ok(None)
        }
        None => wasync_lower::print_world(&resolve, lowering.world)
            .map(Some)
            .map_err(|e| wasync_harness::Error::Config(format!("{e:#}"))),
    }
}

fn compose(args: ComposeArgs) -> wasync_harness::Result<Option<String>> {
    let bytes = if args.chain {
        let mut chain = vec![args.root.clone()];
        chain.extend(args.plugs.iter().map(|p| p.path.clone()));
        wasync_harness::compose::compose_chain(&chain)?
    } else {
        wasync_harness::compose::compose(&args.root, &args.plugs)?
    };
    std::fs::write(&args.output, &bytes).map_err(|source| wasync_harness::Error::Io {
        path: args.output.clone(),
        source,
    })?;
    Ok(Some(format!("wrote {} ({} bytes)", args.output.display(), bytes.len())))
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
        Command::Bench(BenchCommand::Calls { json, quick }) => {
            let opts = wasync_harness::bench::calls::Options { json, quick };
            wasync_harness::bench::calls::run(&opts).await.map(|_| None)
        }
        Command::Compose(args) => compose(args),
        Command::Lower(args) => lower(args),
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
