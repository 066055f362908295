//! Adaptive bulk concurrency (docs/design/adaptive-concurrency.md), through an HTTP proxy of our own in front
//! of the real Elasticsearch (`util/http_proxy.rs`): the proxy passes the first requests (the limit grows
//! above 1), then refuses every `_bulk` request for a while — with a 429, or with a 200 whose every item is
//! 429 — then passes again. From the proxy's log of arrivals: while it refuses, the requests come one at a
//! time, each at least half a backoff interval (`--retry-max-delay 1`: the waits are 0.5–1 s once grown)
//! after the previous one; afterwards the limit grows again, the run completes, and every event is in the
//! index once, none dead-lettered.

use crate::bulk_reliability::log_file;
use crate::util::http_proxy::{HttpProxy, Mode, Seen};
use crate::util::{es_url, event_counts, prefix, Cluster, Run};
use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

const FILES: usize = 40;
const PER_FILE: usize = 100;
/// The longest backoff wait (`--retry-max-delay`); a grown wait is at least half of it.
const MAX_DELAY: Duration = Duration::from_secs(1);

/// What a run through a refusing window left.
struct Window {
    run: Run,
    log: Vec<Seen>,
    /// When the proxy started and stopped refusing.
    from: Instant,
    to: Instant,
}

/// Backfills `FILES × PER_FILE` events through the proxy, which answers `_bulk` with `refuse`
/// for `length` once `warm_up` requests have passed. Bounded: the run is killed after 120 s.
fn run_with_refusals(name: &str, refuse: Mode, length: Duration) -> (Window, String) {
    let proxy = HttpProxy::start(&es_url());
    let p = prefix(name);
    let dir = tempfile::tempdir().unwrap();
    for f in 0..FILES {
        log_file(&dir.path().join(format!("logs/f{f:02}.json.gz")), &format!("{name}{f}"), PER_FILE, &[]);
    }
    let args = [
        "backfill",
        "logs",
        "--es",
        &proxy.url,
        "--index-prefix",
        &p,
        "--dead-letter",
        "dl.ndjson",
        "--batch-events",
        "20",
        "--bulk-concurrency",
        "4",
        "--retry-max-delay",
        "1",
        "--retry-timeout",
        "120",
    ];
    let mut child = crate::util::command(dir.path(), &args, &[]).stderr(Stdio::piped()).spawn().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let bounded = |what: &str| assert!(Instant::now() < deadline, "{what} within 120 s: {:?}", proxy.log());
    // 12 requests: the slow start has taken the limit from 1 to 4 by then.
    while proxy.received() < 12 {
        bounded("the first requests");
        std::thread::sleep(Duration::from_millis(2));
    }
    proxy.set(refuse);
    let from = Instant::now();
    while from.elapsed() < length {
        bounded("the refusing window");
        std::thread::sleep(Duration::from_millis(20));
    }
    proxy.set(Mode::Pass);
    let to = Instant::now();
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code().unwrap_or(-1);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("backfill did not finish within 120 s: {:?}", proxy.log());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let run = Run { code, stdout: String::new(), stderr: reader.join().unwrap() };
    let letters = std::fs::read_to_string(dir.path().join("dl.ndjson")).unwrap_or_default();
    assert!(letters.is_empty(), "nothing dead-lettered: {letters:.2000}");
    (Window { run, log: proxy.log(), from, to }, p)
}

/// The most requests of `log` answered while another was in flight.
fn most_at_once(log: &[&Seen]) -> usize {
    log.iter().map(|s| log.iter().filter(|o| o.arrived < s.at && o.at > s.arrived).count()).max().unwrap_or(0)
}

/// Checks what every refusing window must show; `refused` tells a refused request from a passed.
fn check(w: &Window, p: &str, refused: impl Fn(&Seen) -> bool) {
    w.run.expect_code(0);
    let (indexed, present, dead) = event_counts(&w.run);
    assert_eq!((indexed + present, dead), ((FILES * PER_FILE) as u64, 0), "{}", w.run.stderr);
    let cluster = Cluster::es();
    assert_eq!(cluster.count(p), (FILES * PER_FILE) as u64, "every event once");

    let before: Vec<_> = w.log.iter().filter(|s| s.arrived < w.from && !refused(s)).collect();
    assert!(most_at_once(&before) >= 2, "the limit grew before the refusals: {before:?}");

    let refusals: Vec<_> = w.log.iter().filter(|s| refused(s)).collect();
    assert!(refusals.len() >= 5, "the window was seen: {:?}", w.log);
    // The first refusals cut the limit (4 → 2 → 1) and grow the streak's wait; after 3 s of them
    // each request comes alone, at least half the longest wait after the one before it.
    let settled: Vec<_> =
        refusals.iter().filter(|s| s.arrived > w.from + Duration::from_secs(3) && s.arrived < w.to).collect();
    let gaps: Vec<Duration> = settled.windows(2).map(|p| p[1].arrived - p[0].arrived).collect();
    let shortest = gaps.iter().min().copied().unwrap_or(Duration::MAX);
    assert!(
        shortest >= MAX_DELAY * 2 / 5,
        "while refused, at most one request per backoff interval: shortest gap {shortest:?} in {gaps:?}"
    );
    let span = w.to - (w.from + Duration::from_secs(3));
    let most = (span.as_secs_f64() / (MAX_DELAY.as_secs_f64() / 2.0)).ceil() as usize + 1;
    assert!(settled.len() <= most, "{} requests in {span:?}, at most {most}", settled.len());
    assert!(settled.len() >= 2, "still probing while refused: {gaps:?}");

    let after: Vec<_> = w.log.iter().filter(|s| s.arrived > w.to && !refused(s)).collect();
    assert!(most_at_once(&after) >= 2, "the limit grew again after the refusals: {after:?}");
    assert!(
        w.run.stderr.contains("bulk concurrency 1/4"),
        "the progress line shows the limit: {}",
        w.run.stderr
    );
    cluster.clean(p);
}

#[test]
fn under_sustained_429_the_requests_fall_to_one_per_backoff_and_recover_without_loss() {
    let (w, p) = run_with_refusals("adaptive-429", Mode::Status(429), Duration::from_secs(20));
    check(&w, &p, |s| s.status == 429);
}

#[test]
fn items_refused_with_429_inside_a_200_push_back_too() {
    let (w, p) = run_with_refusals("adaptive-items", Mode::Items(429), Duration::from_secs(12));
    // Refused items are answered 200 by the proxy without reaching the cluster: they are the
    // requests answered during the window.
    check(&w, &p, |s| s.status == 200 && s.arrived >= w.from && s.arrived < w.to);
}
