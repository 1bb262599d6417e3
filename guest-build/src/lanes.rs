//! Compiling the stale guests: one lane per mode, the lanes side by side.
//!
//! Ground rules:
//! - A lane builds one mode. Lanes run at the same time, each in its own
//!   cargo target folder (`<target>/mode-s`, `mode-c`, …): the modes
//!   enable different features of the same crates, so in one folder they
//!   would only take turns on cargo's lock. A third mode is a third lane,
//!   not a third pass.
//! - Within a lane, one cargo invocation per tool (plain cargo, then
//!   cargo-component) builds every guest of the lane, fresh ones included:
//!   cargo compiles them side by side, skips what is up to date, and the
//!   invocation's feature set is the same whichever guest changed, so a
//!   fresh guest's component is exactly what a rebuild would give. Only
//!   stale components are copied and stamped.
//! - cargo-component builds hold a lock file while they run: they write
//!   the lowered world (`wit-lowered/`) and `src/bindings.rs` into the
//!   guest's own folder, which every mode and every profile shares.
//! - Under cargo (the pipeline in a build script) the nested cargos share
//!   the outer build's jobserver (`CARGO_MAKEFLAGS`), so the lanes never
//!   run more jobs than the outer build allows. Elsewhere each lane gets
//!   an equal share of the cores (or of `CARGO_BUILD_JOBS`).

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::{BuildError, GuestSpec, Mode, Pipeline, Progress, tools};

/// One guest in one mode, and whether its stamp says it is up to date.
pub(crate) struct Job<'g> {
    pub guest: &'g GuestSpec,
    pub mode: Mode,
    /// The artifact's name (`hello`, `mode-tests-c`).
    pub name: String,
    /// The hash of its inputs, for its stamp.
    pub inputs: String,
    pub fresh: bool,
}

/// Builds every lane that holds a stale job, the lanes at the same time.
/// The first failing lane's error (in mode order) is returned once every
/// lane has finished.
pub(crate) fn build_stale(p: &Pipeline, jobs: &[Job<'_>]) -> Result<(), BuildError> {
    let mut modes: Vec<Mode> = Vec::new();
    for job in jobs.iter().filter(|j| !j.fresh) {
        if !modes.contains(&job.mode) {
            modes.push(job.mode);
        }
    }
    let cores = lane_jobs(modes.len());
    std::thread::scope(|s| {
        let lanes: Vec<_> = modes
            .iter()
            .map(|&mode| {
                let lane: Vec<&Job<'_>> = jobs.iter().filter(|j| j.mode == mode).collect();
                s.spawn(move || build_lane(p, mode, &lane, cores))
            })
            .collect();
        let results: Vec<Result<(), BuildError>> = lanes
            .into_iter()
            .map(|lane| {
                lane.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect();
        results.into_iter().collect()
    })
}

/// `--jobs` for each of `lanes` nested cargos, or `None` when they share an
/// inherited jobserver.
fn lane_jobs(lanes: usize) -> Option<usize> {
    if std::env::var_os("CARGO_MAKEFLAGS").is_some() {
        return None;
    }
    let total = std::env::var("CARGO_BUILD_JOBS")
        .ok()
        .and_then(|j| j.parse::<usize>().ok())
        .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()))
        .unwrap_or(1);
    Some((total / lanes.max(1)).max(1))
}

/// Builds one mode: the plain guests in one invocation, then the
/// cargo-component guests in another, each only if one of its guests is
/// stale.
fn build_lane(
    p: &Pipeline,
    mode: Mode,
    lane: &[&Job<'_>],
    cores: Option<usize>,
) -> Result<(), BuildError> {
    let (cc, plain): (Vec<&Job<'_>>, Vec<&Job<'_>>) = lane
        .iter()
        .partition(|j| crate::uses_cargo_component(j.guest, mode));
    for (group, cargo_component) in [(plain, false), (cc, true)] {
        if group.iter().all(|j| j.fresh) {
            continue;
        }
        let stale: Vec<&str> = group
            .iter()
            .filter(|j| !j.fresh)
            .map(|j| j.name.as_str())
            .collect();
        p.say(format_args!(
            "building guests {} ({} profile)",
            stale.join(", "),
            p.profile
        ));
        let _lock = if cargo_component {
            let lock = cargo_component_lock(p)?;
            for job in &group {
                if let Some(world) = &job.guest.lower_world {
                    p.write_lowered(job.guest, world, mode)?;
                }
            }
            Some(lock)
        } else {
            None
        };
        let out_dir = compile(p, mode, cargo_component, &group, cores)?;
        for job in group.iter().filter(|j| !j.fresh) {
            install(p, job, &out_dir)?;
        }
    }
    Ok(())
}

/// The folder, under the pipeline's target folder, where cargo builds
/// `mode`'s guests.
fn lane_target_dir(p: &Pipeline, mode: Mode) -> PathBuf {
    p.target_dir
        .join(format!("mode-{}", mode.letter().to_lowercase()))
}

/// The cargo feature a guest enables to build in `mode`, if any.
fn mode_feature(mode: Mode) -> Option<&'static str> {
    match mode {
        Mode::Standard => None,
        Mode::Concurrent => Some("concurrent"),
        Mode::Native => Some("native"),
    }
}

/// Runs one cargo invocation for `group` and returns the folder cargo
/// wrote the components to.
fn compile(
    p: &Pipeline,
    mode: Mode,
    cargo_component: bool,
    group: &[&Job<'_>],
    cores: Option<usize>,
) -> Result<PathBuf, BuildError> {
    let mut cmd = tools::cargo();
    let triple = if cargo_component {
        cmd.args(["component", "build"]);
        "wasm32-wasip1"
    } else {
        cmd.args(["build", "--target", "wasm32-wasip2"]);
        "wasm32-wasip2"
    };
    let target_dir = lane_target_dir(p, mode);
    cmd.args(["--profile", p.profile.cargo_profile()])
        .arg("--manifest-path")
        .arg(p.guests_root().join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir);
    for job in group {
        cmd.args(["--package", &job.guest.name]);
    }
    if let Some(feature) = mode_feature(mode) {
        let features: Vec<String> = group
            .iter()
            .map(|j| format!("{}/{feature}", j.guest.name))
            .collect();
        cmd.arg("--features").arg(features.join(","));
    }
    if let Some(n) = cores {
        cmd.arg("--jobs").arg(n.to_string());
    }
    if p.progress == Progress::Quiet {
        cmd.arg("--quiet");
    }
    let output = tools::run_captured(&mut cmd)?;
    if !output.status.success() {
        let output = tools::output_text(&output);
        return Err(BuildError::Guest {
            guest: failed_guest(&output, group),
            mode,
            output,
        });
    }
    Ok(target_dir.join(triple).join(p.profile.cargo_profile()))
}

/// The guest cargo names in "could not compile `name`", else every guest
/// of the invocation.
fn failed_guest(output: &str, group: &[&Job<'_>]) -> String {
    output
        .lines()
        .filter_map(|line| line.split("could not compile `").nth(1))
        .filter_map(|rest| rest.split('`').next())
        .find(|name| group.iter().any(|j| j.guest.name == *name))
        .map_or_else(
            || {
                let names: Vec<&str> = group.iter().map(|j| j.guest.name.as_str()).collect();
                names.join(", ")
            },
            str::to_owned,
        )
}

/// Copies a freshly built component to its place and writes its stamp.
/// The copy goes through a temporary file and a rename, so a test or a
/// benchmark that reads the component never sees half of one.
fn install(p: &Pipeline, job: &Job<'_>, out_dir: &Path) -> Result<(), BuildError> {
    let built = out_dir.join(job.guest.output_file());
    let dest = p.artifact_path(&job.name);
    let partial = dest.with_extension(format!("wasm.{}.partial", std::process::id()));
    let io = |path: &Path| {
        let path = path.to_owned();
        move |error| BuildError::Io { path, error }
    };
    std::fs::copy(&built, &partial).map_err(io(&built))?;
    std::fs::rename(&partial, &dest).map_err(io(&dest))?;
    let stamp = p.stamp_path(&job.name);
    std::fs::write(&stamp, &job.inputs).map_err(io(&stamp))
}

/// Takes the lock every cargo-component build holds; dropping the file
/// releases it.
fn cargo_component_lock(p: &Pipeline) -> Result<File, BuildError> {
    let path = p.target_dir.join("cargo-component.lock");
    let io = |error| BuildError::Io {
        path: path.clone(),
        error,
    };
    let file = File::create(&path).map_err(io)?;
    file.lock().map_err(io)?;
    Ok(file)
}
