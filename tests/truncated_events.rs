//! CloudTrail's truncation flag: "CloudTrail truncates a field if the field's contents exceeds the
//! maximum field size. If a field is truncated, `omitted` is present with a value of true" (record
//! contents, AWS CloudTrail User Guide). An event saying `"omitted": true` lands on each of the
//! four engines, `omitted` is mapped as a boolean by our template (a term query on `true` finds
//! exactly it; unmapped, as under `dynamic: false` before, it found nothing), and the run counts
//! it: in the summary of `backfill`, and in `follow`'s `/metrics`.

use crate::util::aws::{new_bucket, put, runtime, s3};
use crate::util::follow::{new_queue, notify_queue, spawn_follow, terminate, wait_for};
use crate::util::{on_each_cluster, prefix, run_in, write_gz, Cluster};
use serde_json::json;
use std::path::Path;
use std::time::Duration;

/// Four events: truncated, not truncated (`false`), without the flag, and one whose free-form
/// object holds an `omitted` key of its own (not CloudTrail's flag).
fn log(path: &Path) {
    let event = |id: &str, extra: serde_json::Value| {
        let mut e = json!({"eventVersion": "1.11", "eventTime": "2024-05-01T10:00:00Z", "eventID": id,
            "eventSource": "ec2.amazonaws.com", "eventName": "RunInstances", "userAgent": "AWS Internal"});
        e.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        e
    };
    let records = json!({"Records": [
        event("cut", json!({"omitted": true, "requestParameters": {}})),
        event("whole", json!({"omitted": false})),
        event("plain", json!({})),
        event("inner", json!({"requestParameters": {"omitted": true}})),
    ]});
    write_gz(path, records.to_string().as_bytes());
}

fn lands_mapped_and_counted(cluster: &Cluster) {
    let p = prefix("omitted");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("trail.json.gz");
    log(&file);
    let run = run_in(
        dir.path(),
        &["backfill", file.to_str().unwrap(), "--es", &cluster.url, "--index-prefix", &p],
        &[],
    );
    run.expect_code(0);
    assert!(run.stderr.contains("4 read: 4 indexed"), "{}", run.stderr);
    let mapping = cluster.get(&format!("/{p}-2024.05.01/_mapping/field/omitted"));
    let ty = &mapping[format!("{p}-2024.05.01")]["mappings"]["omitted"]["mapping"]["omitted"]["type"];
    assert_eq!(ty, "boolean", "{mapping}");
    let found = cluster.search(&p, json!({"query": {"term": {"omitted": true}}}));
    let ids: Vec<&str> =
        found["hits"]["hits"].as_array().unwrap().iter().map(|h| h["_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["cut"], "{found}");
    let found = cluster.search(&p, json!({"query": {"term": {"omitted": false}}}));
    assert_eq!(found["hits"]["hits"][0]["_id"], "whole", "{found}");
    assert!(run.stderr.contains("; 1 truncated by CloudTrail (\"omitted\": true)\n"), "{}", run.stderr);
    cluster.clean(&p);
}

#[test]
fn a_truncated_event_lands_is_boolean_mapped_and_counted_on_every_cluster() {
    on_each_cluster(lands_mapped_and_counted);
}

#[test]
fn follow_counts_truncated_events_in_its_metrics_and_summary() {
    let cluster = Cluster::es();
    let p = prefix("omitted-follow");
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let file = dir.path().join("trail.json.gz");
    log(&file);
    let queue = rt.block_on(async {
        let s3 = s3().await;
        let bucket = new_bucket(&s3, "omitted").await;
        let queue = new_queue("omitted", &[]).await;
        notify_queue(&s3, &bucket, &queue.arn).await;
        let key = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/111122223333_CloudTrail_us-east-1_20240501T1000Z_cut.json.gz";
        put(&s3, &bucket, key, std::fs::read(&file).unwrap()).await;
        queue
    });
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let metrics = format!("127.0.0.1:{port}");
    let args =
        ["--queue", &queue.url, "--es", &cluster.url, "--index-prefix", &p, "--metrics-addr", &metrics];
    let child = spawn_follow(dir.path(), &args);
    wait_for(Duration::from_secs(60), "the four events", || cluster.count(&p) == 4);
    let text = ureq::get(&format!("http://{metrics}/metrics")).call().unwrap().into_string().unwrap();
    assert!(
        text.contains(
            "# TYPE cloudtrail_es_events_omitted_total counter\ncloudtrail_es_events_omitted_total 1\n"
        ),
        "{text}"
    );
    let (code, stderr) = terminate(child, Duration::from_secs(35));
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("; 1 truncated by CloudTrail (\"omitted\": true)"), "{stderr}");
    cluster.clean(&p);
}
