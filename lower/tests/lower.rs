//! The lowering, on WIT snapshots: each case lowers a small package in
//! every mode and compares the printed result with `snapshots/<case>-<mode>.wit`.
//! Set `UPDATE_SNAPSHOTS=1` to rewrite the files after an intended change,
//! then review the diff.

use std::path::PathBuf;

use wasync_lower::{Direction, Mode, add_abi, lower, print_world};
use wit_parser::Resolve;

fn lowered(source: &str, world: &str, mode: Mode) -> (String, wasync_lower::Lowering) {
    let mut resolve = Resolve::default();
    if mode == Mode::Concurrent {
        add_abi(&mut resolve).unwrap();
    }
    let pkg = resolve.push_source("case.wit", source).unwrap();
    let world = resolve.select_world(&[pkg], Some(world)).unwrap();
    let lowering = lower(&mut resolve, world, mode).unwrap();
    (print_world(&resolve, world).unwrap(), lowering)
}

fn snapshot(case: &str, mode: Mode, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(format!("{case}-{mode}.wit"));
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with UPDATE_SNAPSHOTS=1 to create it)",
            path.display()
        )
    });
    assert_eq!(
        actual,
        expected,
        "{} differs; rerun with UPDATE_SNAPSHOTS=1 if intended",
        path.display()
    );
}

const INTERFACES_AND_ROOT: &str = r#"
package demo:search;

interface lookup {
  record hit { text: string, score: f32 }
  find: async func(prefix: string, limit: u32) -> list<hit>;
  version: func() -> string;
  ping: async func();
}

world searcher {
  export lookup;
  export count: async func(text: string) -> u32;
  export name: func() -> string;
}
"#;

#[test]
fn interfaces_and_root_functions() {
    for mode in Mode::ALL {
        let (wit, lowering) = lowered(INTERFACES_AND_ROOT, "searcher", mode);
        snapshot("interfaces-and-root", mode, &wit);
        let names: Vec<&str> = lowering
            .funcs
            .iter()
            .map(|f| f.original.name.as_str())
            .collect();
        assert_eq!(names, ["find", "ping", "count"]);
        assert!(
            lowering
                .funcs
                .iter()
                .all(|f| f.direction == Direction::Export)
        );
    }
}

const RESOURCES: &str = r#"
package demo:store;

interface sessions {
  resource session {
    constructor(user: string);
    query: async func(q: string) -> list<string>;
    close: func();
    open-default: static async func() -> session;
  }
}

world server {
  export sessions;
}
"#;

#[test]
fn resources_with_async_methods() {
    for mode in Mode::ALL {
        let (wit, lowering) = lowered(RESOURCES, "server", mode);
        snapshot("resources", mode, &wit);
        assert_eq!(lowering.funcs.len(), 2);
        assert!(lowering.funcs.iter().all(|f| f.resource().is_some()));
        let items: Vec<&str> = lowering.funcs.iter().map(|f| f.item_name()).collect();
        assert_eq!(items, ["query", "open-default"]);
    }
}

const TYPES: &str = r#"
package demo:types;

interface shapes {
  variant shape { circle(f64), square(f64), none }
  enum unit { metric, imperial }
  flags caps { round, sharp }
  record report { area: f64, unit: unit, caps: caps }
  measure: async func(s: shape, u: unit) -> result<report, string>;
  measure-all: async func(all: list<tuple<shape, option<unit>>>) -> list<report>;
}

world measurer { export shapes; }
"#;

#[test]
fn types_used_by_async_functions() {
    for mode in Mode::ALL {
        let (wit, _) = lowered(TYPES, "measurer", mode);
        snapshot("types", mode, &wit);
    }
}

const IMPORTS_AND_EXPORTS: &str = r#"
package demo:pipeline;

interface source {
  fetch: async func(key: string) -> option<string>;
  size: func() -> u64;
}

interface sink {
  store: async func(key: string, value: string);
}

world relay {
  import source;
  import clock-skew: func() -> s64;
  import log: async func(line: string);
  export sink;
  export run: async func(keys: list<string>) -> u32;
}
"#;

#[test]
fn a_world_with_imports_and_exports() {
    for mode in Mode::ALL {
        let (wit, lowering) = lowered(IMPORTS_AND_EXPORTS, "relay", mode);
        snapshot("imports-and-exports", mode, &wit);
        let dirs: Vec<(&str, Direction)> = lowering
            .funcs
            .iter()
            .map(|f| (f.original.name.as_str(), f.direction))
            .collect();
        assert_eq!(
            dirs,
            [
                ("fetch", Direction::Import),
                ("store", Direction::Export),
                ("log", Direction::Import),
                ("run", Direction::Export),
            ]
        );
    }
}

#[test]
fn mode_s_adds_nothing_of_wasync_and_mode_c_adds_the_abi() {
    let (s, lowering) = lowered(IMPORTS_AND_EXPORTS, "relay", Mode::Standard);
    assert!(!s.contains("wasync:abi"), "{s}");
    assert!(lowering.abi.is_none());
    let (c, lowering) = lowered(IMPORTS_AND_EXPORTS, "relay", Mode::Concurrent);
    assert!(c.contains("import wasync:abi/host@0.1.0;"), "{c}");
    assert!(c.contains("export wasync:abi/guest@0.1.0;"), "{c}");
    assert!(lowering.abi.is_some());
}

#[test]
fn mode_n_keeps_every_async_func_and_adds_nothing() {
    let mut resolve = Resolve::default();
    let pkg = resolve
        .push_source("case.wit", IMPORTS_AND_EXPORTS)
        .unwrap();
    let world = resolve.select_world(&[pkg], Some("relay")).unwrap();
    let before = print_world(&resolve, world).unwrap();
    let lowering = lower(&mut resolve, world, Mode::Native).unwrap();
    assert_eq!(print_world(&resolve, world).unwrap(), before);
    assert!(before.contains("export run: async func"), "{before}");
    assert!(lowering.abi.is_none());
    assert_eq!(lowering.funcs.len(), 4);
}

#[test]
fn no_async_func_survives_the_lowerings_of_s_and_c() {
    for source in [INTERFACES_AND_ROOT, RESOURCES, TYPES, IMPORTS_AND_EXPORTS] {
        let world = source
            .split("world ")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .unwrap();
        for mode in [Mode::Standard, Mode::Concurrent] {
            let (wit, _) = lowered(source, world, mode);
            assert!(!wit.contains("async func"), "{mode}: {wit}");
        }
    }
}

#[test]
fn mode_c_without_the_abi_is_a_clear_error() {
    let mut resolve = Resolve::default();
    let pkg = resolve
        .push_source("case.wit", INTERFACES_AND_ROOT)
        .unwrap();
    let world = resolve.select_world(&[pkg], Some("searcher")).unwrap();
    let err = lower(&mut resolve, world, Mode::Concurrent).unwrap_err();
    assert!(err.to_string().contains("call add_abi first"), "{err}");
}

#[test]
fn modes_parse_and_unknown_ones_explain_themselves() {
    assert_eq!("S".parse::<Mode>(), Ok(Mode::Standard));
    assert_eq!("concurrent".parse::<Mode>(), Ok(Mode::Concurrent));
    let err = "X".parse::<Mode>().unwrap_err().to_string();
    assert!(err.contains("unknown mode `X`"), "{err}");
    assert!(err.contains("\"N\" (native"), "{err}");
    assert_eq!("N".parse::<Mode>(), Ok(Mode::Native));
    assert_eq!("native".parse::<Mode>(), Ok(Mode::Native));
    for mode in Mode::ALL {
        assert_eq!(mode.letter().parse::<Mode>(), Ok(mode));
    }
}
