//! Sending to real clusters: every event of the real corpus lands exactly once (a second run adds
//! nothing) on Elasticsearch 8 and 9 and OpenSearch 3 and 2, as do gzip'd request bodies, and a
//! rejected event ends in the dead-letter file with exit 2 on each of them; a generated corpus
//! lands exactly once; an unreachable cluster is a quick exit 1.
// The tests that need a server (and what only they use) exist with the feature `servers`.
#![cfg_attr(not(feature = "servers"), allow(dead_code, unused_imports))]

use crate::util::{corpus, event_counts, event_ids, generate, on_each_cluster, prefix, run_in, Cluster};
use std::time::{Duration, Instant};

fn backfill_twice(cluster: &Cluster, source: &str, expected: u64) {
    let p = prefix("corpus");
    let dir = tempfile::tempdir().unwrap();
    let args = ["backfill", source, "--es", &cluster.url, "--index-prefix", &p];
    let first = run_in(dir.path(), &args, &[]);
    first.expect_code(0);
    let (indexed, present, dead) = event_counts(&first);
    assert_eq!((indexed + present, dead), (expected, 0), "{}", first.stderr);
    assert_eq!(cluster.count(&p), expected);
    let second = run_in(dir.path(), &args, &[]);
    second.expect_code(0);
    assert!(second.stderr.contains(&format!("0 indexed, {expected} already present")), "{}", second.stderr);
    assert_eq!(cluster.count(&p), expected, "a second run adds nothing");
    cluster.clean(&p);
}

#[cfg(feature = "servers")]
#[test]
fn real_corpus_lands_exactly_once_on_every_cluster() {
    on_each_cluster(|cluster| backfill_twice(cluster, corpus().to_str().unwrap(), 11_799));
}

#[cfg(feature = "servers")]
#[test]
fn gzip_request_bodies_are_accepted_by_every_cluster() {
    on_each_cluster(|cluster| {
        let p = prefix("gzip");
        let dir = tempfile::tempdir().unwrap();
        let source = corpus().join("invictus-ir-aws_dataset");
        let args =
            ["backfill", source.to_str().unwrap(), "--es", &cluster.url, "--index-prefix", &p, "--compress"];
        run_in(dir.path(), &args, &[]).expect_code(0);
        assert_eq!(cluster.count(&p), 2900);
        cluster.clean(&p);
    });
}

#[cfg(feature = "servers")]
#[test]
fn compressed_requests_are_smaller_on_the_wire() {
    let cluster = Cluster::es();
    let dir = tempfile::tempdir().unwrap();
    let source = corpus().join("invictus-ir-aws_dataset");
    let mut sent = Vec::new();
    for compress in [false, true] {
        // Through a counting forwarder, to see what really goes over the wire.
        let proxy = crate::util::proxy::Proxy::start(cluster.url.trim_start_matches("http://"));
        let p = prefix("gzip");
        let mut args = vec!["backfill", source.to_str().unwrap(), "--es", &proxy.url, "--index-prefix", &p];
        args.extend(compress.then_some("--compress"));
        run_in(dir.path(), &args, &[]).expect_code(0);
        assert_eq!(cluster.count(&p), 2900);
        sent.push(proxy.bytes_sent());
        cluster.clean(&p);
    }
    let (plain, gzipped) = (sent[0], sent[1]);
    assert!(gzipped * 3 < plain, "--compress sent {gzipped} bytes, without it {plain}");
}

#[cfg(feature = "servers")]
#[test]
fn generated_corpus_lands_exactly_once_with_digests_skipped() {
    let data = tempfile::tempdir().unwrap();
    generate(data.path(), &["--events", "3000", "--accounts", "2", "--days", "2", "--seed", "7"]);
    let ids = event_ids(data.path());
    assert_eq!(ids.len(), 3000);
    let cluster = Cluster::es();
    backfill_twice(&cluster, data.path().to_str().unwrap(), 3000);
}

#[cfg(feature = "servers")]
#[test]
fn events_the_cluster_rejects_are_dead_lettered_with_exit_2_on_every_cluster() {
    on_each_cluster(rejected_events_are_dead_lettered);
}

fn rejected_events_are_dead_lettered(cluster: &Cluster) {
    let p = prefix("reject");
    // An index whose mapping cannot take a string eventName: that event is rejected for good.
    cluster.put(&format!("/{p}-2024.05.01"), r#"{"mappings":{"properties":{"eventName":{"type":"long"}}}}"#);
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs/a.json");
    std::fs::create_dir_all(logs.parent().unwrap()).unwrap();
    std::fs::write(
        &logs,
        r#"{"Records":[{"eventID":"bad","eventTime":"2024-05-01T00:00:00Z","eventName":"NotANumber"},
                       {"eventID":"good","eventTime":"2024-05-01T00:00:00Z","eventName":"42"}]}"#,
    )
    .unwrap();
    let run = run_in(
        dir.path(),
        &["backfill", "logs", "--es", &cluster.url, "--index-prefix", &p, "--no-setup"],
        &[],
    );
    run.expect_code(2);
    assert!(run.stderr.contains("1 indexed, 0 already present, 1 dead-lettered"), "{}", run.stderr);
    let dead = std::fs::read_to_string(dir.path().join("cloudtrail-es-dead-letters.ndjson")).unwrap();
    let letter: serde_json::Value = serde_json::from_str(dead.lines().next().unwrap()).unwrap();
    assert_eq!(letter["document"]["eventID"], "bad");
    assert_eq!(letter["status"], 400);
    assert!(letter["reason"].as_str().unwrap().contains("eventName"), "{letter}");
    assert!(letter["file"].as_str().unwrap().ends_with("a.json"));
    assert_eq!(cluster.count(&p), 1);
    cluster.clean(&p);
}

#[test]
fn unreachable_cluster_is_a_quick_exit_1_without_the_password() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.json"), r#"{"Records":[]}"#).unwrap();
    let started = Instant::now();
    let run = run_in(dir.path(), &["backfill", "a.json", "--es", "http://elastic:hunter2@127.0.0.1:9"], &[]);
    run.expect_code(1);
    assert!(started.elapsed() < Duration::from_secs(20), "took {:?}", started.elapsed());
    assert!(run.stderr.contains("cannot reach http://127.0.0.1:9"), "{}", run.stderr);
    assert!(!run.stderr.contains("hunter2"), "password leaked: {}", run.stderr);
}
