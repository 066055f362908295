//! The bulk output when the cluster fails (docs/design/reliability.md), through an HTTP proxy of our own in
//! front of the real Elasticsearch (`util/http_proxy.rs`): an outage longer than the patience leaves files
//! unfinished (not dead-lettered, not journalled, exit 2) and a re-run delivers them; a 413 dead-letters only
//! the event too large alone; after an outage (503: a pushback, so one batch probes at a time), the first
//! success brings every waiting batch back at once.

use crate::util::http_proxy::{HttpProxy, Mode};
use crate::util::{es_url, event_counts, prefix, run_in, write_gz, Cluster};
use std::path::Path;
use std::time::{Duration, Instant};

/// A log file of `n` small events with ids `TAG-i`, plus `extra` records as they are.
pub fn log_file(path: &Path, tag: &str, n: usize, extra: &[String]) {
    let mut records: Vec<String> = (0..n)
        .map(|i| format!(r#"{{"eventID":"{tag}-{i}","eventTime":"2024-05-01T10:00:00Z","eventName":"E{i}","awsRegion":"us-east-1"}}"#))
        .collect();
    records.extend(extra.iter().cloned());
    write_gz(path, format!(r#"{{"Records":[{}]}}"#, records.join(",")).as_bytes());
}

fn dead_letters(dir: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(dir.join("dl.ndjson")).unwrap_or_default();
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn an_outage_longer_than_the_patience_leaves_files_unfinished_and_a_rerun_delivers_them() {
    let proxy = HttpProxy::start(&es_url());
    let cluster = Cluster::es();
    let p = prefix("outage-patience");
    let dir = tempfile::tempdir().unwrap();
    for f in 0..3 {
        log_file(&dir.path().join(format!("logs/f{f}.json.gz")), &format!("o{f}"), 20, &[]);
    }
    let args = [
        "backfill",
        "logs",
        "--es",
        &proxy.url,
        "--index-prefix",
        &p,
        "--state",
        "state",
        "--dead-letter",
        "dl.ndjson",
        "--retry-timeout",
        "5",
        "--retry-max-delay",
        "1",
    ];
    // The cluster answers the start-up checks, then every bulk request is cut for longer than 5 s.
    proxy.set(Mode::Cut);
    let first = run_in(dir.path(), &args, &[]);
    first.expect_code(2);
    assert!(
        first.stderr.contains("60 events not delivered: the cluster was unavailable; run again"),
        "{}",
        first.stderr
    );
    assert_eq!(event_counts(&first).2, 0, "an outage is not a rejection: nothing dead-lettered");
    assert!(dead_letters(dir.path()).is_empty());
    let state = std::fs::read_to_string(dir.path().join("state")).unwrap_or_default();
    assert!(!state.contains(".json.gz"), "no file journalled as done: {state}");
    assert!(proxy.log().len() >= 3, "the bulk requests were tried");

    proxy.set(Mode::Pass);
    let second = run_in(dir.path(), &args, &[]);
    second.expect_code(0);
    let (indexed, present, dead) = event_counts(&second);
    assert_eq!((indexed + present, dead), (60, 0), "{}", second.stderr);
    assert_eq!(cluster.count(&p), 60, "every event once");
    cluster.clean(&p);
}

#[test]
fn a_413_dead_letters_only_the_event_too_large_alone() {
    let proxy = HttpProxy::start(&es_url());
    let cluster = Cluster::es();
    let p = prefix("too-large");
    let dir = tempfile::tempdir().unwrap();
    let big = format!(
        r#"{{"eventID":"big-one","eventTime":"2024-05-01T10:00:00Z","eventName":"Big","note":"{}"}}"#,
        "x".repeat(6000)
    );
    log_file(&dir.path().join("logs/a.json.gz"), "a", 40, &[big]);
    log_file(&dir.path().join("logs/b.json.gz"), "b", 20, &[]);
    proxy.max_body(4000);
    let run = run_in(
        dir.path(),
        &["backfill", "logs", "--es", &proxy.url, "--index-prefix", &p, "--dead-letter", "dl.ndjson"],
        &[],
    );
    run.expect_code(2);
    let letters = dead_letters(dir.path());
    let ids: Vec<_> = letters.iter().map(|l| l["document"]["eventID"].clone()).collect();
    assert_eq!(ids, ["big-one"], "only the oversized event is dead-lettered");
    assert_eq!(letters[0]["document"]["eventID"], "big-one");
    assert_eq!(letters[0]["status"], 413);
    let reason = letters[0]["reason"].as_str().unwrap();
    assert!(reason.contains("too large") && reason.contains(" bytes"), "{reason}");
    let (indexed, present, dead) = event_counts(&run);
    assert_eq!((indexed + present, dead), (60, 1), "{}", run.stderr);
    assert_eq!(cluster.count(&p), 60);
    assert!(proxy.log().iter().any(|s| s.status == 413 && s.items > 1), "a batch was split");
    cluster.clean(&p);
}

#[test]
fn after_an_outage_the_first_success_brings_every_waiting_batch_back() {
    let proxy = HttpProxy::start(&es_url());
    let cluster = Cluster::es();
    let p = prefix("recovery");
    let dir = tempfile::tempdir().unwrap();
    log_file(&dir.path().join("logs/a.json.gz"), "r", 40, &[]);
    proxy.set(Mode::Status(503));
    let cmd = crate::util::command(
        dir.path(),
        &[
            "backfill",
            "logs",
            "--es",
            &proxy.url,
            "--index-prefix",
            &p,
            "--batch-events",
            "5",
            "--bulk-concurrency",
            "8",
        ],
        &[],
    );
    let mut child = {
        let mut cmd = cmd;
        cmd.stderr(std::process::Stdio::null()).spawn().unwrap()
    };
    // 503 is a pushback: the limit is 1 and the 8 batches take turns, each request waiting the
    // backoff of the streak. After 6 failures in a row the wait has grown to 3.2–6.4 s.
    let started = Instant::now();
    while proxy.log().len() < 6 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "batches never failed enough: {:?}",
            proxy.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    proxy.set(Mode::Pass);
    let exited = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(exited.elapsed() < Duration::from_secs(60), "backfill never finished");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let log = proxy.log();
    let ok: Vec<_> = log.iter().filter(|s| s.status == 200).collect();
    assert_eq!(ok.len(), 8, "each batch succeeded once: {log:?}");
    // Ordering: once one request is answered, every other batch follows at once, none sitting out
    // the grown wait of the streak: the spread of the successes is under half of the shortest gap
    // between two of the last three failures.
    let spread = ok.last().unwrap().at - ok[0].at;
    let fails: Vec<_> = log.iter().filter(|f| f.status == 503).collect();
    let shortest_gap =
        fails[fails.len() - 3..].windows(2).map(|w| w[1].arrived - w[0].arrived).min().unwrap();
    assert!(spread < shortest_gap / 2, "recovery spread {spread:?}, shortest last backoff {shortest_gap:?}");
    assert_eq!(cluster.count(&p), 40);
    cluster.clean(&p);
}

/// SIGINT to `child`, then its exit status (within 60 s).
fn interrupt(child: &mut std::process::Child) -> i32 {
    let _ = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(started.elapsed() < Duration::from_secs(60), "backfill never stopped");
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait().unwrap().code().unwrap_or(-1)
}

#[test]
fn ctrl_c_lets_requests_in_flight_finish_and_gives_up_only_the_waits() {
    let cluster = Cluster::es();
    for (slow, p) in [(true, prefix("ctrl-c-slow")), (false, prefix("ctrl-c-wait"))] {
        let proxy = HttpProxy::start(&es_url());
        let dir = tempfile::tempdir().unwrap();
        for f in 0..2 {
            log_file(&dir.path().join(format!("logs/f{f}.json.gz")), &format!("c{f}"), 10, &[]);
        }
        match slow {
            // In flight at the signal: each request is answered 3 s after it arrives.
            true => proxy.delay(Duration::from_secs(3)),
            // Waiting to retry at the signal.
            false => proxy.set(Mode::Status(503)),
        }
        let args = ["backfill", "logs", "--es", &proxy.url, "--index-prefix", &p, "--state", "state"];
        let more = ["--batch-events", "10", "--bulk-concurrency", "2", "--retry-max-delay", "30"];
        let mut child = crate::util::command(dir.path(), &[&args[..], &more].concat(), &[])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let started = Instant::now();
        let wanted = if slow { 2 } else { 6 }; // two batches, three failures each
        while proxy.received() < wanted {
            assert!(started.elapsed() < Duration::from_secs(60), "the requests never came");
            std::thread::sleep(Duration::from_millis(20));
        }
        let before = proxy.received();
        assert_eq!(interrupt(&mut child), 130);
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        let state = std::fs::read_to_string(dir.path().join("state")).unwrap_or_default();
        if slow {
            // The answers came after the signal: both batches are in, both files journalled.
            let (indexed, present, _) =
                event_counts(&crate::util::Run { code: 130, stdout: String::new(), stderr: stderr.clone() });
            assert_eq!(indexed + present, 20, "{stderr}");
            assert_eq!(state.matches(".json.gz").count(), 2, "{state}");
            assert_eq!(cluster.count(&p), 20);
        } else {
            // The waits were given up at once: no request after the signal, nothing journalled.
            assert_eq!(proxy.received(), before, "no retry after the signal");
            assert!(!state.contains(".json.gz"), "{state}");
            assert!(stderr.contains("20 failed"), "{stderr}");
        }
        cluster.clean(&p);
    }
}

#[test]
fn events_whose_reply_was_lost_count_as_indexed_not_as_already_present() {
    let proxy = HttpProxy::start(&es_url());
    let cluster = Cluster::es();
    let p = prefix("lost-reply");
    let dir = tempfile::tempdir().unwrap();
    log_file(&dir.path().join("logs/f.json.gz"), "lost", 50, &[]);
    // The first bulk request is applied by the cluster, and its answer never comes back.
    proxy.set(Mode::LoseReplyOnce);
    let args = ["backfill", "logs", "--es", &proxy.url, "--index-prefix", &p, "--retry-max-delay", "1"];
    let run = run_in(dir.path(), &args, &[]);
    let count = cluster.count(&p);
    cluster.clean(&p);
    run.expect_code(0);
    assert_eq!(proxy.log().len(), 2, "sent, unheard, sent again");
    assert_eq!(event_counts(&run), (50, 0, 0), "this run wrote them: {}", run.stderr);
    assert_eq!(count, 50);
}
