//! Sigma findings in `follow`, with CloudTrail's real-time events from EventBridge (moto SQS and
//! S3, the real Elasticsearch, a local webhook receiver): an EventBridge event alerts within
//! seconds and the later trail file with the same event adds no document, finding or alert; a
//! follower killed -9 after indexing and before alerting alerts exactly once after redelivery.

use crate::util::alerting::{announce, Alerting};
use crate::util::follow::{terminate, wait_for};
use crate::util::Cluster;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// StopLogging by an IAM user: SigmaHQ's "AWS CloudTrail Important Change" (medium) fires.
fn stop_logging(id: &str) -> Value {
    json!({"eventVersion":"1.09","eventID":id,"eventTime":"2024-05-01T10:02:03Z",
        "eventName":"StopLogging","eventSource":"cloudtrail.amazonaws.com","awsRegion":"us-east-1",
        "eventType":"AwsApiCall","sourceIPAddress":"203.0.113.7","userAgent":"aws-cli/2.15.0",
        "recipientAccountId":"111122223333","requestParameters":{"name":"main-trail"},
        "userIdentity":{"type":"IAMUser","userName":"mallory","arn":"arn:aws:iam::111122223333:user/mallory",
            "accountId":"111122223333","accessKeyId":"AKIAMALLORYKEY000000"}})
}

/// EventBridge's delivery of a CloudTrail record (what an EventBridge rule sends to SQS).
fn eventbridge(record: &Value) -> String {
    json!({"version":"0","id":"6f1a","detail-type":"AWS API Call via CloudTrail","source":"aws.cloudtrail",
        "account":"111122223333","time":"2024-05-01T10:02:03Z","region":"us-east-1","resources":[],
        "detail": record})
    .to_string()
}

fn count(cluster: &Cluster, index: &str) -> u64 {
    cluster.post(&format!("/{index}/_refresh"), "");
    cluster.get(&format!("/{index}/_count"))["count"].as_u64().unwrap_or(0)
}

#[test]
fn an_eventbridge_event_alerts_in_seconds_and_its_trail_file_adds_nothing() {
    let at = Alerting::new("sigma-eb", false);
    let (rt, queue, receiver, cluster, p) = (&at.rt, &at.queue, &at.receiver, &at.cluster, &at.p);
    let args = at.args(&[
        "--rules",
        "builtin",
        "--alert-findings",
        "medium",
        "--redact-preset",
        "credentials=remove",
    ]);
    let child = at.spawn(&args);
    // The follower is up once its queue is being read; then the event is sent and timed.
    std::thread::sleep(Duration::from_secs(3));
    let record = stop_logging("eb-1");
    let sent = Instant::now();
    rt.block_on(queue.send(&eventbridge(&record)));
    wait_for(Duration::from_secs(30), "the alert", || !receiver.posted().is_empty());
    let took = sent.elapsed();
    assert!(took < Duration::from_secs(10), "alerted {took:?} after the call");
    wait_for(Duration::from_secs(30), "the message deleted", || rt.block_on(queue.depth()) == 0);
    let findings = count(cluster, &format!("{p}-findings-*"));
    assert!(findings >= 1);
    assert_eq!(count(cluster, &format!("{p}-2024.05.01")), 1);

    rt.block_on(announce(queue, "sigma-eb", &[record]));
    wait_for(Duration::from_secs(60), "the trail file's message deleted", || rt.block_on(queue.depth()) == 0);
    std::thread::sleep(Duration::from_secs(2));
    let (code, stderr) = terminate(child, Duration::from_secs(40));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(count(cluster, &format!("{p}-2024.05.01")), 1, "one document");
    assert_eq!(count(cluster, &format!("{p}-findings-*")), findings, "no second finding");
    let posted = receiver.posted();
    assert_eq!(posted.len(), 1, "no second alert: {posted:?}");
    let finding = &posted[0].body["events"][0];
    assert_eq!(finding["eventID"], "eb-1");
    assert_eq!(finding["rule"]["author"], "vitaliy0x1", "{finding}");
    let summary = posted[0].body["summary"].as_str().unwrap();
    assert!(summary.contains("AWS CloudTrail Important Change (medium): mallory: StopLogging"), "{summary}");
    assert!(summary.contains("author: vitaliy0x1"), "{summary}");
    assert!(!posted[0].body.to_string().contains("AKIAMALLORY"), "redaction holds in findings and alerts");
    assert!(stderr.contains("already present"), "{stderr}");
    cluster.clean(p);
}

#[test]
fn killed_after_indexing_and_before_alerting_alerts_once_after_redelivery() {
    let at = Alerting::new("sigma-kill", true);
    let (cluster, p) = (&at.cluster, &at.p);
    let args = at.args(&["--rules", "builtin", "--alert-findings", "low", "--visibility-timeout", "2"]);
    at.rt.block_on(at.queue.send(&eventbridge(&stop_logging("kill-1"))));
    let first = at.spawn(&args);
    wait_for(Duration::from_secs(60), "the event and its finding indexed", || {
        count(cluster, &format!("{p}-findings-*")) >= 1 && count(cluster, &format!("{p}-2024.05.01")) == 1
    });
    let second = at.kill_and_redeliver(first, &args);
    std::thread::sleep(Duration::from_secs(2));
    let (code, stderr) = terminate(second, Duration::from_secs(40));
    assert_eq!(code, 0, "{stderr}");
    let posted = at.receiver.posted();
    let about_kill: Vec<_> = posted
        .iter()
        .flat_map(|p| p.body["events"].as_array().cloned().unwrap_or_default())
        .filter(|e| e["eventID"] == "kill-1" && e["rule"]["title"] == "AWS CloudTrail Important Change")
        .collect();
    assert_eq!(about_kill.len(), 1, "exactly once: {posted:?}");
    cluster.clean(p);
}
