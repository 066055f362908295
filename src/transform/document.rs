//! One CloudTrail event → one document, plus what routing it needs ([`Routing`]: its id and day).
//!
//! - The id is the event's `eventID` (an aggregated event's `eventId`, lower-case d); an event without
//!   one gets a SHA-256 of its compact document, so a re-run of the same file writes the same ids
//!   and adds nothing.
//! - The day is the UTC day of the event's `eventTime` (or its own `@timestamp`; an aggregated
//!   event, which has no `eventTime`, is placed at the start of its `timeWindow`, `windowStart`).
//! - The document is the event's own bytes, compacted and redacted by the walker (`walk.rs`), with
//!   `@timestamp` added in front when the event has none.
//! - Only for OpenSearch (the wiring says so), a leaf of a free-form object too long for one term
//!   (over Lucene's 32 KB) is moved to `longValues` (`long_values.rs`), so that `flat_object`
//!   takes the event. For Elasticsearch and files the document is the event as written.
//! - Only for OpenSearch, the request/response leaves Security Analytics reads are copied as
//!   keywords under `unmapped` (`keyword_copies.rs`), when the event has any.
//! - `"omitted": true` at the top of the event (CloudTrail truncated one of its fields) is noted
//!   in the routing, for the run's count; the document keeps it as it is.
//! - With `--ecs`, the finished document is parsed back and the ECS fields computed from it
//!   (`ecs::ecs_fields`) are appended inside it, after the event's own fields, which stay as they
//!   were. They are computed from what redaction left, so a redacted value has no ECS copy either.
//!   An ECS field whose name the event itself uses at its top is left out (CloudTrail's names are
//!   camelCase, so only a forged event can have an `event` or `user` of its own). The id is taken
//!   before, so a document has the same `_id` with and without `--ecs`. Without `--ecs` nothing
//!   is parsed. `event.ingested` is the time of encoding (unless `--ecs-no-ingested`): the one
//!   ECS field that is not a function of the event, so the same event encoded twice differs
//!   there, and nowhere else.
//!
//! What an output makes of the routing (an index name, a `_bulk` action line) is the output's
//! business (`output/elasticsearch/encode.rs`). The walker writes the document first (the time is
//! only known at its end); `@timestamp` is then appended and rotated in front of it, which costs one
//! move of the document's bytes and no allocation.

use super::capture::{kind, string_text, Found};
use super::ecs;
use super::keyword_copies;
use super::long_values;
use super::timestamp::{utc_day, Day};
use super::top::TopLevel;
use super::walk::{self, WalkError};
use super::{
    Plan, ACCOUNT_ID, ACCOUNT_NAME, ACCOUNT_NAME_FIELD, AGGREGATED_ID, EVENT_ID, EVENT_TIME, OMITTED,
    RECIPIENT_ACCOUNT, TIMESTAMP, WINDOW_START,
};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::borrow::Cow;

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
    /// Neither `eventTime` nor `@timestamp` nor `timeWindow.windowStart`.
    #[error(
        "event has neither eventTime nor @timestamp (nor timeWindow.windowStart), so it has no index day"
    )]
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
    /// The document could not be read back to move its too-long leaves (`long_values.rs`; not
    /// expected either, as above).
    #[error("cannot read the document back to move its long values: {0}")]
    LongValues(String),
    /// The document could not be read back for its keyword copies (`keyword_copies.rs`; not
    /// expected either).
    #[error("cannot read the document back to add its keyword copies: {0}")]
    Copies(String),
    /// The document could not be read back for its ECS fields (the walker accepts only what
    /// serde_json reads, so this is not expected; the message has a position, no content).
    #[error("cannot read the document back to add its ECS fields: {0}")]
    Ecs(String),
}

impl From<WalkError> for EventProblem {
    fn from(e: WalkError) -> Self {
        match e {
            WalkError::NotObject(kind) => EventProblem::NotObject(kind),
            WalkError::Syntax { at, what } => EventProblem::InvalidJson { at, what },
        }
    }
}

/// What an output needs to know to place a document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Routing<'a> {
    /// The document's id.
    pub id: DocId<'a>,
    /// The UTC day of the event (and the instant itself).
    pub day: Day,
    /// CloudTrail truncated a field of the event: it says `"omitted": true` at its top.
    pub omitted: bool,
}

/// A document's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DocId<'a> {
    /// The event's `eventID`, as the JSON string literal it is in the event (quotes and escapes kept).
    Event(&'a [u8]),
    /// Hex of the first 20 bytes of the SHA-256 of the compact document (no usable `eventID`).
    Content([u8; 40]),
}

impl DocId<'_> {
    /// The id as a JSON string literal, quotes included.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            DocId::Event(literal) => out.extend_from_slice(literal),
            DocId::Content(hex) => {
                out.push(b'"');
                out.extend_from_slice(hex);
                out.push(b'"');
            }
        }
    }

    /// The id as text (the JSON string decoded), for messages that show it.
    pub fn to_text(&self) -> String {
        let mut literal = Vec::new();
        self.write_json(&mut literal);
        serde_json::from_slice(&literal).unwrap_or_default()
    }
}

/// What became of an event that was not a problem.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoded<'a> {
    /// Its document was appended; this is where it goes.
    Document(Routing<'a>),
    /// A filter dropped it; nothing was appended.
    Filtered,
}

/// Appends the document for `raw` to `out`, or nothing if a filter drops the event. On error `out`
/// is unchanged.
pub(super) fn encode<'r>(
    plan: &Plan,
    raw: &'r [u8],
    out: &mut Vec<u8>,
    found: &mut Found,
    mut top: Option<&mut TopLevel>,
) -> Result<Encoded<'r>, EventProblem> {
    let start = out.len();
    let result = walk::rewrite_noting(raw, &plan.matcher, &plan.redactor, out, found, top.as_deref_mut())
        .map_err(EventProblem::from)
        .and_then(|()| {
            if !kept(plan, raw, found)? {
                return Ok(Encoded::Filtered);
            }
            let (routing, added) = add_timestamp(raw, found, start, out)?;
            if let (Some(top), Some((head, len))) = (top.as_deref_mut(), added) {
                top.timestamp_added(head, len);
            }
            add_account_name(plan, raw, found, out);
            if plan.move_long_values && long_values::move_long_values(start, out)? {
                if let Some(top) = top {
                    top.unplaced();
                }
            }
            if plan.copies.as_ref().is_some_and(|c| c.wanted(raw, found)) {
                keyword_copies::add_copies(start, out, long_values::MOVED)?;
            }
            if let Some(namespace) = &plan.ecs {
                let ingested = plan.ecs_ingested.then(ingested_now);
                add_ecs(namespace, ingested, start, out)?;
            }
            Ok(Encoded::Document(routing))
        });
    if !matches!(result, Ok(Encoded::Document(_))) {
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

/// What [`encode`] decides for `raw`, without writing its document: the same problems, and for
/// an event no filter drops, its day and the event as the text it was checked to be (`None`:
/// filtered). For a reader of the noted values alone, when nothing is redacted (the values are
/// then read from the event as written).
pub(super) fn check<'r>(
    plan: &Plan,
    raw: &'r [u8],
    found: &mut Found,
) -> Result<Option<(Day, &'r str)>, EventProblem> {
    let text = walk::check(raw, &plan.matcher, &plan.redactor, found)?;
    if !kept(plan, raw, found)? {
        return Ok(None);
    }
    Ok(Some((times(raw, found)?.day, text)))
}

/// After the walk: whether no filter drops the event; a key repeated where a rule or a capture
/// looks (the walk noted it in `found`) is an error for a kept event.
fn kept(plan: &Plan, raw: &[u8], found: &mut Found) -> Result<bool, EventProblem> {
    if !plan.filters.keep(raw, found) {
        return Ok(false);
    }
    match found.duplicate.take() {
        Some(d) => Err(EventProblem::DuplicateKey(d)),
        None => Ok(true),
    }
}

/// What the routing is read from: the `eventID` (or `eventId`) literal, the time's literal and
/// day, and the event's own `@timestamp` literal.
struct Times<'r> {
    id: Option<&'r [u8]>,
    time_raw: &'r [u8],
    day: Day,
    timestamp: Option<&'r [u8]>,
}

fn times<'r>(raw: &'r [u8], found: &Found) -> Result<Times<'r>, EventProblem> {
    let id = match text_field(raw, found, EVENT_ID, "eventID")? {
        Some(id) => Some(id),
        None => text_field(raw, found, AGGREGATED_ID, "eventId")?,
    };
    let event_time = text_field(raw, found, EVENT_TIME, "eventTime")?;
    let timestamp = text_field(raw, found, TIMESTAMP, "@timestamp")?;
    let (field, time_raw) = match (event_time, timestamp) {
        (Some(t), _) => ("eventTime", t),
        (None, Some(t)) => ("@timestamp", t),
        (None, None) => match text_field(raw, found, WINDOW_START, "timeWindow.windowStart")? {
            Some(t) => ("timeWindow.windowStart", t),
            None => return Err(EventProblem::NoTime),
        },
    };
    let time: Cow<str> = string_text(time_raw);
    let day = utc_day(&time)
        .ok_or_else(|| EventProblem::BadTime { field, value: time.chars().take(64).collect() })?;
    Ok(Times { id, time_raw, day, timestamp })
}

/// Puts `@timestamp` in front of the document the walker wrote at `out[start..]` if the event
/// has none; returns where the document goes, and when it added one, how many bytes it put in
/// place of the document's `{` and how long the value is.
fn add_timestamp<'r>(
    raw: &'r [u8],
    found: &Found,
    start: usize,
    out: &mut Vec<u8>,
) -> Result<(Routing<'r>, Option<(usize, usize)>), EventProblem> {
    let Times { id, time_raw, day, timestamp } = times(raw, found)?;
    let id = match id {
        Some(id) if id.len() > 2 => DocId::Event(id),
        _ => DocId::Content(hex_sha256(&out[start..])),
    };
    let mut added = None;
    if timestamp.is_none() {
        let doc_end = out.len();
        let empty_doc = &out[start..doc_end] == b"{}";
        out.extend_from_slice(b"{\"@timestamp\":");
        out.extend_from_slice(time_raw);
        if empty_doc {
            out.push(b'}');
        }
        let head = out.len() - doc_end;
        out[start..].rotate_right(head);
        // The document's `{` becomes the comma after `@timestamp` (or goes, if it was `{}`).
        let brace = start + head;
        if empty_doc {
            out.truncate(brace);
        } else {
            out[brace] = b',';
        }
        added = Some((head, time_raw.len()));
    }
    // `"true"` too, as the boolean mapping reads it.
    let omitted = matches!(found.single(raw, OMITTED).0, Some(b"true" | b"\"true\""));
    Ok((Routing { id, day, omitted }, added))
}

/// Appends `recipientAccountName` inside the document just finished at the end of `out`, when
/// `--account-names` names its account (`recipientAccountId`, or an aggregated event's
/// `accountId`) and the event has no such field of its own.
fn add_account_name(plan: &Plan, raw: &[u8], found: &Found, out: &mut Vec<u8>) {
    if plan.account_names.is_empty() || found.single(raw, ACCOUNT_NAME).0.is_some() {
        return;
    }
    let account =
        [RECIPIENT_ACCOUNT, ACCOUNT_ID].into_iter().find_map(|slot| match found.single(raw, slot) {
            (Some(v), false) if v.first() == Some(&b'"') => Some(string_text(v)),
            _ => None,
        });
    let Some(name) = account.and_then(|id| plan.account_names.get(&id)) else { return };
    // The document is an object with at least `@timestamp`: its last byte is its closing brace.
    out.pop();
    out.extend_from_slice(b",\"");
    out.extend_from_slice(ACCOUNT_NAME_FIELD.as_bytes());
    out.extend_from_slice(b"\":");
    // Writing a string into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, name);
    out.push(b'}');
}

/// `event.ingested` for an event encoded now: RFC 3339 UTC with milliseconds, as Elastic's
/// pipeline writes it.
fn ingested_now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Appends the ECS fields of the finished document at `out[start..]` inside it, with
/// `event.ingested` when given.
fn add_ecs(
    namespace: &str,
    ingested: Option<String>,
    start: usize,
    out: &mut Vec<u8>,
) -> Result<(), EventProblem> {
    let doc: Value = serde_json::from_slice(&out[start..]).map_err(|e| EventProblem::Ecs(e.to_string()))?;
    let mut fields = ecs::ecs_fields(&doc, namespace);
    if let (Some(time), Some(Value::Object(event))) = (ingested, fields.get_mut("event")) {
        event.insert("ingested".into(), Value::String(time));
    }
    // The document is an object with at least `@timestamp`: its last byte is its closing brace.
    debug_assert_eq!(out.last(), Some(&b'}'));
    out.pop();
    for (key, value) in fields.iter().filter(|(key, _)| doc.get(key.as_str()).is_none()) {
        out.push(b',');
        // Writing a Value into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, key);
        out.push(b':');
        let _ = serde_json::to_writer(&mut *out, value);
    }
    out.push(b'}');
    Ok(())
}

/// Hex of the first 20 bytes of the SHA-256 of `bytes`.
fn hex_sha256(bytes: &[u8]) -> [u8; 40] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(bytes);
    let mut out = [0u8; 40];
    for (i, b) in digest[..20].iter().enumerate() {
        out[2 * i] = HEX[usize::from(b >> 4)];
        out[2 * i + 1] = HEX[usize::from(b & 15)];
    }
    out
}

#[cfg(test)]
mod tests {
    //! The document and its routing; the action lines built from them are tested with the bulk
    //! encoder (`output/elasticsearch/encode.rs`).
    use super::DocId;
    use crate::transform::{Encoded, EventProblem, Transform};
    use serde_json::{json, Value};

    #[test]
    fn ids_read_as_text() {
        assert_eq!(DocId::Event(br#""a\"b""#).to_text(), "a\"b");
        assert_eq!(DocId::Content([b'f'; 40]).to_text(), "f".repeat(40));
    }

    /// The document and the id (as JSON) and day (YYYY.MM.DD) it is routed by.
    fn encode(raw: &str) -> Result<(Value, Value), EventProblem> {
        let mut out = Vec::new();
        let Encoded::Document(routing) = Transform::plain().encode(raw.as_bytes(), &mut out)? else {
            panic!("filtered")
        };
        let mut id = Vec::new();
        routing.id.write_json(&mut id);
        let d = routing.day;
        let routed = json!({"id": serde_json::from_slice::<Value>(&id).unwrap(),
                            "day": format!("{:04}.{:02}.{:02}", d.year, d.month, d.day)});
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains('\n'), "one line: {text}");
        Ok((routed, serde_json::from_str(&text).unwrap()))
    }

    #[test]
    fn routing_uses_event_id_and_utc_day() {
        let (routed, doc) = encode(r#"{"eventID":"abc","eventTime":"2024-05-01T23:59:59Z","x":1}"#).unwrap();
        assert_eq!(routed, json!({"id":"abc","day":"2024.05.01"}));
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
        Transform::plain().encode(raw.as_bytes(), &mut out).unwrap();
        let doc_line = String::from_utf8(out).unwrap();
        assert!(doc_line.ends_with(&raw[1..]), "source bytes kept verbatim: {doc_line}");
    }

    #[test]
    fn event_with_own_timestamp_is_not_given_a_second_one() {
        let (routed, doc) = encode(r#"{"@timestamp":"2020-09-14T01:19:40.000Z","eventName":"X"}"#).unwrap();
        assert_eq!(routed["day"], "2020.09.14");
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
        assert_ne!(a["id"], c["id"]);
        assert_eq!(a["id"].as_str().unwrap().len(), 40);
        assert_eq!(d["id"].as_str().unwrap().len(), 40, "an empty eventID is no id");
        assert!(matches!(super::DocId::Content([b'0'; 40]), DocId::Content(_)));
    }

    #[test]
    fn aggregated_events_are_routed_by_event_id_and_window_start() {
        let raw = r#"{"eventVersion":"1.0","accountId":"111122223333","eventId":"agg-1","eventCategory":"Aggregated","timeWindow":{"windowStart":"2025-11-17T23:55:00Z","windowEnd":"2025-11-18T00:00:00Z","windowSize":"PT5M"},"summary":{}}"#;
        let (routed, doc) = encode(raw).unwrap();
        assert_eq!(routed, json!({"id": "agg-1", "day": "2025.11.17"}));
        assert_eq!(doc["@timestamp"], "2025-11-17T23:55:00Z");
        assert_eq!(doc["timeWindow"]["windowEnd"], "2025-11-18T00:00:00Z");
        let both = r#"{"eventID":"upper","eventId":"lower","eventTime":"2024-05-01T00:00:00Z"}"#;
        assert_eq!(encode(both).unwrap().0["id"], "upper", "eventID wins");
        let bad = r#"{"eventId":"a","timeWindow":{"windowStart":"later"}}"#;
        let got = encode(bad).unwrap_err().to_string();
        assert!(got.contains("timeWindow.windowStart \"later\""), "{got}");
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
            assert!(Transform::plain().encode(bad, &mut out).is_err());
            assert_eq!(out, b"keep");
        }
    }

    #[test]
    fn ids_and_times_with_escapes_stay_valid_json() {
        let (routed, doc) = encode(r#"{"eventID":"a\"b","eventTime":"2024-05-01T00:00:00\u005a"}"#).unwrap();
        assert_eq!(routed["id"], "a\"b");
        assert_eq!(doc["@timestamp"], "2024-05-01T00:00:00Z");
    }

    #[test]
    fn the_truncation_flag_is_noted_where_cloudtrail_puts_it() {
        let omitted = |raw: &str| {
            let mut out = Vec::new();
            match Transform::plain().encode(raw.as_bytes(), &mut out).unwrap() {
                Encoded::Document(routing) => routing.omitted,
                Encoded::Filtered => panic!("filtered"),
            }
        };
        let t = r#""eventTime":"2024-05-01T00:00:00Z""#;
        assert!(omitted(&format!(r#"{{{t},"omitted":true}}"#)));
        assert!(omitted(&format!(r#"{{{t},"omitted":"true"}}"#)), "as the boolean mapping reads it");
        for not in [r#""omitted":false"#, r#""omitted":null"#, r#""x":{"omitted":true}"#, r#""y":1"#] {
            assert!(!omitted(&format!("{{{t},{not}}}")), "{not}");
        }
    }
}
