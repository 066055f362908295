//! Leaves too long for OpenSearch to index, moved aside so that it still takes the event.
//!
//! Lucene refuses a term over 32,766 bytes. Elasticsearch's `flattened` fields skip such a leaf
//! (`ignore_above`, as do all our `keyword` fields: `setup/templates.rs`), keeping it in `_source`
//! unindexed, so for Elasticsearch (and in `--output` files) the document is the event as written
//! and nothing here runs. OpenSearch's `flat_object` takes no parameters (2.19 and 3.6 refuse
//! `ignore_above`, `depth_limit`, `index`, `doc_values`) and indexes every leaf as one term of
//! `path=value` (`requestParameters._valueAndPath`: a 32,760-byte policy is refused for its path, on
//! 2.19 and 3.6 alike): one KMS key policy, bucket policy or CloudFormation `templateBody` over 32 KB
//! in `requestParameters` and OpenSearch rejects the whole event. So, when the wiring says the
//! documents go to OpenSearch ([`super::Transform::move_long_values`]), such a leaf (and only such a
//! leaf: `path=value` over the limit) is moved:
//!
//! - its value goes, whole, to the document's `longValues` list, `{"field":
//!   "requestParameters.policy", "value": "…"}` (array positions as `[i]`); `longValues.field` is
//!   searchable, the value stays in `_source` unindexed;
//! - at its old place the string [`MOVED`] is left, so the key (or the array position) is still
//!   there and says where its value went.
//!
//! Every shorter leaf stays where it was, searchable as before. A document no longer than the limit
//! cannot hold such a leaf and is not even parsed; a longer one is parsed, and rewritten only when
//! something moves.

use super::EventProblem;
use serde_json::{json, Map, Value};

/// Lucene's longest term, in bytes.
pub(super) const TERM_MAX: usize = 32766;

/// Where moved leaves are kept, at the top of the document.
pub(super) const FIELD: &str = "longValues";

/// What a moved leaf leaves at its old place.
pub(super) const MOVED: &str = "(moved to longValues)";

/// The free-form objects: `flattened` in `mappings/mappings.json`, `flat_object` on OpenSearch (a
/// unit test keeps this list and the mappings equal).
pub(super) const FLAT_FIELDS: [&str; 8] = [
    "requestParameters",
    "responseElements",
    "additionalEventData",
    "serviceEventDetails",
    "insightDetails",
    "edgeDeviceDetails",
    "eventContext",
    "userIdentity.sessionContext.webIdFederationData",
];

/// Moves the leaves too long to index out of the free-form objects of the finished document at
/// `out[start..]` (see the module docs); true when it rewrote the document. On error `out` is
/// unchanged.
pub(super) fn move_long_values(start: usize, out: &mut Vec<u8>) -> Result<bool, EventProblem> {
    if out.len() - start <= TERM_MAX {
        return Ok(false);
    }
    let mut doc: Value =
        serde_json::from_slice(&out[start..]).map_err(|e| EventProblem::LongValues(e.to_string()))?;
    let Some(top) = doc.as_object_mut() else { return Ok(false) };
    if top.contains_key(FIELD) {
        // A forged event with a field of that name: left as it is.
        return Ok(false);
    }
    let mut moved = Vec::new();
    for field in FLAT_FIELDS {
        if let Some(value) = at_path(top, field) {
            take_long(value, field.to_string(), field, &mut moved);
        }
    }
    if moved.is_empty() {
        return Ok(false);
    }
    top.insert(FIELD.to_string(), Value::Array(moved));
    out.truncate(start);
    // Writing a Value into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, &doc);
    Ok(true)
}

/// The value at a dotted path of objects.
fn at_path<'v>(top: &'v mut Map<String, Value>, path: &str) -> Option<&'v mut Value> {
    let mut parts = path.split('.');
    let mut value = top.get_mut(parts.next()?)?;
    for key in parts {
        value = value.as_object_mut()?.get_mut(key)?;
    }
    Some(value)
}

/// True when `path=value` is one term too long.
fn too_long(term_path: &str, value: &Value) -> bool {
    matches!(value, Value::String(s) if term_path.len() + 1 + s.len() > TERM_MAX)
}

/// Moves the too-long leaves below `value` to `moved`. `path` names the place exactly (with array
/// positions); `term_path` is the path the engine indexes the leaf under (without them).
fn take_long(value: &mut Value, path: String, term_path: &str, moved: &mut Vec<Value>) {
    match value {
        Value::Object(map) => {
            let long: Vec<String> = map
                .iter()
                .filter(|(key, v)| too_long(&format!("{term_path}.{key}"), v))
                .map(|(key, _)| key.clone())
                .collect();
            for key in long {
                if let Some(v) = map.get_mut(&key) {
                    moved.push(json!({ "field": format!("{path}.{key}"), "value": v.take() }));
                    *v = Value::from(MOVED);
                }
            }
            for (key, v) in map.iter_mut() {
                take_long(v, format!("{path}.{key}"), &format!("{term_path}.{key}"), moved);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter_mut().enumerate() {
                if too_long(term_path, v) {
                    moved.push(json!({ "field": format!("{path}[{i}]"), "value": v.take() }));
                    *v = Value::from(MOVED);
                } else {
                    take_long(v, format!("{path}[{i}]"), term_path, moved);
                }
            }
        }
        // A free-form field that is itself one long string.
        v if too_long(term_path, v) => {
            moved.push(json!({ "field": path, "value": v.take() }));
            *v = Value::from(MOVED);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::Flavor;
    use crate::setup::templates::field_types;
    use crate::transform::{Encoded, Transform};

    /// The transform for OpenSearch (`true`) or for Elasticsearch and files.
    fn transform(moving: bool) -> Transform {
        let mut t = Transform::plain();
        t.move_long_values(moving);
        t
    }

    fn encode_text(raw: &str, moving: bool) -> String {
        let mut out = Vec::new();
        let Encoded::Document(_) = transform(moving).encode(raw.as_bytes(), &mut out).unwrap() else {
            panic!("filtered")
        };
        String::from_utf8(out).unwrap()
    }

    fn encode(raw: &str) -> Value {
        serde_json::from_str(&encode_text(raw, true)).unwrap()
    }

    #[test]
    fn the_free_form_fields_are_the_flattened_ones_of_the_mappings() {
        let mut flattened: Vec<String> = field_types(Flavor::Elasticsearch)
            .into_iter()
            .filter(|(_, t)| t == "flattened")
            .map(|(path, _)| path)
            .collect();
        let mut ours: Vec<String> = FLAT_FIELDS.iter().map(|f| f.to_string()).collect();
        flattened.sort();
        ours.sort();
        assert_eq!(ours, flattened);
    }

    fn long_event() -> String {
        let policy = "p".repeat(40_000);
        let fits = "f".repeat(TERM_MAX - "requestParameters.short".len() - 1);
        json!({
            "eventID": "e", "eventTime": "2024-05-01T00:00:00Z", "eventName": "PutKeyPolicy",
            "requestParameters": {"keyId": "k", "policy": policy, "short": fits,
                                  "list": ["a", policy, {"body": policy}]},
            "responseElements": policy,
            "unmapped": policy,
        })
        .to_string()
    }

    #[test]
    fn for_opensearch_only_leaves_too_long_to_index_move_and_leave_a_marker() {
        let doc = encode(&long_event());
        let rp = &doc["requestParameters"];
        assert_eq!(rp["keyId"], "k");
        assert_eq!(rp["policy"], MOVED, "the key stays, saying where its value went");
        assert_eq!(rp["short"].as_str().unwrap().len(), TERM_MAX - 24, "a leaf that fits stays");
        assert_eq!(rp["list"], json!(["a", MOVED, {"body": MOVED}]));
        assert_eq!(doc["responseElements"], MOVED);
        assert_eq!(doc["unmapped"].as_str().unwrap().len(), 40_000, "not indexed anyway: left");
        let moved: Vec<(&str, usize)> = doc[FIELD]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (m["field"].as_str().unwrap(), m["value"].as_str().unwrap().len()))
            .collect();
        assert_eq!(
            moved,
            [
                ("requestParameters.policy", 40_000),
                ("requestParameters.list[1]", 40_000),
                ("requestParameters.list[2].body", 40_000),
                ("responseElements", 40_000),
            ]
        );
        assert_eq!(doc["@timestamp"], "2024-05-01T00:00:00Z");
    }

    #[test]
    fn for_elasticsearch_and_files_the_document_is_the_event_as_written() {
        let raw = long_event();
        let doc = encode_text(&raw, false);
        assert_eq!(doc, format!("{{\"@timestamp\":\"2024-05-01T00:00:00Z\",{}", &raw[1..]));
        assert!(!doc.contains(FIELD) && !doc.contains(MOVED));
    }

    #[test]
    fn short_or_unaffected_documents_are_left_byte_for_byte() {
        let raw = json!({"eventTime": "2024-05-01T00:00:00Z", "requestParameters": {"a": 2.50},
                         "additionalEventData": {"x": "y".repeat(33_000)}})
        .to_string()
        .replace("2.5", "2.50");
        let doc = encode_text(&raw, true);
        assert!(doc.contains(FIELD) && doc.contains("\"a\":2.5"), "moved, so rewritten");
        assert!(encode_text(&raw, false).contains("\"a\":2.50"), "not moving: bytes kept");
        let raw = json!({"eventTime": "2024-05-01T00:00:00Z", "requestParameters": {"a": 1},
                         "unmapped": "y".repeat(33_000)})
        .to_string()
        .replace("\"a\":1", "\"a\":1.000");
        assert!(encode_text(&raw, true).contains("\"a\":1.000"), "nothing moved: bytes kept");
    }
}
