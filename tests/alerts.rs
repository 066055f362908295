//! Alerts from `follow` against moto (S3, SQS, SNS), the real Elasticsearch and a local HTTP receiver
//! (`util/receiver.rs`): the two home-grown setups of docs/design/alerts-and-cloudwatch.md with their exact
//! texts; kill -9 before the alert went out alerts after redelivery, a redelivery after delivery does not; a
//! burst is one message; a receiver that is down for a while gets its alerts afterwards; one down for good
//! gets its events dead-lettered, without its token anywhere.

use crate::util::alerting::{announce, Alerting};
use crate::util::aws::{runtime, sdk_config};
use crate::util::follow::{new_queue, spawn_follow, terminate, wait_for, Queue};
use crate::util::receiver::Receiver;
use crate::util::{prefix, Cluster};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Child;
use std::time::Duration;

fn event(id: &str, name: &str, user: Value, extra: Value) -> Value {
    let mut e = json!({"eventVersion":"1.08","eventID":id,"eventTime":"2024-05-01T10:02:03Z",
        "eventName":name,"eventSource":"s3.amazonaws.com","awsRegion":"us-east-1",
        "sourceIPAddress":"203.0.113.7","userAgent":"aws-cli/2.15.0","userIdentity":user});
    e.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    e
}

fn alice() -> Value {
    json!({"type":"IAMUser","userName":"alice","arn":"arn:aws:iam::111122223333:user/alice",
           "accessKeyId":"AKIAALICEKEY0000SECRET"})
}

/// SIGTERM; the exit status and stderr.
fn stop(child: Child) -> (i32, String) {
    terminate(child, Duration::from_secs(40))
}

const SLACK_PATH: &str = "/services/T000/B000/XXXXSECRETTOKEN";

#[test]
fn changes_go_to_a_chat_webhook_with_the_exact_text() {
    let receiver = Receiver::start();
    let rt = runtime();
    let queue = rt.block_on(new_queue("alert-chat", &[]));
    let events = [
        event("chat-1", "DeleteBucket", alice(), json!({})),
        event("chat-2", "DescribeInstances", alice(), json!({"eventSource":"ec2.amazonaws.com"})),
        event("chat-3", "GetObject", alice(), json!({})),
        event(
            "chat-4",
            "PutBucketPolicy",
            json!({"type":"Root","arn":"arn:aws:iam::111122223333:root","principalId":"111122223333"}),
            json!({"errorCode":"AccessDenied","errorMessage":"Access Denied"}),
        ),
    ];
    rt.block_on(announce(&queue, "alert-chat", &events));
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    let toml = format!(
        "[[alert]]\nname = \"changes\"\nexclude = [\"eventName=Describe*\", \"eventName=Get*\"]\nslack = \"{}\"\n",
        receiver.url(SLACK_PATH)
    );
    std::fs::write(&config, toml).unwrap();
    let cluster = Cluster::es();
    let p = prefix("alert-chat");
    let child = spawn_follow(
        dir.path(),
        &[
            "--config",
            config.to_str().unwrap(),
            "--queue",
            &queue.url,
            "--es",
            &cluster.url,
            "--index-prefix",
            &p,
            "--alert-burst-interval",
            "1",
            "--alert-burst-limit",
            "5",
            "--kibana-url",
            "http://kibana.example:5601",
        ],
    );
    wait_for(Duration::from_secs(60), "the message deleted", || rt.block_on(queue.depth()) == 0);
    let posted = receiver.posted();
    let (code, stderr) = stop(child);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(posted.len(), 1, "one message for the interval: {posted:?}");
    assert_eq!(posted[0].path, SLACK_PATH);
    let text = posted[0].body["text"].as_str().unwrap();
    let link = |id: &str| {
        format!(
            "http://kibana.example:5601/app/discover#/?_a=%28query%3A%28language%3Akuery%2Cquery%3A%27eventID%3A%22{id}%22%27%29%29\
             &_g=%28time%3A%28from%3A%272024%2D05%2D01T09%3A57%3A03Z%27%2Cto%3A%272024%2D05%2D01T10%3A07%3A03Z%27%29%29",
            id = id.replace('-', "%2D")
        )
    };
    let want = format!(
        "[changes] alice: DeleteBucket on s3.amazonaws.com\nwhen: 2024-05-01 10:02:03 UTC\n\
         from: 203.0.113.7 in us-east-1 with aws-cli/2.15.0\n{}\n\n\
         [changes] root: PutBucketPolicy on s3.amazonaws.com\nwhen: 2024-05-01 10:02:03 UTC\n\
         from: 203.0.113.7 in us-east-1 with aws-cli/2.15.0\nfailed: AccessDenied (Access Denied)\n{}",
        link("chat-1"),
        link("chat-4")
    );
    assert_eq!(text, want);
    assert_eq!(cluster.count(&p), 4, "every event indexed");
    assert!(!stderr.contains("XXXXSECRETTOKEN") && stderr.contains("127.0.0.1"), "{stderr}");
    cluster.clean(&p);
}

#[test]
fn alices_calls_go_to_sns_with_the_exact_text() {
    let rt = runtime();
    let (queue, topic, inbox) = rt.block_on(async {
        let queue = new_queue("alert-sns", &[]).await;
        let inbox = new_queue("alert-sns-inbox", &[]).await;
        let sns = aws_sdk_sns::Client::new(&sdk_config().await);
        let topic = sns.create_topic().name(prefix("alerts")).send().await.unwrap().topic_arn.unwrap();
        sns.subscribe()
            .topic_arn(&topic)
            .protocol("sqs")
            .endpoint(&inbox.arn)
            .attributes("RawMessageDelivery", "true")
            .send()
            .await
            .unwrap();
        let events = [
            event("sns-1", "CreateAccessKey", alice(), json!({"eventSource":"iam.amazonaws.com"})),
            event("sns-2", "DeleteBucket", json!({"type":"IAMUser","userName":"bob"}), json!({})),
        ];
        announce(&queue, "alert-sns", &events).await;
        (queue, topic, inbox)
    });
    let dir = tempfile::tempdir().unwrap();
    let child = spawn_follow(
        dir.path(),
        &[
            "--queue",
            &queue.url,
            "--no-index",
            "--redact",
            "userIdentity.accessKeyId",
            "--alert-name",
            "alice",
            "--alert-sns",
            &topic,
            "--alert-include",
            "userIdentity.userName=alice",
            "--alert-timezone",
            "+09:00",
            "--alert-burst-interval",
            "1",
        ],
    );
    wait_for(Duration::from_secs(60), "the message deleted", || rt.block_on(queue.depth()) == 0);
    let (code, stderr) = stop(child);
    assert_eq!(code, 0, "{stderr}");
    let got = rt.block_on(async {
        let out = inbox.sqs.receive_message().queue_url(&inbox.url).max_number_of_messages(10).send().await;
        out.unwrap().messages.unwrap_or_default()
    });
    let bodies: Vec<String> = got.into_iter().filter_map(|m| m.body).collect();
    assert_eq!(
        bodies,
        ["[alice] alice: CreateAccessKey on iam.amazonaws.com\nwhen: 2024-05-01 19:02:03 +09:00\n\
          from: 203.0.113.7 in us-east-1 with aws-cli/2.15.0"],
        "{stderr}"
    );
}

/// A follower posting `events` to the receiver; `extra` flags.
fn follower(dir: &Path, queue: &Queue, receiver: &Receiver, extra: &[&str]) -> Child {
    let hook = receiver.url("/hook/TOKEN123");
    let mut args =
        vec!["--queue", &queue.url, "--no-index", "--alert-name", "changes", "--alert-webhook", &hook];
    args.extend_from_slice(extra);
    spawn_follow(dir, &args)
}

#[test]
fn killed_before_alerting_alerts_after_redelivery_and_a_redelivery_after_delivery_does_not() {
    let at = Alerting::new("alert-kill", true);
    let (rt, queue, receiver, cluster, p) = (&at.rt, &at.queue, &at.receiver, &at.cluster, &at.p);
    let note =
        rt.block_on(announce(queue, "alert-kill", &[event("kill-1", "DeleteBucket", alice(), json!({}))]));
    let args = at.args(&["--visibility-timeout", "2"]);
    let first = at.spawn(&args);
    wait_for(Duration::from_secs(60), "the event indexed", || cluster.count(p) == 1);
    let second = at.kill_and_redeliver(first, &args);
    // The same notification again, as SQS may deliver it: indexed again as a no-op, not announced.
    rt.block_on(queue.send(&note));
    wait_for(Duration::from_secs(30), "the repeat deleted", || rt.block_on(queue.depth()) == 0);
    let (code, stderr) = stop(second);
    assert_eq!(code, 0, "{stderr}");
    let posted = receiver.posted();
    assert_eq!(posted.len(), 1, "{posted:?}");
    assert_eq!(posted[0].body["events"][0]["eventID"], "kill-1");
    assert!(stderr.contains("1 repeats not sent again"), "{stderr}");
    assert_eq!(cluster.count(p), 1);
    cluster.clean(p);
}

#[test]
fn a_burst_of_500_is_one_message() {
    let receiver = Receiver::start();
    let rt = runtime();
    let queue = rt.block_on(new_queue("alert-burst", &[]));
    let events: Vec<Value> =
        (0..500).map(|i| event(&format!("burst-{i}"), "DeleteObject", alice(), json!({}))).collect();
    rt.block_on(announce(&queue, "alert-burst", &events));
    let dir = tempfile::tempdir().unwrap();
    let child = follower(dir.path(), &queue, &receiver, &["--alert-burst-interval", "2"]);
    wait_for(Duration::from_secs(60), "the message deleted", || rt.block_on(queue.depth()) == 0);
    let (code, stderr) = stop(child);
    assert_eq!(code, 0, "{stderr}");
    let posted = receiver.posted();
    assert_eq!(posted.len(), 1, "one message, not 500");
    let body = &posted[0].body;
    assert_eq!((body["count"].as_u64(), body["more"].as_u64()), (Some(500), Some(499)));
    assert!(body["summary"].as_str().unwrap().ends_with("\n\n…and 499 more like this"), "{body}");
    assert_eq!(body["events"].as_array().unwrap().len(), 1);
}

#[test]
fn a_receiver_down_for_a_while_gets_its_alerts_afterwards() {
    let receiver = Receiver::start();
    receiver.down();
    let rt = runtime();
    let queue = rt.block_on(new_queue("alert-down", &[]));
    rt.block_on(announce(&queue, "alert-down", &[event("down-1", "DeleteBucket", alice(), json!({}))]));
    let dir = tempfile::tempdir().unwrap();
    let extra = ["--alert-burst-interval", "1", "--redact", "userIdentity.accessKeyId"];
    let child = follower(dir.path(), &queue, &receiver, &extra);
    // Down for several retries (the first waits are 0.25-0.5 s, then doubling).
    wait_for(Duration::from_secs(60), "retries", || receiver.refused() >= 3);
    assert_eq!(rt.block_on(queue.depth()), 1, "kept while the alert is undelivered");
    receiver.up();
    wait_for(Duration::from_secs(60), "the alert", || receiver.posted().len() == 1);
    wait_for(Duration::from_secs(30), "the message deleted", || rt.block_on(queue.depth()) == 0);
    let (code, stderr) = stop(child);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("trying again") && !stderr.contains("TOKEN123"), "{stderr}");
    let body = receiver.posted()[0].body.to_string();
    assert!(body.contains("\"userName\":\"alice\"") && !body.contains("AKIAALICEKEY"), "redacted: {body}");
}

#[test]
fn a_receiver_down_for_good_gets_its_events_dead_lettered_as_alert_failures() {
    let receiver = Receiver::start();
    receiver.down();
    let rt = runtime();
    let queue = rt.block_on(new_queue("alert-gone", &[]));
    rt.block_on(announce(&queue, "alert-gone", &[event("gone-1", "DeleteBucket", alice(), json!({}))]));
    let dir = tempfile::tempdir().unwrap();
    let child = follower(
        dir.path(),
        &queue,
        &receiver,
        &["--alert-burst-interval", "1", "--alert-retry-timeout", "2"],
    );
    wait_for(Duration::from_secs(60), "the message deleted", || rt.block_on(queue.depth()) == 0);
    let (code, stderr) = stop(child);
    assert_eq!(code, 0, "{stderr}");
    assert!(receiver.posted().is_empty() && receiver.refused() >= 2);
    let letters = std::fs::read_to_string(dir.path().join("cloudtrail-es-dead-letters.ndjson")).unwrap();
    let letter: Value = serde_json::from_str(letters.lines().next().unwrap()).unwrap();
    let reason = letter["reason"].as_str().unwrap();
    assert!(reason.starts_with("alert `changes` to webhook 127.0.0.1 not delivered: HTTP 503"), "{reason}");
    assert_eq!(letter["document"]["eventID"], "gone-1");
    assert!(!letters.contains("TOKEN123") && !stderr.contains("TOKEN123"), "{stderr}");
}
