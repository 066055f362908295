//! "The document is the event as CloudTrail wrote it": a document (a `_source`, or a line of an
//! `--output` file) is compared with its record as JSON text, keys in their order (serde_json keeps
//! it here), after taking away only what cloudtrail-es adds: `@timestamp` when the event has none,
//! and, for OpenSearch, the long values moved to `longValues` put back where their marker is.

use serde_json::Value;

/// What a moved long value leaves at its old place (src/transform/long_values.rs).
pub const MOVED: &str = "(moved to longValues)";

/// The value at an exact path as `longValues.field` writes it: `a.b[2].c`.
fn at<'v>(doc: &'v mut Value, path: &str) -> &'v mut Value {
    let mut here = doc;
    for part in path.split('.') {
        let (key, indexes) = part.split_once('[').map_or((part, ""), |(k, rest)| (k, rest));
        here = &mut here[key];
        for i in indexes.split('[').filter(|s| !s.is_empty()) {
            here = &mut here[i.trim_end_matches(']').parse::<usize>().expect("an array position")];
        }
    }
    here
}

/// `doc` as the event it was made from: without the `@timestamp` the event did not have, and
/// with each moved value back in place of its marker (each marker checked). Returns the text and
/// the paths that had been moved.
pub fn restored(doc: &Value, record: &Value) -> (String, Vec<String>) {
    let mut doc = doc.clone();
    let top = doc.as_object_mut().expect("a document is an object");
    if record.get("@timestamp").is_none() {
        top.shift_remove("@timestamp");
    }
    let mut paths = Vec::new();
    if record.get("longValues").is_none() {
        if let Some(Value::Array(moved)) = top.shift_remove("longValues") {
            for m in moved {
                let field = m["field"].as_str().expect("longValues.field").to_string();
                let place = at(&mut doc, &field);
                assert_eq!(place, MOVED, "no marker at {field}");
                *place = m["value"].clone();
                paths.push(field);
            }
        }
    }
    (doc.to_string(), paths)
}

/// Asserts that `doc` is `record` as written (`may_move`: long values may have moved, for
/// OpenSearch) and
/// returns the paths that had been moved.
pub fn assert_as_written(doc: &Value, record: &Value, may_move: bool) -> Vec<String> {
    let (text, moved) = restored(doc, record);
    let id = record.get("eventID").or(record.get("eventId")).cloned().unwrap_or_default();
    assert!(may_move || moved.is_empty(), "{id}: moved {moved:?}");
    let want = record.to_string();
    if text != want {
        let (got, want) = (text.as_bytes(), want.into_bytes());
        let at = got.iter().zip(&want).position(|(a, b)| a != b).unwrap_or(got.len().min(want.len()));
        let from = at.saturating_sub(80);
        panic!(
            "{id} is not as written; from byte {from}:\n got {}\nwant {}",
            String::from_utf8_lossy(&got[from..(at + 80).min(got.len())]),
            String::from_utf8_lossy(&want[from..(at + 80).min(want.len())])
        );
    }
    moved
}
