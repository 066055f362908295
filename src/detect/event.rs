//! A CloudTrail record as Sigma's evaluator sees it ([`RecordView`]), read lazily from its bytes.
//!
//! Why not `serde_json::Value`: building the whole tree of every event costs more than the rest of
//! the pipeline's work on it, while the rules mostly ask for `eventSource` and `eventName`. So the
//! top level is split into keys and raw values in one scan (no allocation below the top), and a
//! value is parsed only when a rule asks for a field under it, once per event.
//!
//! Why objects are also text: CloudTrail writes `requestParameters`, `responseElements`,
//! `additionalEventData` and `serviceEventDetails` as JSON objects, while some SigmaHQ rules match
//! them as strings (`requestParameters|contains: 'Suspended'`, or quoted fragments of a policy
//! document that CloudTrail nests as an escaped string). A field that names a whole object (or
//! array) is therefore presented as its text: the compact JSON with string contents written as they
//! are (unescaped), so `"s3:GetObject"` inside an embedded policy document matches too. Paths below
//! it (`responseElements.ConsoleLogin`) still reach the nested values.

use rsigma_eval::event::{Event, EventValue, JsonEvent};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::Value;
use std::borrow::Cow;
use std::cell::OnceCell;
use std::fmt;

/// One top-level field: its name, its raw JSON, and its value once parsed.
struct Field<'a> {
    key: Cow<'a, str>,
    raw: &'a RawValue,
    parsed: OnceCell<Option<Value>>,
}

/// A record's fields, parsed on demand (see the module docs).
pub struct RecordView<'a> {
    fields: Vec<Field<'a>>,
    whole: OnceCell<Value>,
}

impl<'a> RecordView<'a> {
    /// Splits `raw` into its top-level fields; `None` when it is not a JSON object.
    pub fn new(raw: &'a [u8]) -> Option<Self> {
        let mut de = serde_json::Deserializer::from_slice(raw);
        let fields = de.deserialize_map(TopLevel).ok()?;
        de.end().ok()?;
        Some(RecordView { fields, whole: OnceCell::new() })
    }

    /// The value of a top-level field, parsed once.
    fn value(&self, key: &str) -> Option<&Value> {
        let field = self.fields.iter().find(|f| f.key == key)?;
        field.parsed.get_or_init(|| serde_json::from_str(field.raw.get()).ok()).as_ref()
    }

    fn whole(&self) -> &Value {
        self.whole.get_or_init(|| {
            let map = self
                .fields
                .iter()
                .filter_map(|f| Some((f.key.to_string(), serde_json::from_str(f.raw.get()).ok()?)))
                .collect();
            Value::Object(map)
        })
    }
}

/// Follows `path` (dotted keys) below `v`; through an array, every element (Sigma's any-member
/// semantics). A key holding dots itself is tried whole first.
fn follow<'v>(v: &'v Value, path: &str, out: &mut Vec<&'v Value>, depth: usize) {
    if depth == 0 {
        return;
    }
    match v {
        Value::Object(m) => {
            if let Some(x) = m.get(path) {
                out.push(x);
            } else if let Some((head, rest)) = path.split_once('.') {
                if let Some(x) = m.get(head) {
                    follow(x, rest, out, depth - 1);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| follow(x, path, out, depth - 1)),
        _ => {}
    }
}

/// A value as the evaluator gets it: objects as their text (see the module docs).
fn present(v: &Value) -> EventValue<'_> {
    match v {
        Value::String(s) => EventValue::Str(Cow::Borrowed(s)),
        Value::Number(n) => {
            n.as_i64().map_or(EventValue::Float(n.as_f64().unwrap_or(f64::NAN)), EventValue::Int)
        }
        Value::Bool(b) => EventValue::Bool(*b),
        Value::Null => EventValue::Null,
        Value::Array(a) => EventValue::Array(a.iter().map(present).collect()),
        Value::Object(_) => EventValue::Str(Cow::Owned(as_text(v))),
    }
}

impl Event for RecordView<'_> {
    fn get_field(&self, path: &str) -> Option<EventValue<'_>> {
        if let Some(v) = self.value(path) {
            return Some(present(v));
        }
        let (root, rest) = path.split_once('.')?;
        let mut found = Vec::new();
        follow(self.value(root)?, rest, &mut found, 64);
        match found.len() {
            0 => None,
            1 => Some(present(found[0])),
            _ => Some(EventValue::Array(found.into_iter().map(present).collect())),
        }
    }

    fn any_string_value(&self, pred: &dyn Fn(&str) -> bool) -> bool {
        JsonEvent::borrow(self.whole()).any_string_value(pred)
    }

    fn all_string_values(&self) -> Vec<Cow<'_, str>> {
        JsonEvent::borrow(self.whole())
            .all_string_values()
            .into_iter()
            .map(|s| Cow::Owned(s.into_owned()))
            .collect()
    }

    fn to_json(&self) -> Value {
        self.whole().clone()
    }

    fn top_level_keys(&self) -> Option<Vec<Cow<'_, str>>> {
        Some(self.fields.iter().map(|f| Cow::Borrowed(f.key.as_ref())).collect())
    }
}

/// The text of a value: compact JSON, with strings written as they are (see the module docs).
pub fn as_text(v: &Value) -> String {
    let mut out = String::new();
    write_text(v, &mut out, 64);
    out
}

fn write_text(v: &Value, out: &mut String, depth: usize) {
    if depth == 0 {
        return;
    }
    match v {
        Value::String(s) => {
            out.push('"');
            out.push_str(s);
            out.push('"');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_text(x, out, depth - 1);
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push('"');
                out.push_str(k);
                out.push_str("\":");
                write_text(x, out, depth - 1);
            }
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// Reads the top level of an object into fields, borrowing keys and values where it can.
struct TopLevel;

impl<'de> Visitor<'de> for TopLevel {
    type Value = Vec<Field<'de>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = Vec::with_capacity(24);
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let raw: &'de RawValue = map.next_value()?;
            fields.push(Field { key: key.0, raw, parsed: OnceCell::new() });
        }
        Ok(fields)
    }
}

/// A key, borrowed unless it had escapes.
pub(super) struct Key<'a>(pub(super) Cow<'a, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_nested_paths_and_objects_as_text() {
        let raw = br#"{"eventName":"PutBucketVersioning","n":3,"ok":true,"requestParameters":{"bucketName":"b",
            "VersioningConfiguration":{"Status":"Suspended"},"policyDocument":"{\"Action\":\"s3:GetObject\"}"},
            "resources":[{"ARN":"arn:1"},{"ARN":"arn:2"}],"k\u0065y":"escaped"}"#;
        let e = RecordView::new(raw).unwrap();
        assert_eq!(e.get_field("eventName"), Some(EventValue::Str("PutBucketVersioning".into())));
        assert_eq!(e.get_field("n"), Some(EventValue::Int(3)));
        assert_eq!(e.get_field("ok"), Some(EventValue::Bool(true)));
        assert_eq!(e.get_field("key"), Some(EventValue::Str("escaped".into())));
        assert_eq!(
            e.get_field("requestParameters.VersioningConfiguration.Status"),
            Some(EventValue::Str("Suspended".into()))
        );
        let Some(EventValue::Str(text)) = e.get_field("requestParameters") else { panic!() };
        assert!(text.contains("Suspended") && text.contains(r#""s3:GetObject""#), "{text}");
        assert!(e.get_field("missing").is_none() && e.get_field("requestParameters.nope").is_none());
        assert!(e.any_string_value(&|s| s == "arn:2"));
        assert!(RecordView::new(b"[1]").is_none() && RecordView::new(b"{\"a\":").is_none());
    }
}
