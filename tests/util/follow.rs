//! Helpers for tests of `follow`: queues on moto, log files and their keys, a follower process
//! and how to stop it, and waiting for a condition instead of sleeping.

use super::aws::{moto_env, sdk_config};
use super::{command, write_gz};
use aws_sdk_sqs::types::QueueAttributeName;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// A queue on moto.
pub struct Queue {
    pub sqs: aws_sdk_sqs::Client,
    pub url: String,
    pub arn: String,
}

pub async fn new_queue(name: &str, attributes: &[(QueueAttributeName, String)]) -> Queue {
    let sqs = aws_sdk_sqs::Client::new(&sdk_config().await);
    let mut req = sqs.create_queue().queue_name(crate::util::prefix(name));
    for (k, v) in attributes {
        req = req.attributes(k.clone(), v);
    }
    let url = req.send().await.unwrap().queue_url.unwrap();
    let attrs =
        sqs.get_queue_attributes().queue_url(&url).attribute_names(QueueAttributeName::QueueArn).send().await;
    let arn = attrs.unwrap().attributes.unwrap()[&QueueAttributeName::QueueArn].clone();
    Queue { sqs, url, arn }
}

impl Queue {
    /// Visible plus in-flight messages.
    pub async fn depth(&self) -> u64 {
        let names = [
            QueueAttributeName::ApproximateNumberOfMessages,
            QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
        ];
        let out = self
            .sqs
            .get_queue_attributes()
            .queue_url(&self.url)
            .set_attribute_names(Some(names.to_vec()))
            .send()
            .await;
        out.unwrap().attributes.unwrap().values().map(|v| v.parse::<u64>().unwrap()).sum()
    }

    /// Messages visible now (not in flight).
    pub async fn visible(&self) -> u64 {
        let out = self
            .sqs
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await;
        out.unwrap().attributes.unwrap().values().map(|v| v.parse::<u64>().unwrap()).sum()
    }

    pub async fn send(&self, body: &str) {
        self.sqs.send_message().queue_url(&self.url).message_body(body).send().await.unwrap();
    }
}

/// S3 event notifications for new objects in `bucket`, straight to the queue.
pub async fn notify_queue(s3: &aws_sdk_s3::Client, bucket: &str, queue_arn: &str) {
    use aws_sdk_s3::types::{Event, NotificationConfiguration, QueueConfiguration};
    let to_queue =
        QueueConfiguration::builder().queue_arn(queue_arn).events(Event::S3ObjectCreated).build().unwrap();
    let config = NotificationConfiguration::builder().queue_configurations(to_queue).build();
    s3.put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(config)
        .send()
        .await
        .unwrap();
}

/// A small log file with `n` events whose ids start with `tag`.
pub fn log_file(tag: &str, n: usize) -> Vec<u8> {
    let events: Vec<String> = (0..n)
        .map(|i| format!(r#"{{"eventID":"{tag}-{i}","eventTime":"2024-05-01T10:00:00Z","eventName":"E{i}","userAgent":"AWS Internal"}}"#))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.json.gz");
    write_gz(&path, format!(r#"{{"Records":[{}]}}"#, events.join(",")).as_bytes());
    std::fs::read(path).unwrap()
}

pub fn key(tag: &str) -> String {
    format!("AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/111122223333_CloudTrail_us-east-1_20240501T1000Z_{tag}.json.gz")
}

pub fn spawn_follow(cwd: &Path, args: &[&str]) -> Child {
    let env = moto_env();
    command(cwd, &[&["follow"], args].concat(), &env).stderr(Stdio::piped()).spawn().unwrap()
}

/// Polls `done` every 100 ms for up to `limit`; panics with `what` if it never holds.
pub fn wait_for(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// SIGTERM, then the exit status and stderr; panics if it takes longer than `limit`.
pub fn terminate(child: Child, limit: Duration) -> (i32, String) {
    unsafe_kill(child.id(), "TERM");
    wait_exit(child, limit)
}

/// Waits for the process to exit, then its exit status and stderr; panics after `limit`.
pub fn wait_exit(mut child: Child, limit: Duration) -> (i32, String) {
    let started = Instant::now();
    wait_for(limit, "follow to exit after SIGTERM", || child.try_wait().unwrap().is_some());
    assert!(started.elapsed() < limit);
    let mut stderr = String::new();
    use std::io::Read;
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    (child.wait().unwrap().code().unwrap_or(-1), stderr)
}

pub fn unsafe_kill(pid: u32, signal: &str) {
    std::process::Command::new("kill").args([&format!("-{signal}"), &pid.to_string()]).status().unwrap();
}
