//! One CloudTrail event → one `_bulk` item: the action line and the document line.
//!
//! - `_id` is the event's `eventID`; an event without one gets a SHA-256 of its compact JSON, so a
//!   re-run of the same file writes the same ids and adds nothing.
//! - `_index` is `PREFIX-YYYY.MM.DD` from the event's UTC `eventTime` (or its own `@timestamp`).
//! - The document is the event's own bytes, untouched, with `@timestamp` added in front when the
//!   event has none. Pretty-printed events are compacted (whitespace only) so each is one line.
//! - The action is `create`: an event already in the index is a 409, counted as "already present".

use super::timestamp::utc_day;
use crate::decode::json_kind;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::io::Write;

/// Why an event cannot become a document. Each ends as a dead letter with this message.
#[derive(Debug, thiserror::Error)]
pub enum EventProblem {
    /// The element of `Records` is a string, number, array…
    #[error("record is {0}, not a JSON object")]
    NotObject(&'static str),
    /// The element is not valid JSON (or not valid UTF-8).
    #[error("invalid JSON: {0}")]
    InvalidJson(String),
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
}

/// How index names are formed.
#[derive(Clone, Debug)]
pub struct IndexNaming {
    /// The part before `-YYYY.MM.DD`.
    pub prefix: String,
}

/// The few fields the encoder reads; everything else is skipped (but validated) by serde.
#[derive(Deserialize)]
struct Keys<'a> {
    #[serde(rename = "eventID", borrow, default)]
    event_id: Option<Cow<'a, str>>,
    #[serde(rename = "eventTime", borrow, default)]
    event_time: Option<Cow<'a, str>>,
    #[serde(rename = "@timestamp", borrow, default)]
    timestamp: Option<Cow<'a, str>>,
}

/// Appends the action line and document line for `raw` to `out`. On error `out` is unchanged.
pub fn encode_event(raw: &[u8], naming: &IndexNaming, out: &mut Vec<u8>) -> Result<(), EventProblem> {
    let first = raw.iter().copied().find(|b| !b.is_ascii_whitespace());
    if first != Some(b'{') {
        return Err(EventProblem::NotObject(first.map_or("empty", json_kind)));
    }
    let keys: Keys = serde_json::from_slice(raw).map_err(|e| EventProblem::InvalidJson(e.to_string()))?;
    let (field, time) = match (&keys.event_time, &keys.timestamp) {
        (Some(t), _) => ("eventTime", t),
        (None, Some(t)) => ("@timestamp", t),
        (None, None) => return Err(EventProblem::NoTime),
    };
    let day = utc_day(time)
        .ok_or_else(|| EventProblem::BadTime { field, value: time.chars().take(64).collect() })?;

    let start = out.len();
    let id = match &keys.event_id {
        Some(id) if !id.is_empty() => Cow::Borrowed(id.as_ref()),
        _ => Cow::Owned(content_id(raw)),
    };
    // Writes into a Vec cannot fail.
    let _ = write!(
        out,
        "{{\"create\":{{\"_index\":\"{}-{:04}.{:02}.{:02}\",\"_id\":",
        naming.prefix, day.year, day.month, day.day
    );
    let _ = serde_json::to_writer(&mut *out, &id);
    out.extend_from_slice(b"}}\n");
    if keys.timestamp.is_none() {
        out.extend_from_slice(b"{\"@timestamp\":");
        let _ = serde_json::to_writer(&mut *out, &time);
        out.push(b',');
        let body = raw.iter().position(|&b| b == b'{').map_or(raw, |i| &raw[i + 1..]);
        write_compact(body, out);
    } else {
        write_compact(raw, out);
    }
    out.push(b'\n');
    debug_assert!(out.len() > start);
    Ok(())
}

/// A stable id from the event's content, ignoring insignificant whitespace.
fn content_id(raw: &[u8]) -> String {
    let mut compact = Vec::with_capacity(raw.len());
    write_compact(raw, &mut compact);
    let digest = Sha256::digest(&compact);
    digest[..20].iter().map(|b| format!("{b:02x}")).collect()
}

/// Copies JSON text, dropping whitespace outside strings when the text spans lines.
pub fn write_compact(raw: &[u8], out: &mut Vec<u8>) {
    let trimmed = raw.trim_ascii();
    if memchr::memchr2(b'\n', b'\r', trimmed).is_none() {
        out.extend_from_slice(trimmed);
        return;
    }
    let (mut in_string, mut escaped) = (false, false);
    for &b in trimmed {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if b == b'"' {
            in_string = true;
        } else if b.is_ascii_whitespace() {
            continue;
        }
        out.push(b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn naming() -> IndexNaming {
        IndexNaming { prefix: "cloudtrail".into() }
    }

    fn encode(raw: &str) -> Result<(Value, Value), EventProblem> {
        let mut out = Vec::new();
        encode_event(raw.as_bytes(), &naming(), &mut out)?;
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
        encode_event(raw.as_bytes(), &naming(), &mut out).unwrap();
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
        assert_eq!(a, b, "whitespace does not change the id");
        assert_ne!(a["create"]["_id"], c["create"]["_id"]);
        assert_eq!(a["create"]["_id"].as_str().unwrap().len(), 40);
    }

    #[test]
    fn problems_are_named() {
        let cases = [
            ("[1]", "record is an array, not a JSON object"),
            ("\"s\"", "record is a string"),
            (r#"{"eventName":"X"}"#, "neither eventTime nor @timestamp"),
            (r#"{"eventTime":"soon"}"#, "eventTime \"soon\" is not an ISO-8601 timestamp"),
            (r#"{"eventTime":5}"#, "invalid JSON: invalid type: integer `5`"),
            (r#"{"eventTime":"2024-05-01T00:00:00Z","a":tru}"#, "invalid JSON"),
            (r#"{"eventID":"a","eventID":"b","eventTime":"2024-05-01T00:00:00Z"}"#, "duplicate field"),
        ];
        for (raw, want) in cases {
            let got = encode(raw).map(|_| ()).unwrap_err().to_string();
            assert!(got.contains(want), "{raw}: got {got:?}");
        }
    }

    #[test]
    fn failed_encoding_leaves_output_untouched() {
        let mut out = b"keep".to_vec();
        assert!(encode_event(b"[]", &naming(), &mut out).is_err());
        assert_eq!(out, b"keep");
    }
}
