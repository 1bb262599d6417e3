//! The autocomplete scenario end to end: real sources (the word list, the
//! HTTP endpoint, the slow source), host-mediated in mode C and composed
//! statically in mode S.

use std::sync::LazyLock;
use std::time::Duration;

use wasync_harness::Harness;
use wasync_harness::autocomplete::{
    Completion, Components, Environment, Running, Status, start_concurrent, start_standard,
};
use wasync_harness::suggest_server::{ServerConfig, SuggestServer};
use wasync_harness::wasmtime::component::Val;

static HARNESS: LazyLock<Harness> = LazyLock::new(|| Harness::new().expect("engine"));

fn components(concurrent: bool) -> Components {
    let wasm_dir = std::path::Path::new(test_programs::HELLO).parent().unwrap();
    Components::in_dir(wasm_dir, concurrent)
}

fn env(url: String, slow_ms: u64) -> Environment {
    Environment {
        words_dir: test_programs::WORDS_DIR.into(),
        suggest_url: url,
        slow_delay: Duration::from_millis(slow_ms),
    }
}

async fn quick_server() -> SuggestServer {
    SuggestServer::start(ServerConfig {
        latency: Duration::from_millis(1),
        jitter: Duration::ZERO,
        ..ServerConfig::default()
    })
    .await
    .unwrap()
}

async fn complete(run: &Running, prefix: &str, limit: u32, timeout_ms: u64) -> Completion {
    Running::completion(
        run.complete(prefix, limit, Duration::from_millis(timeout_ms))
            .unwrap(),
    )
    .await
    .unwrap()
}

/// The reference merge, written apart from the component's: one entry per
/// case-insensitive text with its best score (the first source on a tie),
/// ranked by score then text.
fn reference_merge(
    lists: &[(&str, Vec<(String, f32)>)],
    limit: usize,
) -> Vec<(String, f32, String)> {
    let mut out: Vec<(String, f32, String)> = Vec::new();
    for (source, list) in lists {
        for (text, score) in list {
            match out
                .iter_mut()
                .find(|e| e.0.to_lowercase() == text.to_lowercase())
            {
                Some(e) if *score > e.1 => {
                    e.1 = *score;
                    e.2 = (*source).to_owned();
                }
                Some(_) => {}
                None => out.push((text.clone(), *score, (*source).to_owned())),
            }
        }
    }
    out.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap().then(a.0.cmp(&b.0)));
    out.truncate(limit);
    out
}

async fn query_source(
    run: &Running,
    source: usize,
    prefix: &str,
    limit: u32,
) -> Vec<(String, f32)> {
    let out = run
        .driver
        .call_concurrent(
            run.sources[source],
            "examples:wasync/source#query",
            vec![Val::String(prefix.into()), Val::U32(limit)],
        )
        .unwrap()
        .await
        .unwrap();
    let [Val::Result(Ok(Some(list)))] = &out[..] else {
        panic!("query failed: {out:?}")
    };
    let Val::List(items) = &**list else {
        unreachable!()
    };
    items
        .iter()
        .map(|s| {
            let Val::Record(f) = s else { unreachable!() };
            let (Val::String(t), Val::Float32(sc)) = (&f[0].1, &f[1].1) else {
                unreachable!()
            };
            (t.clone(), *sc)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merged_ranking_matches_a_reference_implementation() {
    let server = quick_server().await;
    let run = start_concurrent(&HARNESS, &components(true), &env(server.url(), 5))
        .await
        .unwrap();
    // The empty prefix, ASCII, a unicode prefix with matches (from the web
    // source's data), and two with none.
    for prefix in ["", "wa", "as", "ti", "ünï", "日本", "zzzq"] {
        let limit = 8;
        let mut lists = Vec::new();
        for (i, name) in ["dict", "web", "slow"].iter().enumerate() {
            lists.push((*name, query_source(&run, i, prefix, limit).await));
        }
        let expected = reference_merge(&lists, limit as usize);
        let got = complete(&run, prefix, limit, 5_000).await;
        assert!(
            got.sources.iter().all(|s| s.1 == Status::Ok),
            "{prefix:?}: {got:?}"
        );
        assert_eq!(got.suggestions, expected, "prefix {prefix:?}");
        if prefix == "日本" || prefix == "zzzq" {
            assert!(got.suggestions.is_empty());
        } else {
            assert!(!got.suggestions.is_empty(), "{prefix:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_source_times_out_and_its_query_is_cancelled() {
    let server = quick_server().await;
    // The timeout leaves the other sources a second, and the slow source
    // misses it by a second and a half.
    let run = start_concurrent(&HARNESS, &components(true), &env(server.url(), 2_500))
        .await
        .unwrap();
    // The dict source reads its word list on first use: read it now, so
    // that only the slow source can miss the deadline below.
    query_source(&run, 0, "warm", 1).await;
    let got = complete(&run, "as", 6, 1_000).await;
    assert_eq!(got.status("slow"), Some(&Status::TimedOut));
    assert_eq!(got.status("dict"), Some(&Status::Ok));
    assert_eq!(got.status("web"), Some(&Status::Ok));
    assert!(got.suggestions.iter().any(|s| s.2 == "dict"), "{got:?}");
    assert!(!got.suggestions.iter().any(|s| s.2 == "slow"), "{got:?}");
    // The abandoned query was cancelled in the slow source: the only
    // imported call left in flight is the background refresh's.
    let host = run.driver.stats().await.unwrap();
    assert_eq!(host.import_calls, 1, "{host:?}");
    // In the slow source itself, one query sleeps: the refresh's. The
    // abandoned query's timer is gone, not left to run out.
    let slow = run.sources[2];
    let slow_gauges = async || {
        let out = run
            .driver
            .call_concurrent(slow, "gauges", vec![])
            .unwrap()
            .await
            .unwrap();
        let Val::Record(fields) = &out[0] else {
            panic!("{out:?}")
        };
        fields.clone()
    };
    let live_timers = |fields: &[(String, Val)]| {
        fields
            .iter()
            .find(|(n, _)| n == "live-timers")
            .map(|(_, v)| v.clone())
    };
    assert_eq!(
        live_timers(&slow_gauges().await),
        Some(Val::U32(1)),
        "{:?}",
        slow_gauges().await
    );

    // The refresh finishes with no call active, and its answer is visible
    // in the next call for the prefix.
    let refreshes = format!("{}#refreshes", wasync_harness::autocomplete::COMPLETER);
    for _ in 0..3000 {
        let n = run
            .driver
            .call_concurrent(run.autocomplete, &refreshes, vec![])
            .unwrap()
            .await
            .unwrap();
        if n == [Val::U32(1)] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let again = complete(&run, "as", 6, 1_000).await;
    assert!(again.cached);
    assert_eq!(again.status("slow"), Some(&Status::Ok));
    assert!(again.suggestions.iter().any(|s| s.2 == "slow"), "{again:?}");

    // Nothing of either query stays registered.
    let gauges = format!("{}#gauges", wasync_harness::autocomplete::COMPLETER);
    let out = run
        .driver
        .call_concurrent(run.autocomplete, &gauges, vec![])
        .unwrap()
        .await
        .unwrap();
    let Val::Record(fields) = &out[0] else {
        panic!("{out:?}")
    };
    for (name, value) in fields.iter().chain(&slow_gauges().await) {
        assert_eq!(value, &Val::U32(0), "{name}: {fields:?}");
    }
    let host = run.driver.stats().await.unwrap();
    assert_eq!((host.import_calls, host.pending_calls), (0, 0), "{host:?}");
}

async fn web_status(env: Environment) -> Status {
    let run = start_concurrent(&HARNESS, &components(true), &env)
        .await
        .unwrap();
    let got = complete(&run, "wa", 5, 3_000).await;
    assert_eq!(
        got.status("dict"),
        Some(&Status::Ok),
        "other sources still answer"
    );
    // The component is alive: a second call works too.
    complete(&run, "ru", 5, 3_000).await;
    got.status("web").unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_failures_are_reported_as_failed_never_a_trap() {
    // Nothing listens on the port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let Status::Failed(reason) = web_status(env(url, 5)).await else {
        panic!("server down must fail")
    };
    assert!(reason.contains("connection refused"), "{reason}");

    let failing = SuggestServer::start(ServerConfig {
        failure_rate: 1.0,
        latency: Duration::ZERO,
        ..ServerConfig::default()
    })
    .await
    .unwrap();
    let Status::Failed(reason) = web_status(env(failing.url(), 5)).await else {
        panic!("a 500 must fail")
    };
    assert!(reason.contains("500"), "{reason}");

    let cutting = SuggestServer::start(ServerConfig {
        cut_rate: 1.0,
        latency: Duration::ZERO,
        ..ServerConfig::default()
    })
    .await
    .unwrap();
    let Status::Failed(reason) = web_status(env(cutting.url(), 5)).await else {
        panic!("a cut body must fail")
    };
    assert!(
        reason.contains("cut short") || reason.contains("protocol"),
        "{reason}"
    );
    assert!(
        cutting
            .stats()
            .cuts
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_beyond_loopback_are_denied_clearly() {
    let Status::Failed(reason) = web_status(env("http://example.com".into(), 5)).await else {
        panic!("a non-loopback request must fail")
    };
    assert!(reason.contains("denied"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_is_denied_unless_the_host_allows_it() {
    let server = quick_server().await;
    // The web source alone, with the endpoint's address but the default
    // WASI options: no network of any kind.
    let wasi = wasync_harness::WasiOptions {
        env: vec![("SUGGEST_URL".into(), server.url())],
        ..wasync_harness::WasiOptions::captured()
    };
    let web = HARNESS.compile(&components(false).web).unwrap();
    let mut inst = HARNESS.instantiate(&web, &wasi).await.unwrap();
    let out = inst
        .call_wave(r#"examples:wasync/source#query("wa", 3)"#)
        .await
        .unwrap();
    let [Val::Result(Err(Some(reason)))] = &out[..] else {
        panic!("a request without network access succeeded: {out:?}")
    };
    let Val::String(reason) = &**reason else {
        panic!("{reason:?}")
    };
    assert!(reason.contains("denied"), "{reason}");
    assert_eq!(
        server
            .stats()
            .requests
            .load(std::sync::atomic::Ordering::Relaxed),
        0,
        "the request reached the server"
    );
}

/// Mode C: a long call, whose slow source answers only after `SLOW_MS`
/// (well inside the long call's own timeout), then a short call whose
/// 30 ms timeout cuts its slow query off. The short call finishes while the
/// long one still waits: the margin is the slow source's whole delay, not a
/// race between two timeouts, so a loaded machine cannot turn it around.
/// Mode S: the same two calls run one after the other, and neither timeout
/// cuts the slow source short.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_call_overtakes_a_long_one_in_mode_c_but_not_in_mode_s() {
    const SLOW_MS: u64 = 3_000;
    let server = quick_server().await;
    let c = start_concurrent(&HARNESS, &components(true), &env(server.url(), SLOW_MS))
        .await
        .unwrap();
    // The dict source reads its word list on first use; read it now, so
    // that neither call below waits for it.
    query_source(&c, 0, "warm", 1).await;
    c.driver.record_trace(true);
    let long = tokio::spawn(Running::completion(
        c.complete("ti", 5, Duration::from_secs(60)).unwrap(),
    ));
    tokio::time::sleep(Duration::from_millis(20)).await;
    let short = Running::completion(c.complete("wa", 5, Duration::from_millis(30)).unwrap())
        .await
        .unwrap();
    assert_eq!(short.status("slow"), Some(&Status::TimedOut));
    assert!(!long.is_finished(), "mode C: the short call finished first");
    let long = long.await.unwrap().unwrap();
    assert_eq!(long.status("slow"), Some(&Status::Ok), "{long:?}");
    let (external, forwarded): (Vec<_>, Vec<_>) = c
        .driver
        .trace()
        .into_iter()
        .partition(|t| t.caller.is_none());
    assert!(external[0].overlaps(&external[1]), "{external:?}");
    assert!(external[1].end_us < external[0].end_us, "{external:?}");
    // The calls the autocomplete instance made into its sources are traced
    // too, in the instances that served them; the short call's slow query
    // was cut off at its timeout.
    for source in ["dict-source", "http-source", "slow-source"] {
        let into: Vec<_> = forwarded.iter().filter(|t| t.instance == source).collect();
        assert!(into.len() >= 2, "{source}: {forwarded:?}");
        assert!(
            into.iter()
                .all(|t| t.caller.as_deref() == Some("autocomplete")),
            "{into:?}"
        );
    }
    assert!(
        forwarded
            .iter()
            .any(|t| t.instance == "slow-source" && t.outcome == "cancelled"),
        "{forwarded:?}"
    );

    // Mode S, with both timeouts shorter than the slow source's delay.
    let s = start_standard(&HARNESS, &components(false), &env(server.url(), 300))
        .await
        .unwrap();
    s.driver.record_trace(true);
    let long = tokio::spawn(Running::completion(
        s.complete("ti", 5, Duration::from_millis(100)).unwrap(),
    ));
    tokio::time::sleep(Duration::from_millis(20)).await;
    let short = Running::completion(s.complete("wa", 5, Duration::from_millis(30)).unwrap());
    let (long, short) = (long.await.unwrap().unwrap(), short.await.unwrap());
    // Mode S: an imported call blocks the instance, so the slow source is
    // never cut short, and the calls ran one after the other.
    assert_eq!(long.status("slow"), Some(&Status::Ok));
    assert_eq!(short.status("slow"), Some(&Status::Ok));
    let trace = s.driver.trace();
    assert!(!trace[0].overlaps(&trace[1]), "{trace:?}");
    assert!(trace[0].end_us < trace[1].end_us);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_word_list_fails_the_dict_source_cleanly() {
    let server = quick_server().await;
    let mut e = env(server.url(), 5);
    e.words_dir = tempfile::tempdir().unwrap().keep();
    let run = start_concurrent(&HARNESS, &components(true), &e)
        .await
        .unwrap();
    let got = complete(&run, "wa", 5, 2_000).await;
    let Some(Status::Failed(reason)) = got.status("dict") else {
        panic!("{got:?}")
    };
    assert!(reason.contains("cannot read"), "{reason}");
    assert_eq!(got.status("web"), Some(&Status::Ok));
}
