//! What a Lambda function is invoked with, read into the messages it holds and what each asks for.
//!
//! - An SQS batch (`Records[].eventSource == "aws:sqs"`): each message's `body` is what `follow`
//!   reads from its queue (`sqs/notification.rs`: notifications of log files, and CloudTrail events
//!   from EventBridge); the answer names the messages not finished (`batchItemFailures`), by
//!   `messageId`.
//! - S3 event notifications invoked directly (`Records[].eventSource == "aws:s3"`), an SNS
//!   delivery (`Records[].EventSource == "aws:sns"`, the envelope in `Sns`), an EventBridge event
//!   (`detail-type`: S3 `Object Created`, or a CloudTrail event), or CloudTrail's own
//!   notification: read the same way.
//! - A CloudWatch Logs subscription (`{"awslogs":{"data":…}}`): the events are in the invocation
//!   itself; its JSON text goes to the readers as a file, which `decode/` reads like a saved one.
//!
//! Pure: no I/O happens here.

use crate::source::sqs::notification::{self, Notice};
use serde_json::Value;

/// Where an invocation came from, which decides how it is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// An SQS event source mapping: answered with the messages not finished.
    Sqs,
    /// Anything else (S3, SNS, EventBridge, CloudWatch Logs, a direct call): an invocation
    /// error when anything is not finished, so that Lambda retries it.
    Direct,
}

/// One message of an invocation.
#[derive(Debug, PartialEq, Eq)]
pub struct Message {
    /// An SQS message's `messageId` (what a partial batch answer names); otherwise a label for
    /// logs (the SNS message id, the EventBridge event id, `s3`, `awslogs`).
    pub id: String,
    /// What it asks for.
    pub work: Work,
}

/// What one message asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Work {
    /// A notification: objects to read, or nothing.
    Notice(Notice),
    /// Not a notification this function reads, with why: never finished, so that the queue's
    /// redrive policy (or the function's failure destination) gets it.
    Invalid(String),
    /// Events carried in the invocation itself (a CloudWatch Logs subscription payload): this
    /// JSON text is read like a file.
    Inline(Vec<u8>),
}

/// An invocation's messages.
#[derive(Debug, PartialEq, Eq)]
pub struct Invocation {
    /// How it is answered.
    pub trigger: Trigger,
    /// Its messages, in order.
    pub messages: Vec<Message>,
}

/// Reads an invocation's payload; an error when it is no event this function reads.
pub fn read(event: &Value) -> Result<Invocation, String> {
    if event.get("awslogs").is_some() {
        let text = serde_json::to_vec(event).map_err(|e| format!("awslogs: {e}"))?;
        let messages = vec![Message { id: "awslogs".into(), work: Work::Inline(text) }];
        return Ok(Invocation { trigger: Trigger::Direct, messages });
    }
    let records = event.get("Records").and_then(Value::as_array);
    let source = records
        .and_then(|r| r.first())
        .and_then(|r| r.get("eventSource").or_else(|| r.get("EventSource")).and_then(Value::as_str));
    match (records, source) {
        (Some(records), Some("aws:sqs")) => sqs(records),
        (Some(records), Some("aws:sns")) => sns(records),
        (Some(_), Some(other)) if other != "aws:s3" => {
            Err(format!("an event from {other:?}: this function reads SQS, S3, SNS, EventBridge and CloudWatch Logs events"))
        }
        _ => {
            let id = match event.get("id").and_then(Value::as_str) {
                Some(id) if event.get("detail-type").is_some() => id.to_string(),
                _ if records.is_some() => "s3".into(),
                _ => "event".into(),
            };
            let notice = notification::parse_json(event).map_err(|why| {
                format!("{why}: this function reads SQS, S3, SNS, EventBridge and CloudWatch Logs events")
            })?;
            Ok(Invocation { trigger: Trigger::Direct, messages: vec![Message { id, work: Work::Notice(notice) }] })
        }
    }
}

/// An SQS batch: each body as `follow` reads it.
fn sqs(records: &[Value]) -> Result<Invocation, String> {
    let mut messages = Vec::with_capacity(records.len());
    for (n, r) in records.iter().enumerate() {
        let id = r.get("messageId").and_then(Value::as_str).filter(|id| !id.is_empty());
        let id = id.ok_or_else(|| format!("SQS record {n} has no messageId"))?;
        let work = match r.get("body").and_then(Value::as_str) {
            Some(body) => match notification::parse(body) {
                Ok(notice) => Work::Notice(notice),
                Err(why) => Work::Invalid(why),
            },
            None => Work::Invalid("no body".into()),
        };
        messages.push(Message { id: id.to_string(), work });
    }
    Ok(Invocation { trigger: Trigger::Sqs, messages })
}

/// An SNS delivery: each record's `Sns` is the envelope an SQS subscription would get.
fn sns(records: &[Value]) -> Result<Invocation, String> {
    let messages = records
        .iter()
        .enumerate()
        .map(|(n, r)| {
            let envelope = r.get("Sns").unwrap_or(&Value::Null);
            let id = envelope
                .get("MessageId")
                .and_then(Value::as_str)
                .map_or_else(|| format!("sns-{n}"), str::to_string);
            let work = match notification::parse_json(envelope) {
                Ok(notice) => Work::Notice(notice),
                Err(why) => Work::Invalid(why),
            };
            Message { id, work }
        })
        .collect();
    Ok(Invocation { trigger: Trigger::Direct, messages })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::sqs::notification::ObjectRef;
    use serde_json::json;

    const KEY: &str = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/01/02/111122223333_CloudTrail_us-east-1_20240102T0005Z_abc.json.gz";

    fn objects(work: &Work) -> Vec<(String, String)> {
        match work {
            Work::Notice(Notice::Objects(o)) => o.iter().map(|r| (r.bucket.clone(), r.key.clone())).collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn sqs_batches_keep_each_message_id_and_mark_poison() {
        let s3 = json!({"Records": [{"eventName": "ObjectCreated:Put", "awsRegion": "eu-west-3",
            "s3": {"bucket": {"name": "b"}, "object": {"key": "AWSLogs%2F1%2Fa+b.json.gz"}}}]});
        let event = json!({"Records": [
            {"messageId": "m1", "receiptHandle": "h", "body": s3.to_string(), "eventSource": "aws:sqs"},
            {"messageId": "m2", "body": "not json", "eventSource": "aws:sqs"},
            {"messageId": "m3", "body": "CloudTrail validation message.", "eventSource": "aws:sqs"},
        ]});
        let inv = read(&event).unwrap();
        assert_eq!(inv.trigger, Trigger::Sqs);
        let ids: Vec<&str> = inv.messages.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["m1", "m2", "m3"]);
        match &inv.messages[0].work {
            Work::Notice(Notice::Objects(o)) => assert_eq!(
                o,
                &vec![ObjectRef {
                    bucket: "b".into(),
                    key: "AWSLogs/1/a b.json.gz".into(),
                    region: Some("eu-west-3".into())
                }]
            ),
            other => panic!("{other:?}"),
        }
        assert!(matches!(&inv.messages[1].work, Work::Invalid(why) if why.contains("not JSON")));
        assert!(matches!(inv.messages[2].work, Work::Notice(Notice::Ignore(_))));
        let no_id = json!({"Records": [{"body": "x", "eventSource": "aws:sqs"}]});
        assert!(read(&no_id).unwrap_err().contains("no messageId"));
    }

    #[test]
    fn s3_sns_and_eventbridge_invocations_read_as_notifications() {
        let s3 = json!({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": "b"}, "object": {"key": KEY}}}]});
        let inv = read(&s3).unwrap();
        assert_eq!((inv.trigger, inv.messages.len()), (Trigger::Direct, 1));
        assert_eq!(objects(&inv.messages[0].work), vec![("b".to_string(), KEY.to_string())]);

        let message = json!({"s3Bucket": "b", "s3ObjectKey": [KEY]}).to_string();
        let sns = json!({"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0",
            "Sns": {"Type": "Notification", "MessageId": "sns-id", "TopicArn": "arn:aws:sns:us-east-1:1:t",
                    "Message": message, "SigningCertUrl": "https://x", "UnsubscribeUrl": "https://y"}}]});
        let inv = read(&sns).unwrap();
        assert_eq!(inv.messages[0].id, "sns-id");
        assert_eq!(objects(&inv.messages[0].work), vec![("b".to_string(), KEY.to_string())]);

        let eb = json!({"version": "0", "id": "eb-id", "detail-type": "Object Created", "source": "aws.s3",
            "region": "us-east-1", "detail": {"bucket": {"name": "b"}, "object": {"key": "a+b c.json.gz"}}});
        let inv = read(&eb).unwrap();
        assert_eq!(inv.messages[0].id, "eb-id");
        assert_eq!(objects(&inv.messages[0].work), vec![("b".to_string(), "a+b c.json.gz".to_string())]);
    }

    #[test]
    fn cloudwatch_logs_payloads_are_read_as_files() {
        let event = json!({"awslogs": {"data": "H4sI"}});
        let inv = read(&event).unwrap();
        assert_eq!(inv.trigger, Trigger::Direct);
        match &inv.messages[0].work {
            Work::Inline(text) => assert_eq!(serde_json::from_slice::<Value>(text).unwrap(), event),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn other_events_are_refused_saying_what_is_read() {
        for event in [
            json!({"Records": [{"eventSource": "aws:kinesis", "kinesis": {}}]}),
            json!({"hello": "world"}),
            json!([1, 2]),
        ] {
            let err = read(&event).unwrap_err();
            assert!(
                err.contains("this function reads SQS, S3, SNS, EventBridge and CloudWatch Logs"),
                "{err}"
            );
        }
    }
}
