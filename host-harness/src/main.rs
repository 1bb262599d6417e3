//! The `wasync-harness` command line. Every subcommand is a thin layer over
//! the library; errors print one line naming the cause and exit non-zero.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use wasync_build::GuestProfile;
use wasync_harness::{
    DirMount, Harness, HarnessConfig, Limits, WasiOptions, limit_args, parse_call, parse_env,
    results_to_wave,
};

/// Load, call and inspect WebAssembly components built with wasync.
#[derive(Parser)]
#[command(name = "wasync-harness", version, about, long_about = None)]
struct Cli {
    /// How `demo` and `bench` build the guests: `release` (fully
    /// optimised, what the published figures use) or `test` (the quick
    /// build `cargo test` uses; its figures are not comparable).
    #[arg(long, global = true, default_value_t = GuestProfile::Release, value_name = "PROFILE")]
    guest_profile: GuestProfile,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Call one export of a component and print the result in WAVE.
    ///
    /// Example: wasync-harness call hello.wasm 'greet("world")'
    Call(CallArgs),
    /// Run a command component (one that exports `wasi:cli/run`, such as a
    /// `#[wasync::main]` binary) with this process's stdin, stdout and
    /// stderr, and exit with its status.
    ///
    /// Example: echo hello | wasync-harness run app.wasm -- --upper
    Run(RunArgs),
    /// Serve an HTTP component (a `#[wasync::http_service]`) on a local
    /// address, as `wasmtime serve`: a 0.2 proxy (exports
    /// `wasi:http/incoming-handler`, modes S and C) gets one instance per
    /// request; a 0.3 service (exports `wasi:http/handler@0.3`, mode N)
    /// shares an instance between up to 16 overlapping requests.
    ///
    /// Example: wasync-harness serve service.wasm --addr 127.0.0.1:8080
    Serve(ServeArgs),
    /// The autocomplete demo: build everything, start the HTTP source's
    /// server, and replay users typing into ONE autocomplete instance,
    /// composed statically (mode S) and host-mediated (mode C).
    Demo(DemoArgs),
    /// Run benchmarks side by side and print a table (or JSON lines).
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Compose components. Statically with wac-graph (mode S): plug the
    /// exports of each PLUG into the imports of ROOT and write the result
    /// with `-o`. Host-mediated (mode C) with `--concurrent`: instantiate
    /// the plugs and ROOT as mode C instances linked by the harness, and
    /// run the `--call`s into ROOT at once.
    Compose(ComposeArgs),
    /// Print the WIT of a world as a wasync mode lowers it.
    Lower(LowerArgs),
    /// Write a new component crate that uses wasync: Cargo.toml, wit/ with
    /// an `async func`, and src/lib.rs with `generate!` and
    /// `#[async_export]`. It builds as it is, in mode S and mode C.
    New(NewArgs),
    /// Print a component's imports and exports as WIT.
    Wit {
        /// The component (.wasm) to inspect.
        component: PathBuf,
    },
}

#[derive(Args)]
struct DemoArgs {
    /// Users typing at once.
    #[arg(long, default_value_t = 20)]
    users: usize,
    /// Keystrokes per user (each asks for completions).
    #[arg(long, default_value_t = 4)]
    keystrokes: usize,
    /// Suggestions per answer.
    #[arg(long, default_value_t = 5)]
    limit: u32,
    /// How long the autocomplete component waits for its sources.
    #[arg(long, default_value_t = 150)]
    timeout_ms: u64,
    /// How late the slow source answers.
    #[arg(long, default_value_t = 400)]
    slow_ms: u64,
    /// The HTTP source's latency, plus up to `--jitter-ms` more.
    #[arg(long, default_value_t = 20)]
    latency_ms: u64,
    #[arg(long, default_value_t = 30)]
    jitter_ms: u64,
    /// Share of the HTTP source's requests that fail with a 500.
    #[arg(long, default_value_t = 0.05)]
    failure_rate: f64,
    /// Seed of the typing script and the server's draws.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Where to write the timeline SVG.
    #[arg(long, default_value = "target/demo-timeline.svg")]
    svg: PathBuf,
}

#[derive(Subcommand)]
enum BenchCommand {
    /// The guest runtime on wasync against the same program on wstd 0.6.8:
    /// timer storm, idle-timer overhead, spawn and join, poll-turn cost.
    Runtime(StormArgs),
    /// 100 concurrent `complete` calls: one mode C instance, one mode N
    /// instance, one mode S instance, and 100 mode S instances (one per
    /// request).
    Autocomplete {
        /// Print one JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
        /// Fewer calls, to check that everything runs.
        #[arg(long)]
        quick: bool,
        #[command(flatten)]
        track: Track,
    },
    /// The autocomplete served over HTTP on loopback: modes S and N by the
    /// harness's server and by the stock `wasmtime serve` if installed: a
    /// burst of concurrent requests from a Rust client;
    /// p50/p99 latency, requests per second, and instances that served them.
    Http {
        /// Print one JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
        /// Requests in the burst.
        #[arg(long, default_value_t = 200)]
        requests: usize,
        /// Connections sending at once.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        #[command(flatten)]
        track: Track,
    },
    /// A long run of mode C calls with random sleeps, cancellations and
    /// compositions: memory after warm-up, the host's table and the
    /// guests' runtimes must end where they started.
    Soak {
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
        /// 5,000 calls, to check that everything runs.
        #[arg(long)]
        quick: bool,
        /// Calls to make (1,000,000 unless only --seconds is given).
        #[arg(long, value_parser = limit_args::parse_count)]
        calls: Option<u64>,
        /// Stop after this many seconds (with --calls, whichever comes
        /// first).
        #[arg(long, value_parser = limit_args::parse_count)]
        seconds: Option<u64>,
        /// Calls in flight at once.
        #[arg(long, default_value_t = 256)]
        concurrency: usize,
        /// Seed of the mix of calls.
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
    /// The timer storm as an async export: wasync's mode N next to bare
    /// wit-bindgen 0.63 (one `wait-until` per timer), and mode C.
    Timers(StormArgs),
    /// One throughput run of `bench calls` (`calls` overlapping
    /// `sleep-for` calls into one instance of WASM), measured in this
    /// process; `bench calls` runs each in a process of its own, so that
    /// each has its own peak memory.
    #[command(hide = true)]
    Overlap {
        wasm: PathBuf,
        #[arg(long)]
        calls: u32,
        #[arg(long)]
        sleep_ms: u32,
    },
    /// The cost of one call in modes S, C and N next to a plain export and
    /// to bare wit-bindgen, and overlapping calls into one instance in each
    /// mode.
    Calls {
        /// Print one JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
        /// Small sizes only, to check that everything runs.
        #[arg(long)]
        quick: bool,
        #[command(flatten)]
        track: Track,
    },
}

/// The flags of the benchmarks that run timer storms (`runtime`, `timers`).
#[derive(Args)]
struct StormArgs {
    /// Print one JSON object per line instead of a table.
    #[arg(long)]
    json: bool,
    /// Small sizes only, to check that everything runs.
    #[arg(long)]
    quick: bool,
    /// Seconds a timer storm may run before it counts as not finished.
    #[arg(long, default_value_t = 30)]
    storm_limit: u64,
    #[command(flatten)]
    track: Track,
}

impl StormArgs {
    fn options(&self, guests: GuestProfile) -> wasync_harness::bench::runtime::Options {
        wasync_harness::bench::runtime::Options {
            json: self.json,
            quick: self.quick,
            storm_limit: std::time::Duration::from_secs(self.storm_limit),
            guests,
        }
    }
}

/// Regression tracking, for every benchmark.
#[derive(Args)]
struct Track {
    /// Store this run's rows (JSON lines, after a line describing the
    /// machine) in FILE.
    #[arg(long, value_name = "FILE")]
    save: Option<PathBuf>,
    /// Print each figure next to the same figure in a stored run, as a
    /// ratio, and flag those worse by more than `--threshold`.
    #[arg(long, value_name = "FILE")]
    baseline: Option<PathBuf>,
    /// How much worse a figure may be than the baseline before it is
    /// flagged (1.25 = 25% worse).
    #[arg(long, default_value_t = wasync_harness::bench::track::DEFAULT_THRESHOLD, value_parser = parse_threshold)]
    threshold: f64,
}

fn parse_threshold(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(t) if t.is_finite() && t >= 1.0 => Ok(t),
        _ => Err(format!(
            "`{s}`: expected a factor of at least 1, such as 1.25"
        )),
    }
}

impl Track {
    /// Saves and compares `rows` of bench `name` as asked. With `--json`
    /// the comparison goes to stderr, so stdout stays JSON lines.
    fn apply(
        &self,
        name: &str,
        json: bool,
        rows: &[serde_json::Value],
    ) -> wasync_harness::Result<Option<String>> {
        use wasync_harness::bench::track;
        if let Some(path) = &self.save {
            track::save(path, name, rows)?;
        }
        let Some(path) = &self.baseline else {
            return Ok(None);
        };
        let base = track::load(path)?;
        let compared = track::compare(rows, &base, self.threshold);
        let report = track::report(&compared, self.threshold);
        if json {
            eprintln!("{report}");
            return Ok(None);
        }
        Ok(Some(report))
    }
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
    /// Let the guest open sockets and resolve host names: `--network` (or
    /// `--network any`) for every address, `--network loopback` for
    /// loopback addresses only.
    #[arg(long, value_name = "WHERE", num_args = 0..=1, default_missing_value = "any")]
    network: Option<wasync_harness::NetworkAccess>,
    /// Let the guest send HTTP requests (wasi:http) to loopback addresses.
    #[arg(long)]
    http_loopback: bool,
    /// Turn on wasmtime's `concurrency_support` (slower for mode S and C
    /// calls; see docs/benchmarks.md).
    #[arg(long)]
    concurrency_support: bool,
    #[command(flatten)]
    limits: LimitArgs,
}

/// What each instance may use. A guest that goes over a limit is stopped
/// with an error naming it; the host and other instances carry on.
#[derive(Args)]
struct LimitArgs {
    /// The most memory an instance's linear memory may grow to: 65536,
    /// 512KiB, 64MiB, 1GiB.
    #[arg(long, value_name = "SIZE", value_parser = limit_args::parse_size)]
    max_memory: Option<usize>,
    /// The longest one call (in mode C, one entry into the guest) may run:
    /// 500ms, 2s, 1m. A mode C call still in flight then is cancelled.
    #[arg(long, value_name = "DURATION", value_parser = limit_args::parse_duration)]
    call_timeout: Option<Duration>,
    /// The most calls in flight in one mode C instance; one more is refused.
    #[arg(long, value_name = "N", value_parser = limit_args::parse_count)]
    max_calls: Option<u64>,
    /// The fuel (about one unit per wasm instruction) one call (in mode C,
    /// one entry) may burn.
    #[arg(long, value_name = "N", value_parser = limit_args::parse_count)]
    fuel: Option<u64>,
}

impl LimitArgs {
    fn limits(&self) -> Limits {
        Limits {
            max_memory: self.max_memory,
            call_timeout: self.call_timeout,
            max_calls: self
                .max_calls
                .map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
            fuel: self.fuel,
        }
    }
}

impl RunOptions {
    fn wasi(&self) -> WasiOptions {
        WasiOptions {
            dirs: self.dirs.clone(),
            env: self.env.clone(),
            network: self.network.unwrap_or_default(),
            http: if self.http_loopback {
                wasync_harness::HttpAccess::Loopback
            } else {
                wasync_harness::HttpAccess::None
            },
            ..WasiOptions::default()
        }
    }

    fn harness(&self) -> wasync_harness::Result<Harness> {
        Harness::with_config(HarnessConfig {
            concurrency_support: self.concurrency_support,
            limits: self.limits.limits(),
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
    /// Make the call N times in a row on the one instance, and print the
    /// last result: a loop for profilers (`perf`, `valgrind
    /// --tool=callgrind`), whose cost per call is the difference between
    /// two runs' counts divided by the difference in N. `call` runs its
    /// host on one thread, as `bench calls` does.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..))]
    repeat: u32,
    #[command(flatten)]
    run: RunOptions,
}

#[derive(Args)]
struct RunArgs {
    /// The command component (.wasm).
    component: PathBuf,
    /// Arguments for the command (after `--`).
    #[arg(last = true)]
    args: Vec<String>,
    #[command(flatten)]
    run: RunOptions,
}

#[derive(Args)]
struct ServeArgs {
    /// The HTTP component (.wasm): a 0.2 proxy or a 0.3 service.
    component: PathBuf,
    /// Where to listen (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: std::net::SocketAddr,
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
    /// Where to write the composed component (static composition).
    #[arg(
        short,
        long,
        value_name = "OUT.wasm",
        required_unless_present = "concurrent"
    )]
    output: Option<PathBuf>,
    /// Link the components in a mode C host instead, and run `--call`s.
    #[arg(long, requires = "calls")]
    concurrent: bool,
    /// A call into ROOT, in WAVE (`iface#f(args)`); all run at once.
    /// Repeatable; needs `--concurrent`.
    #[arg(long = "call", value_name = "CALL", requires = "concurrent")]
    calls: Vec<String>,
    /// Write the calls' trace (start, end, instance) as JSON to this file.
    #[arg(long, value_name = "FILE", requires = "concurrent")]
    trace: Option<PathBuf>,
    #[command(flatten)]
    run: RunOptions,
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

#[derive(Args)]
struct NewArgs {
    /// The crate's name (lowercase letters, digits and dashes); also its
    /// WIT world's.
    name: String,
    /// Where to write it (default: a folder named NAME here).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Depend on wasync from this git repository (default: the repository
    /// this harness was built from).
    #[arg(long, value_name = "URL", conflicts_with = "wasync_path")]
    wasync_git: Option<String>,
    /// With `--wasync-git`: the branch, tag or commit to use.
    #[arg(long, value_name = "REV", requires = "wasync_git")]
    wasync_rev: Option<String>,
    /// Depend on a local checkout of wasync instead (its root or `sdk/`).
    #[arg(long, value_name = "DIR")]
    wasync_path: Option<PathBuf>,
}

fn new_crate(args: NewArgs) -> wasync_harness::Result<String> {
    use wasync_harness::scaffold::{WasyncSource, new_crate};
    let source = match (args.wasync_path, args.wasync_git) {
        (Some(path), _) => WasyncSource::Path(path),
        (None, Some(url)) => WasyncSource::Git {
            url,
            rev: args.wasync_rev,
        },
        (None, None) => WasyncSource::upstream(),
    };
    let dir = args.dir.unwrap_or_else(|| PathBuf::from(&args.name));
    new_crate(&args.name, &dir, &source)?;
    Ok(format!(
        "wrote {dir}\nbuild it: cd {dir} && cargo build --release --target wasm32-wasip2 [--features concurrent]",
        dir = dir.display()
    ))
}

fn parse_mode(s: &str) -> Result<wasync_lower::Mode, String> {
    s.parse()
        .map_err(|e: wasync_lower::UnknownMode| e.to_string())
}

fn lower(args: LowerArgs) -> wasync_harness::Result<Option<String>> {
    let (mut resolve, lowering) =
        wasync_lower::load_and_lower(&args.wit, args.world.as_deref(), args.mode)
            .map_err(|e| wasync_harness::Error::Config(format!("{e:#}")))?;
    match args.out {
        Some(dir) => {
            // The same dependency folders in every mode, so that one
            // cargo-component manifest serves them all.
            wasync_lower::add_abi(&mut resolve)
                .map_err(|e| wasync_harness::Error::Config(format!("{e:#}")))?;
            wasync_lower::write_dir(&resolve, lowering.world, &dir)
                .map_err(|e| wasync_harness::Error::Config(format!("{e:#}")))?;
            Ok(None)
        }
        None => wasync_lower::print_world(&resolve, lowering.world)
            .map(Some)
            .map_err(|e| wasync_harness::Error::Config(format!("{e:#}"))),
    }
}

async fn compose_concurrent(args: ComposeArgs) -> wasync_harness::Result<Option<String>> {
    use wasync_harness::concurrent::InstanceId;
    let harness = args.run.harness()?;
    let mut host = harness.concurrent(&args.run.wasi())?;
    let name = |path: &std::path::Path| {
        path.file_stem().map_or_else(
            || path.display().to_string(),
            |s| s.to_string_lossy().into_owned(),
        )
    };
    // Targets go in before the instances that link to them.
    let mut root_links: Vec<(Option<&str>, InstanceId)> = Vec::new();
    if args.chain {
        for plug in args.plugs.iter().rev() {
            let loaded = harness.compile(&plug.path)?;
            let id = host
                .add_plugged(&name(&plug.path), &loaded, &root_links)
                .await?;
            root_links = vec![(plug.import.as_deref(), id)];
        }
    } else {
        for plug in &args.plugs {
            let loaded = harness.compile(&plug.path)?;
            let id = host.add_plugged(&name(&plug.path), &loaded, &[]).await?;
            root_links.push((plug.import.as_deref(), id));
        }
    }
    let root_loaded = harness.compile(&args.root)?;
    let root = host
        .add_plugged(&name(&args.root), &root_loaded, &root_links)
        .await?;
    let driver = host.start();
    driver.record_trace(args.trace.is_some());
    let calls = args
        .calls
        .iter()
        .map(|c| driver.call_concurrent_wave(root, c))
        .collect::<wasync_harness::Result<Vec<_>>>()?;
    let mut out = String::new();
    for (call, result) in args
        .calls
        .iter()
        .zip(futures::future::join_all(calls).await)
    {
        out.push_str(&format!("{call} = {}\n", results_to_wave(&result?)?));
    }
    if let Some(path) = &args.trace {
        let json = wasync_harness::concurrent::trace_json(&driver.trace());
        std::fs::write(path, json).map_err(|source| wasync_harness::Error::Io {
            path: path.clone(),
            source,
        })?;
    }
    Ok(Some(out))
}

async fn compose(args: ComposeArgs) -> wasync_harness::Result<Option<String>> {
    if args.concurrent {
        return compose_concurrent(args).await;
    }
    let Some(output) = args.output.clone() else {
        return Err(wasync_harness::Error::Config(
            "static composition needs `-o OUT.wasm`".into(),
        ));
    };
    let bytes = if args.chain {
        let mut chain = vec![args.root.clone()];
        chain.extend(args.plugs.iter().map(|p| p.path.clone()));
        wasync_harness::compose::compose_chain(&chain)?
    } else {
        wasync_harness::compose::compose(&args.root, &args.plugs)?
    };
    std::fs::write(&output, &bytes).map_err(|source| wasync_harness::Error::Io {
        path: output.clone(),
        source,
    })?;
    Ok(Some(format!(
        "wrote {} ({} bytes)",
        output.display(),
        bytes.len()
    )))
}

fn parse_dir(s: &str) -> Result<DirMount, String> {
    s.parse()
}

async fn call(args: CallArgs) -> wasync_harness::Result<String> {
    let harness = args.run.harness()?;
    let loaded = harness.compile(&args.component)?;
    // A mode C component needs a host that speaks the wasync ABI, and a
    // mode N one wasmtime's concurrency support: the same host runs both.
    if loaded.is_native() || wasync_harness::concurrent::speaks_wasync_abi(&harness, &loaded) {
        let mut host = harness.concurrent(&args.run.wasi())?;
        let id = host.add("component", &loaded, &[]).await?;
        let driver = host.start();
        // Parsed once: a profile of the loop shows the calls, not WAVE.
        let (name, params) = parse_call(&args.call, |f| driver.signature(id, f))?;
        let mut results = Vec::new();
        for _ in 0..args.repeat {
            results = driver.call_concurrent(id, &name, params.clone())?.await?;
        }
        return results_to_wave(&results);
    }
    harness.check_imports(&loaded)?;
    let mut inst = harness.instantiate(&loaded, &args.run.wasi()).await?;
    let (name, params) = inst.parse_call(&args.call)?;
    let mut results = Vec::new();
    for _ in 0..args.repeat {
        results = inst.call(&name, &params).await?;
    }
    results_to_wave(&results)
}

/// Runs a command with this process's stdio; returns its exit status.
async fn run_command(args: RunArgs) -> wasync_harness::Result<i32> {
    let harness = args.run.harness()?;
    let loaded = harness.load(&args.component)?;
    let name = args.component.file_name().map_or_else(
        || "command".to_owned(),
        |n| n.to_string_lossy().into_owned(),
    );
    let mut wasi = args.run.wasi();
    wasi.stdin = wasync_harness::Stdin::Inherit;
    wasi.args = std::iter::once(name).chain(args.args).collect();
    let exit = harness.run_command(&loaded, &wasi).await?;
    Ok(exit.status)
}

/// Serves an HTTP component until the process is stopped.
async fn serve(args: ServeArgs) -> wasync_harness::Result<Option<String>> {
    let harness = args.run.harness()?;
    let loaded = harness.load(&args.component)?;
    let server = harness.serve(&loaded, args.addr, &args.run.wasi()).await?;
    eprintln!("serving http://{}/ (stop with Ctrl-C)", server.addr());
    let _ = tokio::signal::ctrl_c().await;
    Ok(None)
}

async fn demo(args: DemoArgs, profile: GuestProfile) -> wasync_harness::Result<Option<String>> {
    eprintln!(
        "building the guests (the first run installs the wasm targets and cargo-component, and writes the word list)"
    );
    let guests = wasync_harness::guests::Guests::build(profile, true)?;
    let pipeline = guests.pipeline();
    let harness = Harness::new()?;
    let cfg = wasync_harness::demo::DemoConfig {
        users: args.users,
        keystrokes: args.keystrokes,
        limit: args.limit,
        timeout: Duration::from_millis(args.timeout_ms),
        slow_delay: Duration::from_millis(args.slow_ms),
        server: wasync_harness::suggest_server::ServerConfig {
            latency: Duration::from_millis(args.latency_ms),
            jitter: Duration::from_millis(args.jitter_ms),
            failure_rate: args.failure_rate,
            cut_rate: 0.0,
            seed: args.seed,
        },
        think: (Duration::from_millis(40), Duration::from_millis(120)),
        seed: args.seed,
        svg: args.svg,
    };
    wasync_harness::demo::run(
        &harness,
        &pipeline.wasm_dir(),
        &pipeline.word_list_dir(),
        &cfg,
    )
    .await?;
    Ok(None)
}

async fn run(cli: Cli) -> wasync_harness::Result<Option<String>> {
    let guests = cli.guest_profile;
    match cli.command {
        Command::Demo(args) => demo(args, guests).await,
        Command::Call(args) => call(args).await.map(Some),
        Command::Run(args) => {
            let status = run_command(args).await?;
            if status != 0 {
                // The guest's status is the process's; nothing to add.
                std::process::exit(status);
            }
            Ok(None)
        }
        Command::Serve(args) => serve(args).await,
        Command::Bench(BenchCommand::Runtime(args)) => {
            let rows = wasync_harness::bench::runtime::run(&args.options(guests)).await?;
            args.track.apply("runtime", args.json, &rows)
        }
        Command::Bench(BenchCommand::Timers(args)) => {
            let rows = wasync_harness::bench::timers::run(&args.options(guests)).await?;
            args.track.apply("timers", args.json, &rows)
        }
        Command::Bench(BenchCommand::Autocomplete { json, quick, track }) => {
            let opts = wasync_harness::bench::autocomplete::Options {
                json,
                quick,
                guests,
            };
            let rows = wasync_harness::bench::autocomplete::run(&opts).await?;
            track.apply("autocomplete", json, &rows)
        }
        Command::Bench(BenchCommand::Http {
            json,
            requests,
            concurrency,
            track,
        }) => {
            let opts = wasync_harness::bench::http::Options {
                json,
                requests,
                concurrency,
                guests,
            };
            let rows = wasync_harness::bench::http::run(&opts).await?;
            track.apply("http", json, &rows)
        }
        Command::Bench(BenchCommand::Overlap {
            wasm,
            calls,
            sleep_ms,
        }) => {
            let row = wasync_harness::bench::calls::overlap_here(&wasm, calls, sleep_ms).await?;
            Ok(Some(row.to_string()))
        }
        Command::Bench(BenchCommand::Soak {
            json,
            quick,
            calls,
            seconds,
            concurrency,
            seed,
        }) => {
            let opts = wasync_harness::bench::soak::Options {
                json,
                quick,
                guests,
                calls,
                seconds,
                concurrency: concurrency.max(1),
                seed,
            };
            wasync_harness::bench::soak::run(&opts).await.map(|_| None)
        }
        Command::Bench(BenchCommand::Calls { json, quick, track }) => {
            let opts = wasync_harness::bench::calls::Options {
                json,
                quick,
                guests,
            };
            let rows = wasync_harness::bench::calls::run(&opts).await?;
            track.apply("calls", json, &rows)
        }
        Command::Compose(args) => compose(args).await,
        Command::Lower(args) => lower(args),
        Command::New(args) => new_crate(args).map(Some),
        Command::Wit { component } => wasync_harness::wit::component_wit(&component).map(Some),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let backtrace = matches!(&cli.command, Command::Call(a) if a.backtrace);
    // Per-call overheads are measured on one thread, so that they show the
    // cost of a call rather than of waking a task on another thread. `call`
    // runs there too: one call gains nothing from a second thread, and
    // `call --repeat`, the profilers' loop, then counts what `bench calls`
    // times, whatever N.
    let one_thread = matches!(
        &cli.command,
        Command::Call(_)
            | Command::Bench(BenchCommand::Calls { .. } | BenchCommand::Overlap { .. })
    );
    let built = if one_thread {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
    };
    let rt = match built {
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
            // A failed guest build shows the compiler's own messages.
            if backtrace || wasync_harness::guests::is_build_error(&e) {
                eprintln!("error: {e}");
            } else {
                eprintln!("error: {}", e.headline());
            }
            ExitCode::FAILURE
        }
    }
}
