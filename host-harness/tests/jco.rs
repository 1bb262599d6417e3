//! Mode S under jco in Node.js: a host nobody here wrote, with a WASI 0.2
//! of its own (`@bytecodealliance/preview2-shim`). The guest pipeline
//! installs jco (`test_programs::JCO`); this test transpiles the mode S
//! build of `mode-tests` to JavaScript, calls its async exports from Node
//! and checks that they answer as they do in the harness.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::LazyLock;

use wasync_harness::{Harness, WasiOptions, results_to_wave};

static HARNESS: LazyLock<Harness> = LazyLock::new(|| Harness::new().unwrap());

/// The calls, in the harness's WAVE and in JavaScript. Spawned tasks, a
/// timeout that gives up on one of them, a join, and 2,000 timers due
/// within 50 ms of each other, all on the one `wasi:io/poll` of the shim.
const CALLS: &[(&str, &str)] = &[
    (r#"echo("hi")"#, r#"slow.echo("hi")"#),
    ("sleep-for(30)", "slow.sleepFor(30)"),
    (
        "fan-out([300, 5, 10000, 30], 1000)",
        "slow.fanOut(new Uint32Array([300, 5, 10000, 30]), 1000)",
    ),
    ("storm(2000, 50)", "slow.storm(2000, 50)"),
];

/// The jco command, or a failure that says why the pipeline has none.
fn jco() -> PathBuf {
    match test_programs::JCO {
        Ok(jco) => PathBuf::from(jco),
        Err(why) => panic!("the guest pipeline could not install jco: {why}"),
    }
}

/// Transpiles `component` into a folder under jco's npm prefix, where the
/// generated module finds the WASI shim it imports.
fn transpile(component: &str, name: &str) -> PathBuf {
    let jco = jco();
    // <prefix>/node_modules/.bin/jco
    let prefix = jco.ancestors().nth(3).unwrap().to_path_buf();
    let out = prefix
        .join("out")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let done = Command::new(&jco)
        .args(["transpile", component, "--name", name, "--quiet", "-o"])
        .arg(&out)
        .output()
        .expect("run jco");
    assert!(
        done.status.success(),
        "jco transpile failed:\n{}",
        String::from_utf8_lossy(&done.stderr)
    );
    out
}

/// Renders a JavaScript value in WAVE, as the harness prints results:
/// records keep their field order, and jco's camelCase field names go back
/// to WIT's kebab-case.
const WAVE_JS: &str = r#"
const wave = (v) => {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v) || ArrayBuffer.isView(v)) return '[' + Array.from(v, wave).join(', ') + ']';
  return '{' + Object.entries(v)
    .map(([k, x]) => k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase()) + ': ' + wave(x))
    .join(', ') + '}';
};
"#;

/// Runs each JavaScript call in Node, one after another, and returns what
/// each gave, in WAVE.
fn in_node(dir: &Path, name: &str) -> Vec<String> {
    let mut script = format!("import {{ slow }} from './{name}.js';\n{WAVE_JS}");
    for (_, js) in CALLS {
        script.push_str(&format!("console.log(wave({js}));\n"));
    }
    let file = dir.join("calls.mjs");
    std::fs::write(&file, script).unwrap();
    let out = Command::new("node").arg(&file).output().expect("run node");
    assert!(
        out.status.success(),
        "node failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mode_s_component_answers_under_jco_in_node_as_in_the_harness() {
    let component = test_programs::MODE_TESTS;
    let loaded = HARNESS.load(component).unwrap();
    let mut inst = HARNESS
        .instantiate(&loaded, &WasiOptions::captured())
        .await
        .unwrap();
    let mut in_harness = Vec::new();
    for (wave, _) in CALLS {
        let call = format!("examples:wasync/slow#{wave}");
        in_harness.push(results_to_wave(&inst.call_wave(&call).await.unwrap()).unwrap());
    }
    // Not vacuous: the fan-out gave up on its 10 s task, and every timer
    // of the storm fired, none early.
    assert_eq!(
        in_harness[2],
        r#"{finished: [300, 5, 30], timed-out: 1, joined: "left+right"}"#
    );
    assert_eq!(in_harness[3], "{fired: 2000, early: 0}");

    let dir = transpile(component, "mode-tests");
    let in_jco = in_node(&dir, "mode-tests");
    assert_eq!(
        in_jco, in_harness,
        "jco in Node gives the harness's results"
    );
    std::fs::remove_dir_all(dir).unwrap();
}
