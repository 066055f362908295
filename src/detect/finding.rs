//! The finding document: one per (rule, event), in `PREFIX-findings-YYYY.MM.DD` (the event's day).
//!
//! Written straight from the event document's bytes (`Source`), with each rule's part made once
//! (`rule_json`): some rules match a large share of all events.
//!
//! Its `_id` is the rule id and the event's id together, so a re-run or a redelivered message adds
//! nothing. Its event fields are copied from the event's document as written, after the run's
//! redaction, so a redacted value never reaches a finding. It carries the rule's `author`: the
//! Detection Rule License asks messages based on matches to keep it.

use super::event::Key;
use super::raw;
use super::RuleInfo;
use crate::transform::TopLevel;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::json;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

/// The top-level event fields a finding copies (who, what, where, when), in the finding's order.
const COPIED: [&str; 10] = [
    "eventTime",
    "eventName",
    "eventSource",
    "eventType",
    "sourceIPAddress",
    "userAgent",
    "recipientAccountId",
    "awsRegion",
    "errorCode",
    "errorMessage",
];

/// The top-level members a finding reads: `@timestamp`, `userIdentity`, then [`COPIED`].
const TOP: [&str; COPIED.len() + 2] = {
    let mut top = [""; COPIED.len() + 2];
    (top[0], top[1]) = ("@timestamp", "userIdentity");
    let mut i = 0;
    while i < COPIED.len() {
        top[i + 2] = COPIED[i];
        i += 1;
    }
    top
};

/// The fields of `userIdentity` a finding copies, under `userIdentity`.
const IDENTITY: [&str; 5] = ["type", "arn", "userName", "principalId", "accountId"];

/// Elasticsearch's limit on `_id`, in bytes.
const MAX_ID: usize = 512;

/// The finding's `_id`: `RULE_ID:EVENT_ID`, or its SHA-256 when that is too long for an `_id`.
pub fn id(rule: &RuleInfo, event_id: &str) -> String {
    let id = format!("{}:{event_id}", rule.id);
    if id.len() <= MAX_ID {
        return id;
    }
    Sha256::digest(id.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// What a finding says of its rule, as JSON: made once per rule, written into each finding.
pub fn rule_json(rule: &RuleInfo) -> String {
    json!({
        "id": rule.id,
        "title": rule.title,
        "level": rule.level.as_str(),
        "tags": rule.tags,
        "author": rule.author,
    })
    .to_string()
}

/// The fields of an event's document (as written, redacted) that its findings copy, borrowed
/// from it: read once per event, however many rules it matched. The rest of the document is
/// skipped, not built (`requestParameters` can be large, and some rules match many events).
pub struct Source<'a> {
    timestamp: Option<&'a [u8]>,
    copied: [Option<&'a [u8]>; COPIED.len()],
    identity: [Option<&'a [u8]>; IDENTITY.len()],
}

impl<'a> Source<'a> {
    /// `None` when `document` is not a JSON object.
    pub fn parse(document: &'a [u8]) -> Option<Source<'a>> {
        let top = fields(document, &TOP)?;
        let identity = top[1].and_then(|raw| fields(raw, &IDENTITY)).unwrap_or([None; IDENTITY.len()]);
        Some(Source { timestamp: top[0], copied: std::array::from_fn(|i| top[i + 2]), identity })
    }

    /// [`Source::parse`] of the document written from `raw`, whose top-level members the walker
    /// noted in `top` ([`crate::transform::Transform::encode_top`]): found there, not scanned for.
    pub fn walked(document: &'a [u8], raw: &[u8], top: &TopLevel) -> Option<Source<'a>> {
        if !top.placed() {
            return Source::parse(document);
        }
        let at = |key: &str| top.written(raw, document, key.as_bytes());
        let identity =
            at("userIdentity").and_then(|raw| fields(raw, &IDENTITY)).unwrap_or([None; IDENTITY.len()]);
        Some(Source { timestamp: at("@timestamp"), copied: COPIED.map(at), identity })
    }

    /// Writes the finding of the rule whose [`rule_json`] is `rule` on this event, indexed as
    /// `event_id` in `event_index`: `@timestamp` (the event's), `rule`, `eventID`, the copied
    /// fields that are there and not null, and `event` (where the event is).
    pub fn write(&self, rule: &str, event_index: &str, event_id: &str, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"@timestamp\":");
        let time = self.timestamp.or(self.copied[0]);
        out.extend_from_slice(time.unwrap_or(b"null"));
        out.extend_from_slice(b",\"rule\":");
        out.extend_from_slice(rule.as_bytes());
        out.extend_from_slice(b",\"eventID\":");
        string(out, event_id);
        member_list(out, &COPIED, &self.copied, true);
        if self.identity.iter().flatten().any(|v| *v != b"null") {
            out.extend_from_slice(b",\"userIdentity\":{");
            member_list(out, &IDENTITY, &self.identity, false);
            out.push(b'}');
        }
        out.extend_from_slice(b",\"event\":{\"index\":");
        string(out, event_index);
        out.extend_from_slice(b",\"id\":");
        string(out, event_id);
        out.extend_from_slice(b"}}");
    }
}

/// `"key":value` for each present, non-null value, comma-separated (after a comma first if
/// `after_comma`).
fn member_list(out: &mut Vec<u8>, keys: &[&str], values: &[Option<&[u8]>], after_comma: bool) {
    let mut first = !after_comma;
    for (key, value) in keys.iter().zip(values) {
        let Some(v) = value.filter(|v| *v != b"null") else { continue };
        if !first {
            out.push(b',');
        }
        first = false;
        // The keys are names of letters only (a test): quoted as they are, nothing to escape.
        out.push(b'"');
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(b"\":");
        out.extend_from_slice(v);
    }
}

fn string(out: &mut Vec<u8>, s: &str) {
    // Writing a str into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// The raw values of `keys` among the top-level members of the object `json` (the last one of
/// a repeated key, as a JSON parser keeps); `None` when `json` is not an object. Found by the fast
/// scan (`raw.rs`); on a surprise, by serde.
fn fields<'a, const N: usize>(json: &'a [u8], keys: &[&'static str; N]) -> Option<[Option<&'a [u8]>; N]> {
    let mut found = [None; N];
    let mut odd = false;
    let scanned = raw::members(json, |key, escaped, value| match raw::key_bytes(key, escaped) {
        Some(key) => {
            if let Some(i) = keys.iter().position(|k| *k.as_bytes() == *key) {
                found[i] = Some(value);
            }
        }
        None => odd = true,
    });
    if !odd && scanned.is_some_and(|end| raw::only_blanks_after(json, end)) {
        return Some(found);
    }
    let mut de = serde_json::Deserializer::from_slice(json);
    let parsed = de.deserialize_map(Members { keys, found: vec![None; N] }).ok()?;
    de.end().ok()?;
    Some(std::array::from_fn(|i| parsed[i].map(|v| v.get().as_bytes())))
}

/// Picks the wanted members of an object, borrowing their raw values.
struct Members<'k, 'a> {
    keys: &'k [&'static str],
    found: Vec<Option<&'a RawValue>>,
}

impl<'de> Visitor<'de> for Members<'_, 'de> {
    type Value = Vec<Option<&'de RawValue>>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<Self::Value, A::Error> {
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            match self.keys.iter().position(|k| *k == key) {
                Some(i) => self.found[i] = Some(map.next_value()?),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(self.found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::Level;
    use serde_json::Value;

    fn rule() -> RuleInfo {
        RuleInfo {
            id: "r-1".into(),
            title: "Trail stopped".into(),
            level: Level::High,
            tags: vec!["attack.t1562.008".into()],
            author: "Jane".into(),
            file: "f.yml".into(),
        }
    }

    fn finding(doc: &str) -> Value {
        let mut out = Vec::new();
        Source::parse(doc.as_bytes()).unwrap().write(&rule_json(&rule()), "ct-2024.05.01", "e-1", &mut out);
        serde_json::from_slice(&out).expect("a finding is JSON")
    }

    #[test]
    fn a_finding_names_rule_author_and_event() {
        let f = finding(
            r#"{"@timestamp":"2024-05-01T10:00:00Z","eventTime":"2024-05-01T10:00:00Z",
            "eventName":"StopLogging","eventSource":"cloudtrail.amazonaws.com","awsRegion":"us-east-1",
            "errorCode":null,"userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::1:user/a","accessKeyId":"AKIA..."},
            "requestParameters":{"name":"t"}}"#,
        );
        let want = json!({"@timestamp":"2024-05-01T10:00:00Z",
            "rule":{"id":"r-1","title":"Trail stopped","level":"high","tags":["attack.t1562.008"],"author":"Jane"},
            "eventID":"e-1","eventTime":"2024-05-01T10:00:00Z","eventName":"StopLogging",
            "eventSource":"cloudtrail.amazonaws.com","awsRegion":"us-east-1",
            "userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::1:user/a"},
            "event":{"index":"ct-2024.05.01","id":"e-1"}});
        assert_eq!(f, want);
        assert_eq!(id(&rule(), "e-1"), "r-1:e-1");
        assert_eq!(id(&rule(), &"x".repeat(600)).len(), 64);
    }

    #[test]
    fn the_members_read_are_the_ones_copied() {
        assert_eq!(TOP[..2], ["@timestamp", "userIdentity"]);
        assert_eq!(TOP[2..], COPIED);
        // `member_list` writes these keys between quotes as they are.
        assert!(COPIED.iter().chain(&IDENTITY).all(|k| k.bytes().all(|b| b.is_ascii_alphabetic())));
    }

    #[test]
    fn odd_documents_still_make_valid_findings() {
        // No @timestamp: the event's time; no userIdentity object: none; the last of a repeated key.
        let f = finding(r#"{"eventTime":"t","userIdentity":"x","eventName":"A","eventName":"B"}"#);
        assert_eq!(f["@timestamp"], "t");
        assert_eq!(f["eventName"], "B");
        assert!(f.get("userIdentity").is_none());
        let f = finding(r#"{"userIdentity":{"type":null}}"#);
        assert!(f["@timestamp"].is_null() && f.get("userIdentity").is_none());
        assert!(Source::parse(b"[1]").is_none() && Source::parse(b"{\"a\":").is_none());
    }
}
