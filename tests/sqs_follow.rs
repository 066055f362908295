//! `follow` end to end against moto (S3, SNS, SQS) and the real Elasticsearch: every message
//! format is indexed and deleted; a poison message is never deleted; kill -9 and a restart lose
//! nothing; with the cluster unreachable nothing is deleted and everything arrives after; SIGTERM
//! exits 0 within the grace period; `backfill --to-queue` hands a bucket to followers.

use crate::util::aws::{moto_env, new_bucket, put, runtime, s3, sdk_config};
use crate::util::follow::{key, log_file, new_queue, notify_queue, spawn_follow, terminate, wait_for, Queue};
use crate::util::{es_url, output_ids, prefix, run_in, Cluster};
use aws_sdk_sqs::types::QueueAttributeName;
use std::collections::HashSet;
use std::time::{Duration, Instant};

#[test]
fn every_message_format_is_indexed_and_its_message_deleted() {
    let rt = runtime();
    let (queue, expected) = rt.block_on(async {
        let s3 = s3().await;
        let sns = aws_sdk_sns::Client::new(&sdk_config().await);
        let bucket = new_bucket(&s3, "formats").await;
        let queue = new_queue("formats", &[]).await;
        let mut expected = Vec::new();
        let topic = |name: &str| {
            let (sns, name) = (sns.clone(), crate::util::prefix(name));
            async move { sns.create_topic().name(name).send().await.unwrap().topic_arn.unwrap() }
        };
        // CloudTrail's notification through SNS, with the envelope and with raw delivery.
        let (enveloped, raw) = (topic("env").await, topic("raw").await);
        sns.subscribe().topic_arn(&enveloped).protocol("sqs").endpoint(&queue.arn).send().await.unwrap();
        sns.subscribe()
            .topic_arn(&raw)
            .protocol("sqs")
            .endpoint(&queue.arn)
            .attributes("RawMessageDelivery", "true")
            .send()
            .await
            .unwrap();
        for (tag, topic_arn, body_keys) in [("sns-env", &enveloped, "list"), ("sns-raw", &raw, "string")] {
            put(&s3, &bucket, &key(tag), log_file(tag, 3)).await;
            let keys = if body_keys == "list" {
                format!(r#"["{}"]"#, key(tag))
            } else {
                format!(r#""{}""#, key(tag))
            };
            let message = format!(r#"{{"s3Bucket":"{bucket}","s3ObjectKey":{keys}}}"#);
            sns.publish().topic_arn(topic_arn).message(message).send().await.unwrap();
            expected.extend((0..3).map(|i| format!("{tag}-{i}")));
        }
        sns.publish().topic_arn(&enveloped).message("CloudTrail validation message.").send().await.unwrap();
        // EventBridge's "Object Created" shape, sent as EventBridge would.
        put(&s3, &bucket, &key("eb"), log_file("eb", 2)).await;
        let eb = serde_json::json!({"version":"0","id":"1","detail-type":"Object Created","source":"aws.s3",
            "detail":{"bucket":{"name":bucket},"object":{"key":key("eb")}}});
        queue.send(&eb.to_string()).await;
        expected.extend(["eb-0".to_string(), "eb-1".to_string()]);
        // S3 event notifications straight to SQS (moto sends an s3:TestEvent first), with an odd key.
        notify_queue(&s3, &bucket, &queue.arn).await;
        let odd = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/odd name+plus ü ☃.json.gz";
        put(&s3, &bucket, odd, log_file("s3-odd", 2)).await;
        expected.extend(["s3-odd-0".to_string(), "s3-odd-1".to_string()]);
        // S3 event notifications through SNS.
        let bucket2 = new_bucket(&s3, "formats2").await;
        let s3_topic = topic("s3topic").await;
        sns.subscribe().topic_arn(&s3_topic).protocol("sqs").endpoint(&queue.arn).send().await.unwrap();
        let via_sns = aws_sdk_s3::types::NotificationConfiguration::builder()
            .topic_configurations(
                aws_sdk_s3::types::TopicConfiguration::builder()
                    .topic_arn(&s3_topic)
                    .events(aws_sdk_s3::types::Event::S3ObjectCreated)
                    .build()
                    .unwrap(),
            )
            .build();
        s3.put_bucket_notification_configuration()
            .bucket(&bucket2)
            .notification_configuration(via_sns)
            .send()
            .await
            .unwrap();
        put(&s3, &bucket2, &key("s3-sns"), log_file("s3-sns", 2)).await;
        expected.extend(["s3-sns-0".to_string(), "s3-sns-1".to_string()]);
        // A digest announced like a log: skipped, and its message deleted.
        put(
            &s3,
            &bucket2,
            "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/05/01/d.json.gz",
            b"{}".to_vec(),
        )
        .await;
        (queue, expected)
    });
    assert!(rt.block_on(queue.depth()) >= 8, "every message is queued");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.ndjson");
    let child = spawn_follow(
        dir.path(),
        &["--queue", &queue.url, "--output", out.to_str().unwrap(), "--shutdown-timeout", "10"],
    );
    let want: HashSet<String> = expected.into_iter().collect();
    wait_for(Duration::from_secs(60), "every event in the output", || {
        output_ids(&out).into_iter().collect::<HashSet<_>>() == want
    });
    wait_for(Duration::from_secs(30), "every message deleted", || rt.block_on(queue.depth()) == 0);
    let (code, stderr) = terminate(child, Duration::from_secs(12));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(output_ids(&out).len(), want.len(), "each event once: {stderr}");
    assert!(!stderr.contains("not notifications") || stderr.contains("0 not notifications"), "{stderr}");
}

#[test]
fn a_poison_message_is_never_deleted() {
    let rt = runtime();
    let (queue, dlq) = rt.block_on(async {
        let dlq = new_queue("poison-dlq", &[]).await;
        let redrive = format!(r#"{{"deadLetterTargetArn":"{}","maxReceiveCount":"2"}}"#, dlq.arn);
        let queue = new_queue("poison", &[(QueueAttributeName::RedrivePolicy, redrive)]).await;
        queue.send("this is not a notification").await;
        (queue, dlq)
    });
    let dir = tempfile::tempdir().unwrap();
    let child =
        spawn_follow(dir.path(), &["--queue", &queue.url, "--output", "-", "--visibility-timeout", "1"]);
    wait_for(Duration::from_secs(30), "the poison message to reach the dead-letter queue", || {
        rt.block_on(dlq.depth()) == 1
    });
    let (code, stderr) = terminate(child, Duration::from_secs(35));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("not JSON") && stderr.contains("left in the queue for its dead-letter queue"),
        "{stderr}"
    );
    assert_eq!(rt.block_on(dlq.depth()) + rt.block_on(queue.depth()), 1, "the message still exists");
}

/// Uploads `files` files of `per_file` events and announces each with its own message.
fn load_queue(name: &str, files: usize, per_file: usize) -> (Queue, u64) {
    runtime().block_on(async {
        let s3 = s3().await;
        let bucket = new_bucket(&s3, name).await;
        let queue = new_queue(name, &[]).await;
        for f in 0..files {
            let tag = format!("{name}{f}");
            put(&s3, &bucket, &key(&tag), log_file(&tag, per_file)).await;
            queue.send(&format!(r#"{{"s3Bucket":"{bucket}","s3ObjectKey":["{}"]}}"#, key(&tag))).await;
        }
        (queue, (files * per_file) as u64)
    })
}

#[test]
fn a_follower_killed_mid_work_and_restarted_loses_nothing() {
    let (queue, total) = load_queue("killed", 60, 40);
    let cluster = Cluster::es();
    let p = prefix("killed");
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--queue",
        &queue.url,
        "--es",
        &cluster.url,
        "--index-prefix",
        &p,
        "--max-in-flight",
        "2",
        "--batch-events",
        "10",
        "--visibility-timeout",
        "2",
        "--readers",
        "1",
    ];
    let mut first = spawn_follow(dir.path(), &args);
    let rt = runtime();
    wait_for(Duration::from_secs(60), "some work done", || rt.block_on(queue.depth()) < 50);
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(rt.block_on(queue.depth()) > 0, "killed mid-way");
    let second = spawn_follow(dir.path(), &args);
    wait_for(Duration::from_secs(120), "the queue to empty", || rt.block_on(queue.depth()) == 0);
    let (code, stderr) = terminate(second, Duration::from_secs(35));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(cluster.count(&p), total, "every event exactly once");
    cluster.clean(&p);
}

#[test]
fn with_the_cluster_unreachable_nothing_is_deleted_and_everything_arrives_after() {
    let es = es_url();
    let proxy = crate::util::proxy::Proxy::start(es.trim_start_matches("http://"));
    let cluster = Cluster::es();
    let p = prefix("outage");
    let dir = tempfile::tempdir().unwrap();
    let queue = runtime().block_on(new_queue("outage", &[]));
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let metrics = format!("127.0.0.1:{port}");
    let args = [
        "--queue",
        &queue.url,
        "--es",
        &proxy.url,
        "--index-prefix",
        &p,
        "--retry-max-delay",
        "1",
        "--visibility-timeout",
        "5",
        "--metrics-addr",
        &metrics,
        "--unhealthy-after",
        "2",
    ];
    let child = spawn_follow(dir.path(), &args);
    // The metrics server starts once the cluster has answered.
    let healthz = || ureq::get(&format!("http://{metrics}/healthz")).call().map_err(Box::new);
    wait_for(Duration::from_secs(60), "the follower to connect", || healthz().is_ok());
    proxy.down();
    let (loaded, total) = load_queue("outage", 5, 20);
    let rt = runtime();
    // Move the messages to the follower's queue, so they are announced while the cluster is away.
    rt.block_on(async {
        let received = loaded
            .sqs
            .receive_message()
            .queue_url(&loaded.url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        for m in received.messages.unwrap_or_default() {
            queue.send(m.body.as_deref().unwrap()).await;
        }
    });
    // Unhealthy after 2 s of failures: by then the messages have been tried against the outage.
    wait_for(Duration::from_secs(30), "/healthz to fail", || {
        matches!(healthz().map_err(|e| *e), Err(ureq::Error::Status(503, _)))
    });
    std::thread::sleep(Duration::from_secs(3)); // more retries against the outage
    assert_eq!(rt.block_on(queue.depth()), 5, "no message deleted while the cluster is unreachable");
    match healthz().map_err(|e| *e) {
        Err(ureq::Error::Status(503, r)) => {
            assert!(r.into_string().unwrap().starts_with("elasticsearch failing"))
        }
        other => panic!("/healthz should fail during the outage: {other:?}"),
    }
    proxy.up();
    wait_for(Duration::from_secs(60), "every event after the cluster returns", || cluster.count(&p) == total);
    wait_for(Duration::from_secs(30), "the queue to empty", || rt.block_on(queue.depth()) == 0);
    assert!(ureq::get(&format!("http://{metrics}/healthz")).call().is_ok(), "healthy again");
    let text = ureq::get(&format!("http://{metrics}/metrics")).call().unwrap().into_string().unwrap();
    assert!(text.contains(&format!("cloudtrail_es_events_indexed_total {total}")), "{text}");
    assert!(text.contains("cloudtrail_es_messages_deleted_total 5"), "{text}");
    // Each message was received once: its visibility was extended while the cluster was away
    // (the timeout is 5 s, the outage over 8 s), so it never reappeared.
    assert!(text.contains("cloudtrail_es_messages_received_total 5"), "{text}");
    assert!(text.contains("cloudtrail_es_lag_seconds "), "lag is reported once events are in: {text}");
    let (code, stderr) = terminate(child, Duration::from_secs(35));
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("retrying"), "{stderr}");
    cluster.clean(&p);
}

#[test]
fn backfill_to_queue_hands_a_bucket_to_followers() {
    let rt = runtime();
    let (bucket, queue) = rt.block_on(async {
        let s3 = s3().await;
        let bucket = new_bucket(&s3, "toqueue").await;
        for f in 0..7 {
            let tag = format!("tq{f}");
            put(&s3, &bucket, &key(&tag), log_file(&tag, 5)).await;
        }
        (bucket, new_queue("toqueue", &[]).await)
    });
    let dir = tempfile::tempdir().unwrap();
    let env = moto_env();
    let source = format!("s3://{bucket}/");
    let run = run_in(dir.path(), &["backfill", &source, "--to-queue", &queue.url], &env);
    run.expect_code(0);
    assert!(run.stderr.contains("7 enqueued"), "{}", run.stderr);
    assert_eq!(rt.block_on(queue.depth()), 7);
    let out = dir.path().join("out.ndjson");
    let child = spawn_follow(dir.path(), &["--queue", &queue.url, "--output", out.to_str().unwrap()]);
    wait_for(Duration::from_secs(60), "all events", || output_ids(&out).len() == 35);
    wait_for(Duration::from_secs(30), "the queue to empty", || rt.block_on(queue.depth()) == 0);
    let (code, stderr) = terminate(child, Duration::from_secs(35));
    assert_eq!(code, 0, "{stderr}");
}

/// Each upload to an idle queue becomes searchable and its message is deleted, one after another
/// (S3 event notification → follow → Elasticsearch refresh). Not a timed assertion: the latency
/// is printed for the record.
#[test]
fn each_upload_to_an_idle_queue_becomes_searchable_and_its_message_goes() {
    let rt = runtime();
    let (s3c, bucket, queue) = rt.block_on(async {
        let s3c = s3().await;
        let bucket = new_bucket(&s3c, "latency").await;
        let queue = new_queue("latency", &[]).await;
        notify_queue(&s3c, &bucket, &queue.arn).await;
        (s3c, bucket, queue)
    });
    let cluster = Cluster::es();
    let p = prefix("latency");
    let dir = tempfile::tempdir().unwrap();
    let child =
        spawn_follow(dir.path(), &["--queue", &queue.url, "--es", &cluster.url, "--index-prefix", &p]);
    wait_for(Duration::from_secs(30), "the test event to be consumed", || rt.block_on(queue.depth()) == 0);
    let mut latencies = Vec::new();
    for round in 0..5 {
        let tag = format!("lat{round}");
        let started = Instant::now();
        rt.block_on(put(&s3c, &bucket, &key(&tag), log_file(&tag, 1)));
        let count = |p: &str| {
            let body = serde_json::json!({"query": {"term": {"eventID": format!("{tag}-0")}}});
            ureq::post(&format!("{}/{p}-*/_count", cluster.url))
                .send_json(body)
                .ok()
                .and_then(|r| r.into_json::<serde_json::Value>().ok())
                .and_then(|v| v["count"].as_u64())
                .unwrap_or(0)
        };
        wait_for(Duration::from_secs(30), "the event to be searchable", || count(&p) == 1);
        latencies.push(started.elapsed());
        wait_for(Duration::from_secs(30), "its message to be deleted", || rt.block_on(queue.depth()) == 0);
    }
    assert_eq!(cluster.count(&p), 5, "one document per upload");
    latencies.sort();
    eprintln!("upload → searchable with an idle queue: median {:?}, all {latencies:?}", latencies[2]);
    let (code, stderr) = terminate(child, Duration::from_secs(35));
    assert_eq!(code, 0, "{stderr}");
    cluster.clean(&p);
}
