//! The transform's tests: the fields that route a document cannot be redacted; documents with
//! `--ecs` (`document.rs` + `ecs/`): the event's own bytes stay as they are, the
//! ECS fields follow them inside the same object, they are computed after redaction, filtered
//! events get none, and the routing is the same as without `--ecs`.

use crate::transform::{Encoded, Preset, Routing, Transform, TransformError, TransformSpec};
use serde_json::Value;

const EVENT: &str = r#"{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333","accessKeyId":"AKIAEXAMPLEKEY12345","userName":"alice"},"eventTime":"2024-05-01T10:00:00Z","eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging","awsRegion":"eu-west-1","sourceIPAddress":"198.51.100.7","userAgent":"aws-cli/2.15.0","requestParameters":{"name":"main"},"responseElements":null,"eventID":"e-1","eventType":"AwsApiCall","recipientAccountId":"111122223333"}"#;

fn transform(ecs: Option<&str>, presets: &[&str]) -> Transform {
    Transform::new(TransformSpec {
        ecs: ecs.map(str::to_string),
        presets: presets.iter().map(|p| p.parse::<Preset>().unwrap()).collect(),
        ..TransformSpec::default()
    })
    .unwrap()
}

/// The document bytes and the routing's id (as JSON text).
fn encode(t: &Transform, raw: &str) -> (String, String) {
    let mut out = Vec::new();
    let Encoded::Document(Routing { id, .. }) = t.encode(raw.as_bytes(), &mut out).unwrap() else {
        panic!("filtered")
    };
    let mut id_json = Vec::new();
    id.write_json(&mut id_json);
    (String::from_utf8(out).unwrap(), String::from_utf8(id_json).unwrap())
}

#[test]
fn ecs_fields_follow_the_unchanged_event() {
    let (plain, plain_id) = encode(&transform(None, &[]), EVENT);
    let (ecs, ecs_id) = encode(&transform(Some("prod"), &[]), EVENT);
    assert!(!plain.contains("\"event\":{"), "no ECS fields without --ecs: {plain}");
    let own = &plain[..plain.len() - 1];
    assert!(ecs.starts_with(own) && ecs[own.len()..].starts_with(",\"ecs\":"), "{ecs}");
    let doc: Value = serde_json::from_str(&ecs).unwrap();
    assert_eq!(doc["event"]["action"], "StopLogging");
    assert_eq!(doc["event"]["provider"], "cloudtrail.amazonaws.com");
    assert_eq!(doc["data_stream"]["namespace"], "prod");
    assert_eq!(doc["source"]["ip"], "198.51.100.7");
    assert_eq!(doc["user"]["name"], "alice");
    assert_eq!(doc["eventName"], "StopLogging", "the original stays");
    assert_eq!(ecs_id, plain_id);
    assert!(!ecs.contains('\n'));
}

#[test]
fn content_ids_do_not_depend_on_ecs() {
    let raw = r#"{"eventTime":"2024-05-01T10:00:00Z","eventName":"X"}"#;
    assert_eq!(encode(&transform(None, &[]), raw).1, encode(&transform(Some("default"), &[]), raw).1);
}

#[test]
fn redacted_values_have_no_ecs_copy() {
    let (clear, _) = encode(&transform(Some("default"), &[]), EVENT);
    assert_eq!(clear.matches("AKIAEXAMPLEKEY12345").count(), 2, "original and ECS copy: {clear}");
    for (preset, copy) in [("credentials", Value::Null), ("credentials=mask", "****2345".into())] {
        let (doc, _) = encode(&transform(Some("default"), &[preset]), EVENT);
        assert!(!doc.contains("AKIAEXAMPLEKEY12345"), "{preset}: {doc}");
        let doc: Value = serde_json::from_str(&doc).unwrap();
        assert_eq!(doc["aws"]["cloudtrail"]["user_identity"]["access_key_id"], copy, "{preset}");
        assert_eq!(doc["user"]["name"], "alice", "{preset}");
    }
}

#[test]
fn filtered_events_get_nothing() {
    let t = Transform::new(TransformSpec {
        ecs: Some("default".into()),
        exclude: vec!["eventName=Stop*".parse().unwrap()],
        ..TransformSpec::default()
    })
    .unwrap();
    let mut out = Vec::new();
    assert_eq!(t.encode(EVENT.as_bytes(), &mut out).unwrap(), Encoded::Filtered);
    assert!(out.is_empty());
}

#[test]
fn a_forged_top_level_ecs_name_keeps_its_own_value_only_once() {
    let raw = r#"{"eventTime":"2024-05-01T10:00:00Z","eventName":"X","event":"mine","eventSource":"s3.amazonaws.com"}"#;
    let (doc, _) = encode(&transform(Some("default"), &[]), raw);
    assert_eq!(doc.matches("\"event\":").count(), 1, "{doc}");
    let doc: Value = serde_json::from_str(&doc).unwrap();
    assert_eq!(doc["event"], "mine");
    assert_eq!(doc["cloud"]["service"]["name"], "s3");
}

#[test]
fn events_with_their_own_timestamp_and_escapes_stay_valid() {
    let raw =
        "{\"@timestamp\":\"2024-05-01T10:00:00Z\",\"eventName\":\"a\\\"b\\u00e9\",\"userAgent\":\"x\\ny\"}";
    let (doc, _) = encode(&transform(Some("default"), &[]), raw);
    let doc: Value = serde_json::from_str(&doc).unwrap();
    assert_eq!(doc["event"]["action"], "a\"bé");
    assert_eq!(doc["user_agent"]["original"], "x\ny");
}

/// An aggregated event and an event with a value too long to index, through the whole transform
/// with `--ecs`: routed alike, ECS fields appended; for OpenSearch the ECS copies of the free-form
/// objects are made from what is left after the long value moved to `longValues`, for
/// Elasticsearch from the event as written (its mappings skip the long value).
#[test]
fn aggregated_and_long_valued_events_get_their_ecs_fields() {
    let aggregated = r#"{"eventVersion":"1.0","accountId":"111122223333","eventId":"agg-1","eventCategory":"Aggregated","eventType":"AwsAggregatedEvent","awsRegion":"us-west-2","eventSource":"s3.amazonaws.com","timeWindow":{"windowStart":"2025-11-17T19:20:00Z","windowEnd":"2025-11-17T19:25:00Z","windowSize":"PT5M"},"summary":{"primaryDimension":{"dimension":"eventName","statistics":[{"name":"PutObject","value":1000}],"aggregationType":"Count"},"details":[]}}"#;
    let (doc, id) = encode(&transform(Some("default"), &[]), aggregated);
    assert_eq!(id, "\"agg-1\"");
    let doc: Value = serde_json::from_str(&doc).unwrap();
    assert_eq!(doc["@timestamp"], "2025-11-17T19:20:00Z");
    assert_eq!(doc["event"]["id"], "agg-1");
    assert_eq!(doc["cloud"]["account"]["id"], "111122223333");
    let policy = "p".repeat(40_000);
    let long = serde_json::json!({"eventID": "long-1", "eventTime": "2024-05-01T10:00:00Z",
        "eventName": "PutKeyPolicy", "requestParameters": {"keyId": "k", "policy": policy}})
    .to_string();
    let mut for_opensearch = transform(Some("default"), &[]);
    for_opensearch.move_long_values(true);
    let (doc, _) = encode(&for_opensearch, &long);
    let doc: Value = serde_json::from_str(&doc).unwrap();
    assert_eq!(doc["longValues"][0]["value"].as_str().map(str::len), Some(40_000));
    let flattened = &doc["aws"]["cloudtrail"]["flattened"]["request_parameters"];
    assert_eq!(
        flattened,
        &serde_json::json!({"keyId": "k", "policy": "(moved to longValues)"}),
        "no long copy to refuse"
    );
    assert!(!doc["aws"]["cloudtrail"]["request_parameters"].as_str().unwrap().contains("ppp"));
    let (doc, _) = encode(&transform(Some("default"), &[]), &long);
    let doc: Value = serde_json::from_str(&doc).unwrap();
    assert!(doc.get("longValues").is_none());
    assert_eq!(doc["requestParameters"]["policy"], policy.as_str(), "as written");
    let copy = doc["aws"]["cloudtrail"]["request_parameters"].as_str().unwrap();
    assert!(copy.contains(&policy), "the string copy is whole (its keyword skips it)");
}

#[test]
fn the_fields_that_route_a_document_cannot_be_redacted() {
    let refused = |rule: &str| {
        let spec = TransformSpec { redact: vec![rule.parse().unwrap()], ..TransformSpec::default() };
        match Transform::new(spec) {
            Err(TransformError::Protected { field, .. }) => Some(field),
            _ => None,
        }
    };
    assert_eq!(refused("eventID"), Some("eventID"));
    assert_eq!(refused("eventId=mask"), Some("eventId"));
    assert_eq!(refused("timeWindow"), Some("timeWindow.windowStart"), "its parent hides it");
    assert_eq!(refused("timeWindow.windowStart"), Some("timeWindow.windowStart"));
    assert_eq!(refused("timeWindow.windowEnd"), None);
    assert_eq!(refused("summary"), None);
}

#[test]
fn event_ingested_is_the_time_of_encoding_and_nothing_else_changes() {
    let with = |ingested: bool| {
        let spec =
            TransformSpec { ecs: Some("default".into()), ecs_ingested: ingested, ..TransformSpec::default() };
        encode(&Transform::new(spec).unwrap(), EVENT)
    };
    let before = chrono::Utc::now();
    let (stamped, stamped_id) = with(true);
    let after = chrono::Utc::now();
    let (plain, plain_id) = with(false);
    let mut doc: Value = serde_json::from_str(&stamped).unwrap();
    let time = doc["event"]["ingested"].as_str().unwrap().to_string();
    assert!(time.ends_with('Z') && time.len() == "2026-12-06T20:43:30.123Z".len(), "{time}");
    let time = chrono::DateTime::parse_from_rfc3339(&time).unwrap();
    let millis = |t: chrono::DateTime<chrono::Utc>| t.timestamp_millis();
    assert!((millis(before)..=millis(after)).contains(&time.timestamp_millis()), "{time}");
    doc["event"].as_object_mut().unwrap().remove("ingested");
    assert_eq!(doc, serde_json::from_str::<Value>(&plain).unwrap(), "the only difference");
    assert!(!plain.contains("ingested"), "{plain}");
    assert_eq!(stamped_id, plain_id);
}
