//! `follow` reads only what it was meant to read: with `--allow-bucket`, a message naming another
//! bucket is left for the queue's dead-letter queue and nothing of it is indexed; so is a key
//! outside CloudTrail's layout unless `--any-key`. The refusal is logged on one line naming the
//! bucket and why.

use crate::util::aws::{new_bucket, put, runtime, s3};
use crate::util::follow::{key, log_file, new_queue, spawn_follow, terminate, wait_for};
use crate::util::output_ids;
use aws_sdk_sqs::types::QueueAttributeName;
use std::time::Duration;

/// An S3 event notification body for one object.
fn notification(bucket: &str, key: &str) -> String {
    serde_json::json!({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": bucket}, "object": {"key": key}}}]})
    .to_string()
}

#[test]
fn messages_for_other_buckets_or_keys_outside_the_layout_reach_the_dead_letter_queue() {
    let rt = runtime();
    let (queue, dlq, trail, other) = rt.block_on(async {
        let s3 = s3().await;
        let (trail, other) = (new_bucket(&s3, "trail").await, new_bucket(&s3, "other").await);
        put(&s3, &trail, &key("ok"), log_file("ok", 2)).await;
        put(&s3, &other, &key("foreign"), log_file("foreign", 2)).await;
        put(&s3, &trail, "exports/secret.json.gz", log_file("outside", 2)).await;
        let dlq = new_queue("scope-dlq", &[]).await;
        let redrive = format!(r#"{{"deadLetterTargetArn":"{}","maxReceiveCount":"1"}}"#, dlq.arn);
        let queue = new_queue("scope", &[(QueueAttributeName::RedrivePolicy, redrive)]).await;
        queue.send(&notification(&other, &key("foreign"))).await;
        queue.send(&notification(&trail, "exports/secret.json.gz")).await;
        queue.send(&notification(&trail, &key("ok"))).await;
        (queue, dlq, trail, other)
    });
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.ndjson");
    let args = [
        "--queue",
        &queue.url,
        "--output",
        out.to_str().unwrap(),
        "--allow-bucket",
        &trail,
        "--visibility-timeout",
        "1",
    ];
    let child = spawn_follow(dir.path(), &args);
    wait_for(Duration::from_secs(60), "both refused messages in the dead-letter queue", || {
        rt.block_on(dlq.depth()) == 2
    });
    wait_for(Duration::from_secs(30), "the trail's message deleted", || rt.block_on(queue.depth()) == 0);
    let (code, stderr) = terminate(child, Duration::from_secs(35));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(output_ids(&out), ["ok-0", "ok-1"], "nothing of the refused objects is read: {stderr}");
    assert!(
        stderr.contains(&format!("s3://{other}/")) && stderr.contains("not in --allow-bucket"),
        "{stderr}"
    );
    assert!(stderr.contains("not in CloudTrail's layout"), "{stderr}");
    assert!(!stderr.contains("no --allow-bucket given"), "no warning with an allow-list: {stderr}");
}

#[test]
fn without_an_allow_list_the_follower_warns_and_any_key_reads_keys_outside_the_layout() {
    let rt = runtime();
    let (queue, bucket) = rt.block_on(async {
        let s3 = s3().await;
        let bucket = new_bucket(&s3, "anykey").await;
        put(&s3, &bucket, "firehose/2024/05/01/x.gz", log_file("fh", 1)).await;
        let queue = new_queue("anykey", &[]).await;
        queue.send(&notification(&bucket, "firehose/2024/05/01/x.gz")).await;
        (queue, bucket)
    });
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.ndjson");
    let child =
        spawn_follow(dir.path(), &["--queue", &queue.url, "--output", out.to_str().unwrap(), "--any-key"]);
    wait_for(Duration::from_secs(60), "the message deleted", || rt.block_on(queue.depth()) == 0);
    let (code, stderr) = terminate(child, Duration::from_secs(35));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(output_ids(&out), ["fh-0"], "{bucket}: {stderr}");
    assert!(stderr.contains("no --allow-bucket given"), "{stderr}");
}

/// A long poll still waiting at SIGTERM is let finish, and what it received is given back at once
/// (visibility 0) instead of staying invisible for a whole visibility timeout with nobody on it.
#[test]
fn a_message_received_while_stopping_is_given_back_at_once() {
    let rt = runtime();
    let (queue, bucket) = rt.block_on(async {
        let s3 = s3().await;
        let bucket = new_bucket(&s3, "release").await;
        put(&s3, &bucket, &key("first"), log_file("first", 1)).await;
        put(&s3, &bucket, &key("late"), log_file("late", 1)).await;
        let queue = new_queue("release", &[]).await;
        queue.send(&notification(&bucket, &key("first"))).await;
        (queue, bucket)
    });
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.ndjson");
    let args = ["--queue", &queue.url, "--output", out.to_str().unwrap(), "--visibility-timeout", "300"];
    let mut child = spawn_follow(dir.path(), &args);
    wait_for(Duration::from_secs(60), "the first message handled", || rt.block_on(queue.depth()) == 0);
    // Now idle in a 20 s long poll: stop it, then give that poll something to take.
    crate::util::follow::unsafe_kill(child.id(), "TERM");
    std::thread::sleep(Duration::from_millis(300));
    assert!(child.try_wait().unwrap().is_none(), "the follower waits for its long poll to end");
    rt.block_on(queue.send(&notification(&bucket, &key("late"))));
    let (code, stderr) = crate::util::follow::wait_exit(child, Duration::from_secs(35));
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("received while stopping: released to the queue"), "{stderr}");
    assert_eq!(rt.block_on(queue.visible()), 1, "visible again at once, not after 300 s: {stderr}");
    assert_eq!(output_ids(&out), ["first-0"], "the late message was not worked on");
}
