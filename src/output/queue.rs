//! The `--to-queue` output (`backfill s3://… --to-queue SQS_URL`): instead of reading the objects a
//! backfill finds, announce each one on a queue as an S3 "ObjectCreated" event, so that every
//! `follow` process consuming that queue shares the work, with all of follow's delivery guarantees.
//! Its wire format is the S3 event notification that `follow`'s source reads.

use crate::errors::chain;
use crate::source::feed::Feed;
use crate::source::s3::{Handoff, S3Object};
use crate::source::sqs::notification::encode_s3_event_key;
use crate::stats::Stats;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use serde_json::json;
use std::sync::Arc;
use tracing::error;

/// Sends S3-event-shaped messages to one queue.
pub struct Enqueuer {
    /// The SQS client.
    pub sqs: aws_sdk_sqs::Client,
    /// The queue URL.
    pub queue_url: String,
    /// Run counters (`files_enqueued`, `files_failed`).
    pub stats: Arc<Stats>,
}

/// The body S3 itself would send for a new object (keys form-encoded, as S3 does).
pub fn s3_event_body(object: &S3Object) -> String {
    json!({"Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Put",
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "cloudtrail-es-backfill",
            "bucket": {"name": object.bucket, "arn": format!("arn:aws:s3:::{}", object.bucket)},
            "object": {"key": encode_s3_event_key(&object.key), "size": object.size}
        }
    }]})
    .to_string()
}

impl Handoff for Arc<Enqueuer> {
    /// SQS takes up to ten messages per request.
    const CHUNK: usize = 10;

    async fn take(&self, objects: Vec<S3Object>, _feed: &Feed) {
        self.send(objects).await
    }
}

impl Enqueuer {
    /// Sends up to ten objects in one request; failures are logged by key and counted.
    pub async fn send(&self, objects: Vec<S3Object>) {
        let entries: Vec<SendMessageBatchRequestEntry> = objects
            .iter()
            .enumerate()
            .filter_map(|(i, o)| {
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(s3_event_body(o))
                    .build()
                    .ok()
            })
            .collect();
        let request = self.sqs.send_message_batch().queue_url(&self.queue_url).set_entries(Some(entries));
        match request.send().await {
            Ok(output) => {
                Stats::add(&self.stats.files_enqueued, output.successful().len() as u64);
                for failed in output.failed() {
                    let url =
                        failed.id().parse::<usize>().ok().and_then(|i| objects.get(i)).map(S3Object::url);
                    error!(
                        "{}: not enqueued: {}",
                        url.unwrap_or_default(),
                        failed.message().unwrap_or(failed.code())
                    );
                    Stats::add(&self.stats.files_failed, 1);
                }
            }
            Err(e) => {
                let reason = chain(&e);
                for o in &objects {
                    error!("{}: not enqueued to {}: {reason}", o.url(), self.queue_url);
                }
                Stats::add(&self.stats.files_failed, objects.len() as u64);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::sqs::notification::{parse, Notice, ObjectRef};

    #[test]
    fn enqueued_messages_are_read_back_as_the_same_object() {
        let object = S3Object {
            bucket: "b".into(),
            key: "AWSLogs/1/odd name+plus ü.json.gz".into(),
            size: 7,
            region: None,
        };
        let body = s3_event_body(&object);
        assert_eq!(
            parse(&body).unwrap(),
            Notice::Objects(vec![ObjectRef { bucket: "b".into(), key: object.key.clone(), region: None }])
        );
    }
}
