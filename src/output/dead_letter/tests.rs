//! Tests of the dead-letter file: the line format, the raw forms, the size limit, torn lines.

use super::*;
use serde_json::Value;

fn letter<'a>(event: Payload<'a>) -> DeadLetter<'a> {
    DeadLetter { file: "f", reason: "r", status: None, action: None, event }
}

fn lines(dl: &DeadLetters) -> Vec<Value> {
    let text = std::fs::read_to_string(dl.path()).unwrap();
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:.200}"))).collect()
}

#[test]
fn letters_are_json_lines_with_reason_and_event() {
    let dir = tempfile::tempdir().unwrap();
    let dl = DeadLetters::new(dir.path().join("dl.ndjson"));
    let action: &RawValue = serde_json::from_str(r#"{"create":{"_id":"1"}}"#).unwrap();
    dl.write_all([
        DeadLetter {
            file: "a.json.gz",
            reason: "mapper_parsing_exception: x",
            status: Some(400),
            action: Some(ActionLine::Verbatim(action)),
            event: Payload::from_bytes(br#"{"eventID":"1"}"#),
        },
        letter(Payload::from_bytes(b"{nope")),
        letter(Payload::from_bytes(b"{\n  \"pretty\": \"a b\"\n}")),
        letter(Payload::withheld(42)),
    ])
    .unwrap();
    let lines = lines(&dl);
    assert_eq!(lines[0]["document"]["eventID"], "1");
    assert_eq!(lines[0]["action"]["create"]["_id"], "1");
    assert_eq!(lines[0]["status"], 400);
    assert_eq!(
        (lines[0]["file"].as_str(), lines[0]["reason"].as_str()),
        (Some("a.json.gz"), Some("mapper_parsing_exception: x"))
    );
    assert!(lines[0]["at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(lines[1]["raw"], "{nope");
    assert_eq!(lines[2]["document"]["pretty"], "a b", "a pretty record is one line");
    assert_eq!(lines[3]["raw_withheld"]["bytes"], 42);
    assert!(lines[3].get("raw").is_none() && lines[1].get("status").is_none());
}

#[test]
fn deep_records_are_raw_text_and_bytes_are_kept_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let dl = DeadLetters::new(dir.path().join("dl.ndjson"));
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let too_deep = format!("{{\"a\":{}1{}}}", "[".repeat(126), "]".repeat(126));
    let ok_depth = format!("{{\"a\":{}1{}}}", "[".repeat(125), "]".repeat(125));
    let bytes = b"{\"eventTime\":\"x\",\"k\":\"\xff\xfe\"}".to_vec();
    let nuls = vec![0u8; 1000];
    dl.write_all([
        letter(Payload::from_bytes(deep.as_bytes())),
        letter(Payload::from_bytes(ok_depth.as_bytes())),
        letter(Payload::from_bytes(&bytes)),
        letter(Payload::from_bytes(&nuls)),
        letter(Payload::from_bytes(too_deep.as_bytes())),
    ])
    .unwrap();
    let lines = lines(&dl);
    assert_eq!(lines[0]["raw"].as_str(), Some(deep.as_str()), "readable by any JSON reader, exact");
    assert_eq!(serde_json::to_string(&lines[1]["document"]).unwrap(), ok_depth, "126 levels: a document");
    assert_eq!(lines[2]["raw_base64"].as_str().map(unbase64), Some(bytes), "invalid UTF-8, byte for byte");
    assert_eq!(
        lines[3]["raw_base64"].as_str().map(unbase64),
        Some(nuls),
        "control bytes are not escaped 6 to 1"
    );
    assert_eq!(lines[4]["raw"].as_str(), Some(too_deep.as_str()), "127 levels: raw text");
    assert_eq!(base64(b"Man"), "TWFu");
    assert_eq!(base64(b"Ma"), "TWE=");
    assert_eq!(base64(b"M"), "TQ==");
    assert_eq!(base64(b""), "");
}

/// Standard base64 back to bytes.
fn unbase64(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(text).unwrap()
}

#[test]
fn letters_over_the_limit_keep_a_prefix_the_size_and_a_hash() {
    let dir = tempfile::tempdir().unwrap();
    let dl = DeadLetters::with_limit(dir.path().join("dl.ndjson"), 10_000);
    let big = format!("{{\"k\":\"{}\"}}", "é".repeat(20_000));
    let raw = vec![b'x'; 10_001];
    dl.write_all([
        letter(Payload::from_bytes(big.as_bytes())),
        letter(Payload::from_bytes(&raw)),
        letter(Payload::from_bytes(&raw[..10_000])),
    ])
    .unwrap();
    let lines = lines(&dl);
    let t = &lines[0]["truncated"];
    assert_eq!(t["bytes"].as_u64(), Some(big.len() as u64));
    assert_eq!(t["sha256"].as_str().unwrap().len(), 64);
    assert!(big.starts_with(t["prefix"].as_str().unwrap().trim_end_matches('\u{fffd}')));
    assert!(t["prefix"].as_str().unwrap().len() <= PREFIX_BYTES + 3);
    assert!(lines[0].get("document").is_none());
    assert_eq!(lines[1]["truncated"]["bytes"], 10_001);
    assert_eq!(lines[2]["raw"].as_str().map(str::len), Some(10_000), "at the limit: kept");
}

#[test]
fn a_torn_last_line_is_cut_before_the_next_letter() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dl.ndjson");
    DeadLetters::new(path.clone()).write_all([letter(Payload::from_bytes(b"{\"a\":1}"))]).unwrap();
    let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(b"{\"at\":\"2024-05-01T00:00:00.000Z\",\"file\":\"torn").unwrap();
    DeadLetters::new(path.clone()).write_all([letter(Payload::from_bytes(b"{\"b\":2}"))]).unwrap();
    let lines = lines(&DeadLetters::new(path));
    assert_eq!(lines.len(), 2);
    assert_eq!((lines[0]["document"]["a"].as_u64(), lines[1]["document"]["b"].as_u64()), (Some(1), Some(2)));
}
