//! One CloudTrail event → one `_bulk` item: the action line and the document line.
//!
//! - `_id` is the event's `eventID`; an event without one gets a SHA-256 of its compact document,
//!   so a re-run of the same file writes the same ids and adds nothing.
//! - `_index` is `PREFIX-YYYY.MM.DD` from the event's UTC `eventTime` (or its own `@timestamp`).
//! - The document is the event's own bytes, compacted and redacted by the walker (`walk.rs`), with
//!   `@timestamp` added in front when the event has none.
//! - The action is `create`: an event already in the index is a 409, counted as "already present".
//!
//! The walker writes the document first (the time and id are only known at its end); the action
//! line and `@timestamp` are then appended and rotated in front of it, which costs one move of
//! the document's bytes and no allocation.

use super::capture::{kind, string_text, Found};
use super::timestamp::utc_day;
use super::walk::{self, WalkError};
use super::{Plan, EVENT_ID, EVENT_TIME, TIMESTAMP};
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::io::Write;

/// Why an event cannot become a document. Each ends as a dead letter with this message, which
/// never quotes the event except an unreadable time (times are never redacted).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum EventProblem {
    /// The element of `Records` is a string, number, array…
    #[error("record is {0}, not a JSON object")]
    NotObject(&'static str),
    /// The element is not valid JSON (or not valid UTF-8).
    #[error("invalid JSON at byte {at}: {what}")]
    InvalidJson {
        /// Byte offset in the record.
        at: usize,
        /// What is wrong.
        what: &'static str,
    },
    /// Neither `eventTime` nor `@timestamp`.
    #[error("event has neither eventTime nor @timestamp, so it has no index day")]
    NoTime,
    /// The time field is present but not a timestamp.
    #[error("{field} {value:?} is not an ISO-8601 timestamp")]
    BadTime {
        /// `eventTime` or `@timestamp`.
        field: &'static str,
        /// What the event holds there (timestamps are not secrets).
        value: String,
    },
    /// `eventID`, `eventTime` or `@timestamp` is not a string.
    #[error("{field} is {kind}, not a string")]
    NotString {
        /// The field.
        field: &'static str,
        /// What it is instead.
        kind: &'static str,
    },
    /// `eventID`, `eventTime` or `@timestamp` appears twice at the top of the event.
    #[error("duplicate field `{0}`")]
    Duplicate(&'static str),
    /// A key some rule names is repeated in one object: the cluster would refuse the document.
    #[error("{0}")]
    DuplicateKey(super::capture::Duplicate),
}

impl From<WalkError> for EventProblem {
    fn from(e: WalkError) -> Self {
        match e {
            WalkError::NotObject(kind) => EventProblem::NotObject(kind),
            WalkError::Syntax { at, what } => EventProblem::InvalidJson { at, what },
        }
    }
}

/// How index names are formed.
#[derive(Clone, Debug)]
pub struct IndexNaming {
    /// The part before `-YYYY.MM.DD`.
    pub prefix: String,
}

/// What became of an event that was not a problem.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoded {
    /// Its action and document lines were appended; `time` is its time in Unix seconds.
    Written {
        /// The event's time (`eventTime`, else `@timestamp`), Unix seconds.
        time: i64,
    },
    /// A filter dropped it; nothing was appended.
    Filtered,
}

/// Appends the action line and document line for `raw` to `out`, or nothing if a filter drops
/// the event. On error `out` is unchanged.
pub(super) fn encode(
    plan: &Plan,
    naming: &IndexNaming,
    raw: &[u8],
    out: &mut Vec<u8>,
) -> Result<Encoded, EventProblem> {
    let start = out.len();
    let mut found = Found::default();
    let result = walk::rewrite(raw, &plan.matcher, &plan.redactor, out, &mut found)
        .map_err(EventProblem::from)
        .and_then(|()| {
            if !plan.filters.keep(raw, &found) {
                return Ok(Encoded::Filtered);
            }
            if let Some(d) = found.duplicate.take() {
                return Err(EventProblem::DuplicateKey(d));
            }
            let time = prepend_action(naming, raw, &found, start, out)?;
            Ok(Encoded::Written { time })
        });
    if !matches!(result, Ok(Encoded::Written { .. })) {
        out.truncate(start);
    }
    result
}

/// The value of a top-level string field, if present and not null.
fn text_field<'s>(
    raw: &'s [u8],
    found: &Found,
    slot: u16,
    field: &'static str,
) -> Result<Option<&'s [u8]>, EventProblem> {
    match found.single(raw, slot) {
        (_, true) => Err(EventProblem::Duplicate(field)),
        (None, _) => Ok(None),
        (Some(b"null"), _) => Ok(None),
        (Some(v), _) if v.first() == Some(&b'"') => Ok(Some(v)),
        (Some(v), _) => Err(EventProblem::NotString { field, kind: kind(v) }),
    }
}

/// Puts the action line (and `@timestamp` if the event has none) in front of the document the
/// walker wrote at `out[start..]`; returns the event's time in Unix seconds.
fn prepend_action(
    naming: &IndexNaming,
    raw: &[u8],
    found: &Found,
    start: usize,
    out: &mut Vec<u8>,
) -> Result<i64, EventProblem> {
    let id = text_field(raw, found, EVENT_ID, "eventID")?;
    let event_time = text_field(raw, found, EVENT_TIME, "eventTime")?;
    let timestamp = text_field(raw, found, TIMESTAMP, "@timestamp")?;
    let (field, time_raw) = match (event_time, timestamp) {
        (Some(t), _) => ("eventTime", t),
        (None, Some(t)) => ("@timestamp", t),
        (None, None) => return Err(EventProblem::NoTime),
    };
    let time: Cow<str> = string_text(time_raw);
    let day = utc_day(&time)
        .ok_or_else(|| EventProblem::BadTime { field, value: time.chars().take(64).collect() })?;

    let doc_end = out.len();
    let content_id;
    let id: &[u8] = match id {
        Some(id) if id.len() > 2 => id,
        _ => {
            content_id = hex_sha256(&out[start..doc_end]);
            content_id.as_bytes()
        }
    };
    // Writes into a Vec cannot fail.
    let _ = write!(
        out,
        "{{\"create\":{{\"_index\":\"{}-{:04}.{:02}.{:02}\",\"_id\":",
        naming.prefix, day.year, day.month, day.day
    );
    if id.first() == Some(&b'"') {
        out.extend_from_slice(id);
    } else {
        out.push(b'"');
        out.extend_from_slice(id);
        out.push(b'"');
    }
    out.extend_from_slice(b"}}\n");
    let empty_doc = &out[start..doc_end] == b"{}";
    if timestamp.is_none() {
        out.extend_from_slice(b"{\"@timestamp\":");
        out.extend_from_slice(time_raw);
        if empty_doc {
            out.push(b'}');
        }
    }
    let head = out.len() - doc_end;
    out[start..].rotate_right(head);
    if timestamp.is_none() {
        // The document's `{` becomes the comma after `@timestamp` (or goes, if it was `{}`).
        let brace = start + head;
        if empty_doc {
            out.truncate(brace);
        } else {
            out[brace] = b',';
        }
    }
    out.push(b'\n');
    Ok(day.unix)
}

/// Hex of the first 20 bytes of the SHA-256 of `bytes`.
fn hex_sha256(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest[..20].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use crate::transform::{Encoded, EventProblem, IndexNaming, Transform};
    use serde_json::{json, Value};

    fn transform() -> Transform {
        Transform::plain(IndexNaming { prefix: "cloudtrail".into() })
    }

    fn encode(raw: &str) -> Result<(Value, Value), EventProblem> {
        let mut out = Vec::new();
        assert!(matches!(transform().encode(raw.as_bytes(), &mut out)?, Encoded::Written { .. }));
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.strip_suffix('\n').unwrap().split('\n').collect();
        assert_eq!(lines.len(), 2, "exactly two lines: {text}");
        Ok((serde_json::from_str(lines[0]).unwrap(), serde_json::from_str(lines[1]).unwrap()))
    }

    #[test]
    fn action_uses_event_id_and_utc_day() {
        let (action, doc) = encode(r#"{"eventID":"abc","eventTime":"2024-05-01T23:59:59Z","x":1}"#).unwrap();
        assert_eq!(action, json!({"create":{"_index":"cloudtrail-2024.05.01","_id":"abc"}}));
        assert_eq!(
            doc,
            json!({"@timestamp":"2024-05-01T23:59:59Z","eventID":"abc","eventTime":"2024-05-01T23:59:59Z","x":1})
        );
    }

    #[test]
    fn every_source_field_is_kept_unchanged() {
        let raw =
            r#"{"eventTime":"2024-05-01T00:00:00Z","requestParameters":{"a":[1,2.50,"\u00e9\n"]},"n":null}"#;
        let mut out = Vec::new();
        transform().encode(raw.as_bytes(), &mut out).unwrap();
        let doc_line = String::from_utf8(out).unwrap().lines().nth(1).unwrap().to_string();
        assert!(doc_line.ends_with(&raw[1..]), "source bytes kept verbatim: {doc_line}");
    }

    #[test]
    fn event_with_own_timestamp_is_not_given_a_second_one() {
        let (action, doc) = encode(r#"{"@timestamp":"2020-09-14T01:19:40.000Z","eventName":"X"}"#).unwrap();
        assert_eq!(action["create"]["_index"], "cloudtrail-2020.09.14");
        assert_eq!(doc, json!({"@timestamp":"2020-09-14T01:19:40.000Z","eventName":"X"}));
    }

    #[test]
    fn pretty_events_become_one_line_with_strings_intact() {
        let (_, doc) =
            encode("{\n  \"eventTime\": \"2024-05-01T00:00:00Z\",\n  \"s\": \"a b\\n c\"\n}").unwrap();
        assert_eq!(doc["s"], "a b\n c");
    }

    #[test]
    fn missing_event_id_gives_a_stable_content_id() {
        let a = encode(r#"{"eventTime":"2024-05-01T00:00:00Z","x":1}"#).unwrap().0;
        let b = encode("{ \"eventTime\" : \"2024-05-01T00:00:00Z\",\n \"x\" : 1 }").unwrap().0;
        let c = encode(r#"{"eventTime":"2024-05-01T00:00:00Z","x":2}"#).unwrap().0;
        let d = encode(r#"{"eventID":"","eventTime":"2024-05-01T00:00:00Z","x":2}"#).unwrap().0;
        assert_eq!(a, b, "whitespace does not change the id");
        assert_ne!(a["create"]["_id"], c["create"]["_id"]);
        assert_eq!(a["create"]["_id"].as_str().unwrap().len(), 40);
        assert_eq!(d["create"]["_id"].as_str().unwrap().len(), 40, "an empty eventID is no id");
    }

    #[test]
    fn problems_are_named() {
        let cases = [
            ("[1]", "record is an array, not a JSON object"),
            ("\"s\"", "record is a string"),
            (r#"{"eventName":"X"}"#, "neither eventTime nor @timestamp"),
            (r#"{"eventTime":null}"#, "neither eventTime nor @timestamp"),
            (r#"{"eventTime":"soon"}"#, "eventTime \"soon\" is not an ISO-8601 timestamp"),
            (r#"{"eventTime":5}"#, "eventTime is a number, not a string"),
            (r#"{"eventID":{},"eventTime":"2024-05-01T00:00:00Z"}"#, "eventID is an object, not a string"),
            (r#"{"eventTime":"2024-05-01T00:00:00Z","a":tru}"#, "invalid JSON at byte 40: invalid literal"),
            (
                r#"{"eventID":"a","eventID":"b","eventTime":"2024-05-01T00:00:00Z"}"#,
                "duplicate field `eventID`",
            ),
        ];
        for (raw, want) in cases {
            let got = encode(raw).map(|_| ()).unwrap_err().to_string();
            assert!(got.contains(want), "{raw}: got {got:?}");
        }
    }

    #[test]
    fn failed_encoding_leaves_output_untouched() {
        let mut out = b"keep".to_vec();
        for bad in
            [&b"[]"[..], b"{\"eventTime\":1}", b"{\"x\":", b"{\"eventTime\":\"2024-05-01T00:00:00Z\"}x"]
        {
            assert!(transform().encode(bad, &mut out).is_err());
            assert_eq!(out, b"keep");
        }
    }

    #[test]
    fn ids_and_times_with_escapes_stay_valid_json() {
        let (action, doc) = encode(r#"{"eventID":"a\"b","eventTime":"2024-05-01T00:00:00\u005a"}"#).unwrap();
        assert_eq!(action["create"]["_id"], "a\"b");
        assert_eq!(doc["@timestamp"], "2024-05-01T00:00:00Z");
    }
}
