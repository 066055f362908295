//! The set-up the tests of `follow`'s alerts share (`alerts.rs`, `sigma_follow.rs`): a trail
//! file announced on a queue, a webhook receiver with a follower wired to it and to the real
//! Elasticsearch, and the kill -9 before an alert went out followed by the redelivery that sends
//! it.

use super::aws::{new_bucket, put, runtime, s3};
use super::follow::{new_queue, spawn_follow, wait_for, Queue};
use super::receiver::Receiver;
use super::{prefix, write_gz, Cluster};
use serde_json::{json, Value};
use std::process::Child;
use std::time::Duration;

/// Puts a trail file holding `records` in a new bucket named after `name` (under CloudTrail's
/// layout) and sends CloudTrail's notification of it to `queue`; the notification, to send again.
pub async fn announce(queue: &Queue, name: &str, records: &[Value]) -> String {
    let s3 = s3().await;
    let bucket = new_bucket(&s3, name).await;
    let key = format!("AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/111122223333_CloudTrail_us-east-1_20240501T1000Z_{name}.json.gz");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.json.gz");
    write_gz(&path, json!({ "Records": records }).to_string().as_bytes());
    put(&s3, &bucket, &key, std::fs::read(path).unwrap()).await;
    let note = json!({"s3Bucket": bucket, "s3ObjectKey": [key]}).to_string();
    queue.send(&note).await;
    note
}

/// A follower's surroundings: a webhook receiver, a runtime for the test's AWS calls, a queue on
/// moto, the real Elasticsearch with the test's own prefix, and a working folder.
pub struct Alerting {
    pub receiver: Receiver,
    pub rt: tokio::runtime::Runtime,
    pub queue: Queue,
    pub cluster: Cluster,
    pub p: String,
    pub dir: tempfile::TempDir,
}

impl Alerting {
    /// Everything named after `name`; the receiver starts down (answering 503) when `down`.
    pub fn new(name: &str, down: bool) -> Self {
        let receiver = Receiver::start();
        if down {
            receiver.down();
        }
        let rt = runtime();
        let queue = rt.block_on(new_queue(name, &[]));
        let dir = tempfile::tempdir().unwrap();
        Alerting { receiver, rt, queue, cluster: Cluster::es(), p: prefix(name), dir }
    }

    /// The flags that wire a follower to these (`--queue`, `--es`, `--index-prefix`, a webhook
    /// alert sent after a one-second burst interval), then `extra`.
    pub fn args(&self, extra: &[&str]) -> Vec<String> {
        let hook = self.receiver.url("/hook/TOKEN123");
        let mut args: Vec<String> = [
            "--queue",
            &self.queue.url,
            "--es",
            &self.cluster.url,
            "--index-prefix",
            &self.p,
            "--alert-webhook",
            &hook,
            "--alert-burst-interval",
            "1",
        ]
        .map(String::from)
        .to_vec();
        args.extend(extra.iter().map(|a| a.to_string()));
        args
    }

    /// Starts a follower with `args`.
    pub fn spawn(&self, args: &[String]) -> Child {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        spawn_follow(self.dir.path(), &args)
    }

    /// With the receiver down: once `first` has tried to alert, kills it (-9), checks that nothing
    /// was announced and that its message is still on the queue, brings the receiver up and
    /// starts a second follower with `args`; returns it once an alert arrived and the queue is
    /// empty.
    pub fn kill_and_redeliver(&self, mut first: Child, args: &[String]) -> Child {
        wait_for(Duration::from_secs(30), "an alert attempt", || self.receiver.refused() > 0);
        first.kill().unwrap();
        first.wait().unwrap();
        assert!(self.receiver.posted().is_empty());
        assert_eq!(self.depth(), 1, "not deleted: its alert was not delivered");
        self.receiver.up();
        let second = self.spawn(args);
        wait_for(Duration::from_secs(60), "the alert after redelivery", || {
            !self.receiver.posted().is_empty()
        });
        wait_for(Duration::from_secs(30), "the message deleted", || self.depth() == 0);
        second
    }

    /// Messages on the queue, visible or in flight.
    pub fn depth(&self) -> u64 {
        self.rt.block_on(self.queue.depth())
    }
}
