//! The finding document: one per (rule, event), in `PREFIX-findings-YYYY.MM.DD` (the event's day).
//!
//! Its `_id` is the rule id and the event's id together, so a re-run or a redelivered message adds
//! nothing. Its event fields are copied from the event's document as written, after the run's
//! redaction, so a redacted value never reaches a finding. It carries the rule's `author`: the
//! Detection Rule License asks messages based on matches to keep it.

use super::RuleInfo;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

/// The event fields a finding copies (who, what, where, when), as paths of the document.
const COPIED: &[&str] = &[
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
    "userIdentity.type",
    "userIdentity.arn",
    "userIdentity.userName",
    "userIdentity.principalId",
    "userIdentity.accountId",
];

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

/// The finding for `rule` on the event whose document (as written) is `document`, indexed as
/// `event_id` in `event_index`.
pub fn document(rule: &RuleInfo, document: &Value, event_index: &str, event_id: &str) -> Value {
    let mut out = Map::new();
    let time = document.get("@timestamp").or_else(|| document.get("eventTime")).cloned();
    out.insert("@timestamp".into(), time.unwrap_or(Value::Null));
    out.insert(
        "rule".into(),
        json!({
            "id": rule.id,
            "title": rule.title,
            "level": rule.level.as_str(),
            "tags": rule.tags,
            "author": rule.author,
        }),
    );
    out.insert("eventID".into(), Value::String(event_id.to_string()));
    for path in COPIED {
        if let Some(v) = lookup(document, path).filter(|v| !v.is_null()) {
            put(&mut out, path, v.clone());
        }
    }
    out.insert("event".into(), json!({ "index": event_index, "id": event_id }));
    Value::Object(out)
}

/// The part of an event's document (as written) that [`document`] reads: its top-level fields
/// `@timestamp` and those of [`COPIED`], parsed; the rest is skipped without being built (a
/// finding is made for many events with some rules, and `requestParameters` can be large).
/// `None` when `document` is not a JSON object.
pub fn copied_fields(document: &[u8]) -> Option<Value> {
    let mut de = serde_json::Deserializer::from_slice(document);
    let map = de.deserialize_map(Wanted).ok()?;
    de.end().ok()?;
    Some(Value::Object(map))
}

/// Keeps the top-level fields a finding copies.
struct Wanted;

impl<'de> Visitor<'de> for Wanted {
    type Value = Map<String, Value>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let wanted =
                key == "@timestamp" || COPIED.iter().any(|p| p.split('.').next() == Some(key.as_str()));
            if wanted {
                out.insert(key, map.next_value::<Value>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(out)
    }
}

fn lookup<'v>(doc: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(doc, |v, k| v.get(k))
}

fn put(out: &mut Map<String, Value>, path: &str, v: Value) {
    match path.split_once('.') {
        None => {
            out.insert(path.to_string(), v);
        }
        Some((head, rest)) => {
            let inner = out.entry(head).or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(m) = inner {
                put(m, rest, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::Level;

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

    #[test]
    fn a_finding_names_rule_author_and_event() {
        let doc = json!({"@timestamp":"2024-05-01T10:00:00Z","eventTime":"2024-05-01T10:00:00Z",
            "eventName":"StopLogging","eventSource":"cloudtrail.amazonaws.com","awsRegion":"us-east-1",
            "userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::1:user/a","accessKeyId":"AKIA..."},
            "requestParameters":{"name":"t"}});
        let f = document(&rule(), &doc, "ct-2024.05.01", "e-1");
        assert_eq!(f["rule"]["author"], "Jane");
        assert_eq!(f["rule"]["level"], "high");
        assert_eq!(f["userIdentity"]["arn"], "arn:aws:iam::1:user/a");
        assert!(f["userIdentity"].get("accessKeyId").is_none() && f.get("requestParameters").is_none());
        assert_eq!(f["event"]["index"], "ct-2024.05.01");
        assert_eq!(f["@timestamp"], "2024-05-01T10:00:00Z");
        assert_eq!(
            document(&rule(), &copied_fields(doc.to_string().as_bytes()).unwrap(), "ct-2024.05.01", "e-1"),
            f
        );
        assert!(copied_fields(b"[1]").is_none());
        assert_eq!(id(&rule(), "e-1"), "r-1:e-1");
        assert_eq!(id(&rule(), &"x".repeat(600)).len(), 64);
    }
}
