//! Tests of the CloudWatch Logs shapes: each message comes out as the event's own JSON text.

use super::super::tests::{gzip, run};
use super::super::{DecodeError, DecodeSettings, Format};
use super::base64;
use serde_json::json;

/// Events as a trail file holds them (compact JSON, one with escapes and non-ASCII).
fn events() -> Vec<String> {
    vec![
        r#"{"eventVersion":"1.08","eventID":"a1","eventTime":"2024-05-01T10:00:00Z","eventName":"GetObject"}"#.into(),
        r#"{"eventID":"a2","eventTime":"2024-05-01T10:00:01Z","userAgent":"x \"quoted\" \\ caf\u00e9 é","requestParameters":{"k":[1,2]}}"#.into(),
        r#"{"eventID":"a3","eventTime":"2024-05-01T10:00:02Z"}"#.into(),
    ]
}

/// A payload with its keys in the order CloudWatch Logs writes them.
fn payload(messages: &[String]) -> String {
    let log_events: Vec<String> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            format!(r#"{{"id":"{i}","timestamp":{},"message":{}}}"#, 1714557600000u64 + i as u64, json!(m))
        })
        .collect();
    format!(
        r#"{{"messageType":"DATA_MESSAGE","owner":"123456789012","logGroup":"aws-cloudtrail","logStream":"123456789012_CloudTrail_us-east-1","subscriptionFilters":["to-firehose"],"logEvents":[{}]}}"#,
        log_events.join(",")
    )
}

/// A control message, keys sorted (as a tool that re-wrote it might have).
fn control() -> String {
    json!({"messageType": "CONTROL_MESSAGE", "owner": "CloudwatchLogs", "logGroup": "", "logStream": "",
           "subscriptionFilters": [], "logEvents": [{"id": "", "timestamp": 1,
           "message": "CWL CONTROL MESSAGE: Checking health of destination Firehose."}]})
    .to_string()
}

fn texts(bytes: &[u8]) -> (Vec<String>, super::super::Decoded) {
    let (seen, result) = run(bytes, &DecodeSettings::default());
    let decoded = result.unwrap_or_else(|f| panic!("{f}"));
    (seen.items, decoded)
}

fn numbered(events: &[String]) -> Vec<String> {
    events.iter().enumerate().map(|(i, e)| format!("{i}:{e}")).collect()
}

#[test]
fn a_subscription_payload_gives_each_message_as_the_events_text() {
    let all = events();
    let (items, decoded) = texts(&gzip(payload(&all).as_bytes()));
    assert_eq!(items, numbered(&all));
    assert_eq!((decoded.format, decoded.events, decoded.control_messages), (Format::Subscription, 3, 0));
}

#[test]
fn concatenated_payloads_in_one_member_or_many_and_control_messages() {
    let all = events();
    let (one, two) = (payload(&all[..1]), payload(&all[1..]));
    let joined = format!("{one}{}{two}", control());
    let (items, decoded) = texts(&gzip(joined.as_bytes()));
    assert_eq!(items, numbered(&all));
    assert_eq!(decoded.control_messages, 1);
    let mut members = gzip(one.as_bytes());
    members.extend(gzip(control().as_bytes()));
    members.extend(b"\n");
    members.extend(gzip(two.as_bytes()));
    let (items, decoded) = texts(&members);
    assert_eq!((items, decoded.control_messages), (numbered(&all), 1));
    // Firehose with its own compression on: the members inside one more gzip.
    let (items, decoded) = texts(&gzip(&members));
    assert_eq!((items, decoded.format), (numbered(&all), Format::Subscription));
}

#[test]
fn keys_in_another_order_hold_events_until_the_message_type_is_known() {
    let all = events();
    // Sorted keys, as a BTreeMap-backed serializer writes them: logEvents before messageType.
    let value: std::collections::BTreeMap<String, serde_json::Value> =
        serde_json::from_str(&payload(&all)).unwrap();
    let sorted = serde_json::to_string(&value).unwrap();
    let control: std::collections::BTreeMap<String, serde_json::Value> =
        serde_json::from_str(&control()).unwrap();
    let control = serde_json::to_string(&control).unwrap();
    assert!(sorted.find("logEvents") < sorted.find("messageType"), "{sorted}");
    assert!(control.find("logEvents") < control.find("messageType"));
    let (items, decoded) = texts(format!("{sorted}{control}").as_bytes());
    assert_eq!((items, decoded.control_messages), (numbered(&all), 1));
}

#[test]
fn a_saved_lambda_event_is_unwrapped() {
    let all = events();
    let data = base64_encode(&gzip(payload(&all).as_bytes()));
    let event = json!({"awslogs": {"data": data}}).to_string();
    let (items, decoded) = texts(event.as_bytes());
    assert_eq!((items, decoded.format), (numbered(&all), Format::LambdaEvent));
    let two = format!("{event}\n{event}\n");
    assert_eq!(texts(two.as_bytes()).0.len(), 6, "saved events one per line");
    let bad = json!({"awslogs": {"data": "not base64!"}}).to_string();
    let err = run(bad.as_bytes(), &DecodeSettings::default()).1.unwrap_err();
    assert!(matches!(err.error, DecodeError::Lambda(_)), "{err}");
    assert!(err.to_string().starts_with("awslogs.data: not base64 (byte 10 is '!')"), "{err}");
}

#[test]
fn an_export_task_file_gives_each_line_s_event() {
    let all = events();
    let lines: String = all.iter().map(|e| format!("2024-05-01T10:00:00.000Z {e}\n")).collect();
    let (items, decoded) = texts(&gzip(lines.as_bytes()));
    assert_eq!((items, decoded.format), (numbered(&all), Format::Export));
    let crlf = lines.replace('\n', "\r\n");
    assert_eq!(texts(crlf.as_bytes()).0, numbered(&all), "CRLF lines");
    let broken = format!("{lines}garbage without a timestamp\n");
    let err = run(broken.as_bytes(), &DecodeSettings::default()).1.unwrap_err();
    assert!(err.to_string().starts_with("invalid export-task line at byte"), "{err}");
    assert_eq!(err.released, 3);
}

#[test]
fn an_oversized_message_is_skipped_and_reported() {
    let mut all = events();
    all.insert(1, format!(r#"{{"eventID":"big","pad":"{}"}}"#, "p".repeat(5000)));
    let settings = DecodeSettings { max_event_bytes: 1000, prefix_bytes: 12, ..DecodeSettings::default() };
    let (seen, result) = run(&gzip(payload(&all).as_bytes()), &settings);
    assert_eq!(result.unwrap().too_large, 1);
    assert!(seen.items[1].starts_with("big:record 1 (at byte"), "{}", seen.items[1]);
    assert!(seen.items[1].ends_with(r#"prefix "{\"eventID\":\"""#), "{}", seen.items[1]);
    assert_eq!(seen.items[2], format!("2:{}", all[2]));
}

#[test]
fn broken_payloads_say_what_is_wrong() {
    let cases = [
        (r#"{"messageType":"DATA_MESSAGE","logEvents":{}}"#, "\"logEvents\" is an object, not an array"),
        (r#"{"messageType":"DATA_MESSAGE","logEvents":[1]}"#, "a logEvents entry is a number, not an object"),
        (r#"{"messageType":"DATA_MESSAGE","logEvents":[{"id":"1"}]}"#, "has no \"message\""),
        (r#"{"messageType":"OTHER","logEvents":[]}"#, "unknown CloudWatch Logs messageType \"OTHER\""),
        (r#"{"messageType":"DATA_MESSAGE","logEvents":[]} {"Records":[]}"#, "a CloudTrail document at byte"),
        (
            r#"{"messageType":"DATA_MESSAGE","logEvents":[]} x"#,
            "expected another payload or the end of the file",
        ),
    ];
    for (text, want) in cases {
        let err = run(text.as_bytes(), &DecodeSettings::default()).1.unwrap_err().to_string();
        assert!(err.contains(want), "{text}: {err}");
    }
    let mut gz = gzip(payload(&events()).as_bytes());
    gz.extend(b"\x1e\x8bnot a member");
    let err = run(&gz, &DecodeSettings::default()).1.unwrap_err();
    assert!(matches!(err.error, DecodeError::TrailingGarbage { bytes: 14, members: 1 }), "{err}");
    assert_eq!(err.released, 3, "the payload before the junk was read");
}

#[test]
fn base64_decodes_what_it_encodes() {
    for len in 0..20 {
        let data: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
        assert_eq!(base64(base64_encode(&data).as_bytes()).unwrap(), data);
    }
}

fn base64_encode(data: &[u8]) -> String {
    use ::base64::Engine as _;
    ::base64::engine::general_purpose::STANDARD.encode(data)
}
