//! The letter parser reads every shape `output/dead_letter/` writes, and says what is wrong
//! with anything else without quoting it.

use super::*;
use crate::output::dead_letter::{DeadLetter, DeadLetters, Payload};

/// The letters `DeadLetters` writes for these payloads, as lines.
fn written(limit: usize, letters: Vec<(Option<&str>, Payload)>) -> Vec<Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dl.ndjson");
    let dead = DeadLetters::with_limit(path.clone(), limit);
    let actions: Vec<Option<Box<RawValue>>> =
        letters.iter().map(|(a, _)| a.map(|a| RawValue::from_string(a.into()).unwrap())).collect();
    let items = letters.into_iter().zip(&actions).map(|((_, event), action)| DeadLetter {
        file: "s3://b/k.json.gz",
        reason: "why",
        status: action.as_ref().map(|_| 400),
        action: action.as_deref().map(crate::output::batch::ActionLine::Verbatim),
        event,
    });
    dead.write_all(items).unwrap();
    std::fs::read(&path)
        .unwrap()
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

#[test]
fn every_shape_the_writer_writes_is_read_back() {
    let action = r#"{"create":{"_index":"ct-2024.05.01","_id":"e1"}}"#;
    let doc: &RawValue = serde_json::from_str(r#"{"eventID":"e1","n":1}"#).unwrap();
    let not_utf8 = b"{\"k\":\"\xff\xfe\"}".to_vec();
    let lines = written(
        64,
        vec![
            (Some(action), Payload::Json(doc)),
            (None, Payload::Json(doc)),
            (None, Payload::Raw(b"not json \"quoted\"")),
            (None, Payload::Raw(&not_utf8)),
            (None, Payload::withheld(12)),
            (None, Payload::Skipped { bytes: 99, prefix: b"abc" }),
            (
                None,
                Payload::Json(serde_json::from_str(&format!("{{\"pad\":\"{}\"}}", "x".repeat(100))).unwrap()),
            ),
        ],
    );
    let letters: Vec<Letter> = lines.iter().map(|l| parse(l).unwrap()).collect();
    assert_eq!(
        (letters[0].file.as_str(), letters[0].reason.as_str(), letters[0].status),
        ("s3://b/k.json.gz", "why", Some(400))
    );
    match letters[0].replay() {
        Replay::Resend { action: a, index, document } => {
            assert_eq!(a.get(), action);
            assert_eq!(index, "ct-2024.05.01", "the index the action names, read once");
            assert_eq!(document.get(), doc.get());
        }
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(letters[1].replay(), Replay::Encode(b) if b == doc.get().as_bytes()),
        "no action: encoded again"
    );
    assert!(matches!(letters[2].replay(), Replay::Encode(b) if b == b"not json \"quoted\""));
    assert!(matches!(letters[3].replay(), Replay::Encode(b) if b == not_utf8), "raw_base64, byte for byte");
    assert!(matches!(letters[4].replay(), Replay::NotReplayable("raw_withheld")));
    assert!(matches!(letters[5].replay(), Replay::NotReplayable("truncated")));
    assert!(matches!(letters[6].replay(), Replay::NotReplayable("truncated")), "over the writer's limit");
}

#[test]
fn what_is_wrong_is_named_without_the_content() {
    let secret = "PLANTEDSECRET";
    let cases: Vec<(String, NotALetter)> = vec![
        (format!("{{\"file\":\"{secret}"), NotALetter::NotJson(22)),
        (format!("\"{secret}\""), NotALetter::NotObject),
        (format!("[\"{secret}\"]"), NotALetter::NotObject),
        (format!("{{\"reason\":\"r\",\"document\":{{\"a\":\"{secret}\"}}}}"), NotALetter::Key("file", "a string")),
        (format!("{{\"file\":7,\"reason\":\"r\",\"raw\":\"{secret}\"}}"), NotALetter::Key("file", "a string")),
        (format!("{{\"file\":\"f\",\"reason\":\"r\",\"status\":\"{secret}\",\"raw\":\"x\"}}"), NotALetter::Key("status", "an HTTP status")),
        (format!("{{\"file\":\"f\",\"reason\":\"{secret}\"}}"), NotALetter::NoEvent),
        (format!("{{\"file\":\"f\",\"reason\":\"r\",\"raw\":\"{secret}\",\"document\":{{}}}}"), NotALetter::TwoEvents),
        (format!("{{\"file\":\"f\",\"reason\":\"r\",\"raw_base64\":\"{secret}!\"}}"), NotALetter::BadBase64),
        (format!("{{\"file\":\"f\",\"reason\":\"r\",\"document\":[\"{secret}\"]}}"), NotALetter::Key("document", "a JSON object")),
        (format!("{{\"file\":\"f\",\"reason\":\"r\",\"action\":{{\"delete\":{{\"_index\":\"{secret}\"}}}},\"document\":{{}}}}"), NotALetter::BadAction),
        ("{\"file\":\"f\",\"reason\":\"r\",\"action\":{\"create\":{}},\"document\":{}}".into(), NotALetter::BadAction),
    ];
    for (line, want) in cases {
        let got = parse(line.as_bytes()).unwrap_err();
        assert_eq!(got, want, "{line}");
        assert!(!got.to_string().contains(secret), "{got}");
    }
}

#[test]
fn unknown_keys_are_ignored_and_index_actions_accepted() {
    let line = br#"{"at":"x","file":"f","reason":"r","status":null,"future":[1],"action":{"index":{"_index":"i","_id":"1"}},"document":{"a":1}}"#;
    let letter = parse(line).unwrap();
    assert_eq!(letter.status, None);
    assert!(matches!(letter.replay(), Replay::Resend { .. }));
}

#[test]
fn base64_decodes_what_the_writer_encodes_and_refuses_the_rest() {
    assert_eq!(decode_base64("").unwrap(), b"");
    assert_eq!(decode_base64("/w==").unwrap(), [0xff]);
    assert_eq!(decode_base64("//4=").unwrap(), [0xff, 0xfe]);
    assert_eq!(decode_base64("aGVsbG8h").unwrap(), b"hello!");
    for bad in ["a", "ab=c", "====", "a===", "ab==cd==", "ab c", "abé="] {
        assert_eq!(decode_base64(bad), None, "{bad}");
    }
    let all: Vec<u8> = (0..=255).collect();
    let letter = written(1024, vec![(None, Payload::Raw(&all))]).remove(0);
    let Kept::Raw(bytes) = parse(&letter).unwrap().event else { panic!("raw") };
    assert_eq!(bytes, all);
}

#[test]
fn lines_are_numbered_and_long_ones_skipped_without_being_held() {
    let text = b"short\n\n0123456789abcdef\nlast-no-newline".to_vec();
    // A tiny buffer: long lines arrive in many pieces.
    let mut lines = LineReader::new(io::BufReader::with_capacity(3, &text[..]), 8);
    assert_eq!(lines.next_line().unwrap(), Some((1, Line::Text(b"short"))));
    assert_eq!(lines.next_line().unwrap(), Some((2, Line::Text(b""))));
    assert_eq!(lines.next_line().unwrap(), Some((3, Line::TooLong(16))));
    assert!(lines.line.capacity() <= 8, "the long line was not held");
    assert_eq!(lines.next_line().unwrap(), Some((4, Line::TooLong(15))));
    assert_eq!(lines.next_line().unwrap(), None);
    let mut exact = LineReader::new(&b"12345678\n"[..], 8);
    assert_eq!(exact.next_line().unwrap(), Some((1, Line::Text(b"12345678"))));
}
