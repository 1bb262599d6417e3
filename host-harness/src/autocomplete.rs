//! The autocomplete scenario, assembled: the component and its three
//! sources, composed host-mediated (mode C) or statically (modes S and N),
//! with what they need from the host (the word list, the HTTP endpoint, the
//! slow source's delay). The demo, the tests and the benchmark share it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use wasmtime::component::Val;

use wasync_lower::Mode;

use crate::compose::{Plug, compose};
use crate::concurrent::{Call, Driver, InstanceId};
use crate::error::{Error, Result};
use crate::{DirMount, Harness, HttpAccess, WasiOptions};

/// The completer's interface.
pub const COMPLETER: &str = "examples:wasync/completer";

/// Where the scenario's components are, for one mode.
#[derive(Debug, Clone)]
pub struct Components {
    /// The `autocomplete` component.
    pub autocomplete: PathBuf,
    /// The `dict` source: a word list in memory.
    pub dict: PathBuf,
    /// The `web` source: an HTTP endpoint.
    pub web: PathBuf,
    /// The `slow` source: answers after a delay.
    pub slow: PathBuf,
}

impl Components {
    /// The artifacts of the guest pipeline in `wasm_dir`; `concurrent`
    /// picks the mode C builds, else mode S.
    ///
    /// # Examples
    ///
    /// ```
    /// use wasync_harness::autocomplete::Components;
    ///
    /// let c = Components::in_dir("target/guests/wasm".as_ref(), true);
    /// assert!(c.autocomplete.ends_with("autocomplete-c.wasm"));
    /// ```
    pub fn in_dir(wasm_dir: &Path, concurrent: bool) -> Components {
        let mode = if concurrent {
            Mode::Concurrent
        } else {
            Mode::Standard
        };
        Components::of_mode(wasm_dir, mode)
    }

    /// The mode N (native WASI 0.3) builds in `wasm_dir`, which compose
    /// statically as the mode S ones do.
    ///
    /// # Examples
    ///
    /// ```
    /// use wasync_harness::autocomplete::Components;
    ///
    /// let n = Components::native_in_dir("target/guests/wasm".as_ref());
    /// assert!(n.slow.ends_with("slow-source-n.wasm"));
    /// ```
    pub fn native_in_dir(wasm_dir: &Path) -> Components {
        Components::of_mode(wasm_dir, Mode::Native)
    }

    /// The builds of `mode` among the artifacts in `wasm_dir`.
    pub fn of_mode(wasm_dir: &Path, mode: Mode) -> Components {
        let name = |n: &str| {
            let n = match mode {
                Mode::Standard => n.to_owned(),
                Mode::Concurrent => format!("{n}-c"),
                Mode::Native => format!("{n}-n"),
            };
            wasm_dir.join(format!("{n}.wasm"))
        };
        Components {
            autocomplete: name("autocomplete"),
            dict: name("dict-source"),
            web: name("http-source"),
            slow: name("slow-source"),
        }
    }
}

/// What the sources get from the host.
#[derive(Debug, Clone)]
pub struct Environment {
    /// The folder holding `words.txt`, preopened read-only as `/words`.
    pub words_dir: PathBuf,
    /// The HTTP endpoint's base URL.
    pub suggest_url: String,
    /// How late the slow source answers.
    pub slow_delay: Duration,
}

impl Environment {
    /// The WASI capabilities of the store: only what the sources need.
    pub fn wasi(&self) -> WasiOptions {
        WasiOptions {
            dirs: vec![DirMount {
                host: self.words_dir.clone(),
                guest: "/words".into(),
                read_only: true,
            }],
            env: vec![
                ("SUGGEST_URL".into(), self.suggest_url.clone()),
                (
                    "SLOW_DELAY_MS".into(),
                    self.slow_delay.as_millis().to_string(),
                ),
            ],
            http: HttpAccess::Loopback,
            ..WasiOptions::captured()
        }
    }
}

/// A running scenario: the driver and the instances in it.
pub struct Running {
    /// The driver that runs every instance.
    pub driver: Driver,
    /// The `autocomplete` instance, the one users call.
    pub autocomplete: InstanceId,
    /// The sources' instances (mode C), in the order dict, web, slow.
    pub sources: Vec<InstanceId>,
}

/// Mode C: four instances in one store; the autocomplete instance's three
/// imports are forwarded by the host to the sources.
pub async fn start_concurrent(
    harness: &Harness,
    c: &Components,
    env: &Environment,
) -> Result<Running> {
    let mut host = harness.concurrent(&env.wasi())?;
    let dict = host
        .add("dict-source", harness.compile(&c.dict)?.component(), &[])
        .await?;
    let web = host
        .add("http-source", harness.compile(&c.web)?.component(), &[])
        .await?;
    let slow = host
        .add("slow-source", harness.compile(&c.slow)?.component(), &[])
        .await?;
    let ac = host
        .add(
            "autocomplete",
            harness.compile(&c.autocomplete)?.component(),
            &[("dict", dict), ("web", web), ("slow", slow)],
        )
        .await?;
    Ok(Running {
        driver: host.start(),
        autocomplete: ac,
        sources: vec![dict, web, slow],
    })
}

/// The components (mode S or N) composed statically into one.
pub fn compose_static(c: &Components) -> Result<Vec<u8>> {
    let plug = |import: &str, path: &Path| Plug {
        import: Some(import.to_owned()),
        path: path.to_owned(),
    };
    compose(
        &c.autocomplete,
        &[
            plug("dict", &c.dict),
            plug("web", &c.web),
            plug("slow", &c.slow),
        ],
    )
}

/// Mode S: the HTTP front (`autocomplete-http`) composed in front of the
/// static composition: one `wasi:http` proxy component holding all five,
/// which `wasmtime serve` or [`Harness::serve`] runs with [`Environment::wasi`].
///
/// # Examples
///
/// ```no_run
/// # fn demo() -> wasync_harness::Result<()> {
/// use std::path::Path;
/// use wasync_harness::autocomplete::{Components, compose_http};
///
/// let wasm = Path::new("target/guests/wasm");
/// let bytes = compose_http(&wasm.join("autocomplete-http.wasm"), &Components::in_dir(wasm, false))?;
/// std::fs::write("autocomplete-service.wasm", bytes).unwrap();
/// # Ok(()) }
/// ```
pub fn compose_http(front: &Path, c: &Components) -> Result<Vec<u8>> {
    let back = compose_static(c)?;
    crate::compose::compose_with_bytes(front, &c.autocomplete, back)
}

/// Mode S: the static composition, one instance, driven through the same
/// API (its calls run one after another).
pub async fn start_standard(
    harness: &Harness,
    c: &Components,
    env: &Environment,
) -> Result<Running> {
    start_static(harness, c, env, "autocomplete (mode S)").await
}

/// Mode N: the mode N components composed statically too (calls between
/// them are native subtasks), one instance whose calls overlap.
pub async fn start_native(harness: &Harness, c: &Components, env: &Environment) -> Result<Running> {
    start_static(harness, c, env, "autocomplete (mode N)").await
}

async fn start_static(
    harness: &Harness,
    c: &Components,
    env: &Environment,
    name: &str,
) -> Result<Running> {
    let bytes = compose_static(c)?;
    let loaded = harness.compile_bytes(&c.autocomplete, &bytes)?;
    let mut host = harness.concurrent(&env.wasi())?;
    let ac = host.add(name, &loaded, &[]).await?;
    Ok(Running {
        driver: host.start(),
        autocomplete: ac,
        sources: Vec::new(),
    })
}

/// How a source fared.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    /// It answered in time.
    Ok,
    /// It did not answer before the deadline.
    TimedOut,
    /// It failed, for the reason given.
    Failed(String),
}

/// A `completion`, read back from its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// `(text, score, source)`, ranked.
    pub suggestions: Vec<(String, f32, String)>,
    /// `(source, status, suggestions)`.
    pub sources: Vec<(String, Status, u32)>,
    /// Whether the answer came from the component's cache.
    pub cached: bool,
}

impl Completion {
    /// The status of one source.
    pub fn status(&self, source: &str) -> Option<&Status> {
        self.sources.iter().find(|s| s.0 == source).map(|s| &s.1)
    }

    /// The suggested texts, in order.
    pub fn texts(&self) -> Vec<&str> {
        self.suggestions.iter().map(|s| s.0.as_str()).collect()
    }
}

fn field<'a>(v: &'a Val, name: &str) -> Result<&'a Val> {
    match v {
        Val::Record(fields) => fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
            .ok_or_else(|| bad(format!("no field `{name}`"))),
        other => Err(bad(format!("expected a record, got {other:?}"))),
    }
}

fn bad(msg: String) -> Error {
    Error::Protocol(format!("unexpected completion: {msg}"))
}

fn string(v: &Val) -> Result<String> {
    match v {
        Val::String(s) => Ok(s.clone()),
        other => Err(bad(format!("expected a string, got {other:?}"))),
    }
}

fn list(v: &Val) -> Result<&[Val]> {
    match v {
        Val::List(items) => Ok(items),
        other => Err(bad(format!("expected a list, got {other:?}"))),
    }
}

impl TryFrom<&Val> for Completion {
    type Error = Error;

    fn try_from(v: &Val) -> Result<Completion> {
        let mut suggestions = Vec::new();
        for s in list(field(v, "suggestions")?)? {
            let Val::Float32(score) = field(s, "score")? else {
                return Err(bad("score is not an f32".into()));
            };
            suggestions.push((
                string(field(s, "text")?)?,
                *score,
                string(field(s, "source")?)?,
            ));
        }
        let mut sources = Vec::new();
        for s in list(field(v, "sources")?)? {
            let status = match field(s, "status")? {
                Val::Variant(case, payload) => match (case.as_str(), payload) {
                    ("ok", _) => Status::Ok,
                    ("timed-out", _) => Status::TimedOut,
                    ("failed", Some(p)) => Status::Failed(string(p)?),
                    _ => return Err(bad(format!("unknown status `{case}`"))),
                },
                other => return Err(bad(format!("status is {other:?}"))),
            };
            let Val::U32(n) = field(s, "suggestions")? else {
                return Err(bad("suggestions is not a u32".into()));
            };
            sources.push((string(field(s, "source")?)?, status, *n));
        }
        let Val::Bool(cached) = field(v, "cached")? else {
            return Err(bad("cached is not a bool".into()));
        };
        Ok(Completion {
            suggestions,
            sources,
            cached: *cached,
        })
    }
}

impl Running {
    /// Starts a `complete` call.
    pub fn complete(&self, prefix: &str, limit: u32, timeout: Duration) -> Result<Call<Vec<Val>>> {
        self.driver.call_concurrent(
            self.autocomplete,
            &format!("{COMPLETER}#complete"),
            vec![
                Val::String(prefix.to_owned()),
                Val::U32(limit),
                Val::U32(u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX)),
            ],
        )
    }

    /// One call that makes every source load its data (the dictionary reads
    /// its word list on first use), so that later calls measure steady
    /// state.
    pub async fn warm(&self) -> Result<()> {
        Running::completion(self.complete("warm", 1, Duration::from_secs(5))?).await?;
        Ok(())
    }

    /// Awaits a `complete` call and reads its result.
    pub async fn completion(call: Call<Vec<Val>>) -> Result<Completion> {
        let out = call.await?;
        let v = out.first().ok_or_else(|| bad("no result".into()))?;
        Completion::try_from(v)
    }
}
