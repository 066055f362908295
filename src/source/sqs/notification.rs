//! What an SQS message says: which S3 objects to read, or that it can be acknowledged and ignored.
//!
//! Every shape a CloudTrail pipeline produces is recognised, per message, without configuration:
//! - CloudTrail's own notification `{"s3Bucket": …, "s3ObjectKey": [ … ]}` (a list or a single
//!   string), inside an SNS envelope or delivered raw; and its "CloudTrail validation message.";
//! - S3 event notifications (`Records[].s3.bucket.name` / `.object.key`, keys URL-encoded with `+`
//!   for a space), straight to SQS or inside an SNS envelope; and `s3:TestEvent`;
//! - EventBridge "Object Created" events for S3 (`detail.bucket.name`, `detail.object.key`);
//! - EventBridge's CloudTrail events themselves ("AWS API Call via CloudTrail", "AWS Console Sign
//!   In via CloudTrail", "AWS Service Event via CloudTrail", "AWS Console Action via CloudTrail"),
//!   straight to SQS or through SNS: the record is `detail`, read at once as a one-event log
//!   ([`Notice::Record`]), seconds after the call rather than minutes (the trail file's time to S3).
//!
//! Anything else is an error naming what was missing; the caller leaves such a message in the
//! queue so that its redrive policy moves it to a dead-letter queue.

use serde_json::Value;

/// An object a message points to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectRef {
    /// Bucket name.
    pub bucket: String,
    /// Key, decoded.
    pub key: String,
    /// The bucket's region when the notification says (`awsRegion` of an S3 record, `region` of an
    /// EventBridge event): one queue may be fed by trails in several regions.
    pub region: Option<String>,
}

/// What to do with a message.
#[derive(Debug, PartialEq, Eq)]
pub enum Notice {
    /// Read these objects; delete the message once they are all safely indexed.
    Objects(Vec<ObjectRef>),
    /// Nothing to read (a test or validation message): delete it.
    Ignore(&'static str),
    /// One CloudTrail record delivered by EventBridge, as a log file's text (`{"Records":[…]}`).
    Record(Vec<u8>),
}

/// The `detail-type`s of the CloudTrail events EventBridge delivers.
pub const CLOUDTRAIL_DETAIL_TYPES: [&str; 4] = [
    "AWS API Call via CloudTrail",
    "AWS Console Sign In via CloudTrail",
    "AWS Service Event via CloudTrail",
    "AWS Console Action via CloudTrail",
];

/// The text CloudTrail publishes when a trail is first wired to an SNS topic.
const CLOUDTRAIL_VALIDATION: &str = "CloudTrail validation message.";

/// Reads a message body.
pub fn parse(body: &str) -> Result<Notice, String> {
    if body.trim() == CLOUDTRAIL_VALIDATION {
        return Ok(Notice::Ignore("CloudTrail validation message"));
    }
    let value: Value = serde_json::from_str(body).map_err(|e| format!("not JSON ({e})"))?;
    parse_value(&value, 0)
}

fn parse_value(v: &Value, depth: u8) -> Result<Notice, String> {
    if let Some(kind) = v.get("Type").and_then(Value::as_str) {
        return sns(v, kind, depth);
    }
    if v.get("s3Bucket").is_some() {
        return cloudtrail(v);
    }
    if v.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(Notice::Ignore("S3 test event"));
    }
    if let Some(records) = v.get("Records") {
        return s3_event(records);
    }
    if v.get("detail-type").is_some() {
        return eventbridge(v);
    }
    Err("not a CloudTrail, S3, SNS or EventBridge notification".into())
}

/// An SNS envelope: the notification is the `Message` string.
fn sns(v: &Value, kind: &str, depth: u8) -> Result<Notice, String> {
    match kind {
        "Notification" if depth == 0 => {
            let message = v.get("Message").and_then(Value::as_str).ok_or("SNS envelope without a Message")?;
            if message.trim() == CLOUDTRAIL_VALIDATION {
                return Ok(Notice::Ignore("CloudTrail validation message"));
            }
            let inner: Value =
                serde_json::from_str(message).map_err(|e| format!("SNS Message is not JSON ({e})"))?;
            parse_value(&inner, depth + 1)
        }
        "SubscriptionConfirmation" | "UnsubscribeConfirmation" => {
            Ok(Notice::Ignore("SNS subscription message"))
        }
        _ => Err(format!("unexpected SNS message type {kind:?}")),
    }
}

/// CloudTrail's notification: `s3ObjectKey` is a list, or sometimes a single string.
fn cloudtrail(v: &Value) -> Result<Notice, String> {
    let bucket = v.get("s3Bucket").and_then(Value::as_str).ok_or("s3Bucket is not a string")?;
    let keys: Vec<&str> = match v.get("s3ObjectKey") {
        Some(Value::String(k)) => vec![k],
        Some(Value::Array(ks)) => {
            ks.iter().map(|k| k.as_str().ok_or("s3ObjectKey holds a non-string")).collect::<Result<_, _>>()?
        }
        _ => return Err("CloudTrail notification without s3ObjectKey".into()),
    };
    Ok(Notice::Objects(
        keys.into_iter().map(|k| ObjectRef { bucket: bucket.into(), key: k.into(), region: None }).collect(),
    ))
}

/// An S3 event notification; only `ObjectCreated:*` records name objects to read.
fn s3_event(records: &Value) -> Result<Notice, String> {
    let records = records.as_array().ok_or("Records is not an array")?;
    let mut objects = Vec::new();
    for r in records {
        let created =
            r.get("eventName").and_then(Value::as_str).is_some_and(|n| n.starts_with("ObjectCreated:"));
        if !created {
            continue;
        }
        let bucket =
            r.pointer("/s3/bucket/name").and_then(Value::as_str).ok_or("S3 record without s3.bucket.name")?;
        let key =
            r.pointer("/s3/object/key").and_then(Value::as_str).ok_or("S3 record without s3.object.key")?;
        let region = r.get("awsRegion").and_then(Value::as_str).filter(|r| !r.is_empty()).map(str::to_string);
        objects.push(ObjectRef { bucket: bucket.into(), key: decode_s3_event_key(key)?, region });
    }
    if objects.is_empty() {
        return Ok(Notice::Ignore("S3 event with no ObjectCreated record"));
    }
    Ok(Notice::Objects(objects))
}

/// EventBridge's S3 event (the key is not URL-encoded there), or a CloudTrail event.
fn eventbridge(v: &Value) -> Result<Notice, String> {
    let kind = v.get("detail-type").and_then(Value::as_str).unwrap_or_default();
    if CLOUDTRAIL_DETAIL_TYPES.contains(&kind) {
        let detail =
            v.get("detail").filter(|d| d.is_object()).ok_or("EventBridge CloudTrail event without detail")?;
        if detail.get("eventID").and_then(Value::as_str).is_none() {
            return Err("EventBridge CloudTrail event whose detail has no eventID".into());
        }
        let mut log = br#"{"Records":["#.to_vec();
        // A Value always serializes.
        let _ = serde_json::to_writer(&mut log, detail);
        log.extend_from_slice(b"]}");
        return Ok(Notice::Record(log));
    }
    if v.get("source").and_then(Value::as_str) != Some("aws.s3") || kind != "Object Created" {
        return Err(format!("EventBridge event {kind:?} is not an S3 Object Created event"));
    }
    let bucket =
        v.pointer("/detail/bucket/name").and_then(Value::as_str).ok_or("without detail.bucket.name")?;
    let key = v.pointer("/detail/object/key").and_then(Value::as_str).ok_or("without detail.object.key")?;
    let region = v.get("region").and_then(Value::as_str).filter(|r| !r.is_empty()).map(str::to_string);
    Ok(Notice::Objects(vec![ObjectRef { bucket: bucket.into(), key: key.into(), region }]))
}

/// S3 event keys are form-encoded: `+` is a space, `%XX` a byte (`%2B` a plus).
pub fn decode_s3_event_key(key: &str) -> Result<String, String> {
    let spaced = key.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map(|k| k.into_owned())
        .map_err(|_| format!("S3 event key {key:?} does not decode to UTF-8"))
}

/// Encodes a key the way S3 event notifications do (for `--to-queue`).
pub fn encode_s3_event_key(key: &str) -> String {
    url::form_urlencoded::byte_serialize(key.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn objects(body: &str) -> Vec<(String, String)> {
        match parse(body).unwrap() {
            Notice::Objects(o) => o.into_iter().map(|r| (r.bucket, r.key)).collect(),
            other => panic!("not objects: {other:?}"),
        }
    }

    const KEY: &str = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/01/02/111122223333_CloudTrail_us-east-1_20240102T0005Z_abc.json.gz";

    #[test]
    fn the_bucket_region_is_taken_from_s3_records_and_eventbridge() {
        let regions = |body: &str| match parse(body).unwrap() {
            Notice::Objects(o) => o.into_iter().map(|r| r.region).collect::<Vec<_>>(),
            other => panic!("not objects: {other:?}"),
        };
        let s3 = r#"{"Records":[
            {"eventName":"ObjectCreated:Put","awsRegion":"eu-west-3","s3":{"bucket":{"name":"b"},"object":{"key":"k1"}}},
            {"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"k2"}}}]}"#;
        assert_eq!(regions(s3), vec![Some("eu-west-3".to_string()), None]);
        let eb = r#"{"detail-type":"Object Created","source":"aws.s3","region":"ap-south-1",
            "detail":{"bucket":{"name":"b"},"object":{"key":"k"}}}"#;
        assert_eq!(regions(eb), vec![Some("ap-south-1".to_string())]);
        assert_eq!(regions(r#"{"s3Bucket":"b","s3ObjectKey":["k"]}"#), vec![None]);
    }

    #[test]
    fn cloudtrail_notifications_raw_and_in_sns() {
        let raw = format!(r#"{{"s3Bucket": "b", "s3ObjectKey": ["{KEY}"]}}"#);
        assert_eq!(objects(&raw), vec![("b".into(), KEY.into())]);
        // As moto delivers it: pretty-printed, keys sorted.
        let envelope = serde_json::json!({"Message": raw, "MessageId": "d5", "Type": "Notification", "TopicArn": "arn:aws:sns:us-east-1:1:t"});
        assert_eq!(
            objects(&serde_json::to_string_pretty(&envelope).unwrap()),
            vec![("b".into(), KEY.into())]
        );
        let single = r#"{"s3Bucket":"b","s3ObjectKey":"k.json.gz"}"#;
        assert_eq!(objects(single), vec![("b".into(), "k.json.gz".into())]);
    }

    #[test]
    fn validation_and_test_events_are_ignored() {
        assert!(matches!(parse("CloudTrail validation message."), Ok(Notice::Ignore(_))));
        let sns = serde_json::json!({"Type": "Notification", "Message": "CloudTrail validation message."})
            .to_string();
        assert!(matches!(parse(&sns), Ok(Notice::Ignore(_))));
        let test = r#"{"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-11-23T02:37:50.528524", "Bucket": "b"}"#;
        assert_eq!(parse(test).unwrap(), Notice::Ignore("S3 test event"));
        let wrapped = serde_json::json!({"Type": "Notification", "Message": test}).to_string();
        assert_eq!(parse(&wrapped).unwrap(), Notice::Ignore("S3 test event"));
    }

    #[test]
    fn s3_events_decode_their_keys() {
        // As moto sends it: '/' encoded too; real S3 leaves '/' alone. Both decode the same.
        let moto = r#"{"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "nb"}, "object": {"key": "AWSLogs%2F1%2Fodd+name%2Bplus+%C3%BC+%E2%98%83.json.gz", "size": 34}}}]}"#;
        let real = r#"{"Records": [{"eventName": "ObjectCreated:CompleteMultipartUpload", "s3": {"bucket": {"name": "nb"}, "object": {"key": "AWSLogs/1/odd+name%2Bplus+%C3%BC+%E2%98%83.json.gz"}}}]}"#;
        let want = vec![("nb".to_string(), "AWSLogs/1/odd name+plus ü ☃.json.gz".to_string())];
        assert_eq!(objects(moto), want);
        assert_eq!(objects(real), want);
        let removed = r#"{"Records": [{"eventName": "ObjectRemoved:Delete", "s3": {"bucket": {"name": "nb"}, "object": {"key": "k"}}}]}"#;
        assert!(matches!(parse(removed), Ok(Notice::Ignore(_))));
    }

    #[test]
    fn s3_events_in_sns_and_eventbridge_events() {
        let inner = r#"{"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "nb"}, "object": {"key": "a+b.json.gz"}}}]}"#;
        let sns = serde_json::json!({"Type": "Notification", "Message": inner}).to_string();
        assert_eq!(objects(&sns), vec![("nb".into(), "a b.json.gz".into())]);
        let eb = r#"{"version": "0", "id": "x", "detail-type": "Object Created", "source": "aws.s3", "detail": {"bucket": {"name": "eb"}, "object": {"key": "a+b c.json.gz", "size": 3}}}"#;
        assert_eq!(objects(eb), vec![("eb".into(), "a+b c.json.gz".into())]);
    }

    #[test]
    fn anything_else_is_an_error_saying_why() {
        for (body, why) in [
            ("hello", "not JSON"),
            ("{}", "not a CloudTrail, S3, SNS or EventBridge notification"),
            (r#"{"Type":"Notification"}"#, "SNS envelope without a Message"),
            (r#"{"Type":"Notification","Message":"nope"}"#, "SNS Message is not JSON"),
            (r#"{"s3Bucket":"b"}"#, "without s3ObjectKey"),
            (r#"{"detail-type":"Object Deleted","source":"aws.s3"}"#, "not an S3 Object Created"),
            (r#"{"Records":[{"eventName":"ObjectCreated:Put","s3":{}}]}"#, "without s3.bucket.name"),
        ] {
            let err = parse(body).unwrap_err();
            assert!(err.contains(why), "{body}: {err}");
        }
    }

    #[test]
    fn keys_round_trip_through_s3_event_encoding() {
        for key in ["AWSLogs/1/plain.json.gz", "odd name+plus ü ☃ 日本.json.gz", "a%2Fb"] {
            assert_eq!(decode_s3_event_key(&encode_s3_event_key(key)).unwrap(), key);
        }
    }

    #[test]
    fn eventbridge_cloudtrail_events_are_records_direct_or_through_sns() {
        let event = r#"{"version":"0","id":"1","detail-type":"AWS API Call via CloudTrail","source":"aws.s3",
            "account":"111122223333","time":"2024-05-01T10:00:00Z","region":"us-east-1","resources":[],
            "detail":{"eventVersion":"1.09","eventID":"e-1","eventTime":"2024-05-01T10:00:00Z",
            "eventName":"PutBucketVersioning","requestParameters":{"bucketName":"b"}}}"#;
        let Ok(Notice::Record(log)) = parse(event) else { panic!("{:?}", parse(event)) };
        let log: Value = serde_json::from_slice(&log).unwrap();
        assert_eq!(log["Records"][0]["eventID"], "e-1");
        assert_eq!(log["Records"][0]["requestParameters"]["bucketName"], "b");
        let sns = serde_json::json!({"Type":"Notification","Message": event}).to_string();
        assert!(matches!(parse(&sns), Ok(Notice::Record(_))));
        let signin = event.replace("AWS API Call", "AWS Console Sign In");
        assert!(matches!(parse(&signin), Ok(Notice::Record(_))));
        let no_id = event.replace(r#""eventID":"e-1","#, "");
        assert!(parse(&no_id).unwrap_err().contains("no eventID"));
        let other = event.replace("AWS API Call via CloudTrail", "EC2 Instance State-change Notification");
        assert!(parse(&other).is_err());
    }
}
