//! For OpenSearch only: copies of the nine request/response leaves OpenSearch Security Analytics'
//! `cloudtrail` log type names, as concrete keyword fields beside the `flat_object`s.
//!
//! `requestParameters` and `responseElements` are `flat_object` on OpenSearch. A field alias to a
//! leaf inside one (`requestParameters.arn`) is accepted by OpenSearch 2.19 and 3.6 but matches
//! nothing (measured), so Security Analytics' aliases for these paths could never work. Its log
//! type looks for each of its fields under CloudTrail's name first, then under OCSF's; for the
//! request/response leaves OCSF's name is the leaf under `unmapped` (`unmapped.requestParameters.arn`),
//! OCSF's place for a source's own fields. So the copy goes there, under that name, and a detector
//! finds it by itself. (Three of the nine have other OCSF names, `user.uid`, `user.name` and
//! `status_id`, which no CloudTrail document should claim: those three copies are under `unmapped`
//! too, and a detector gets them through an explicit alias; none of SA's 40 rules reads them.)
//!
//! The copy is made from the finished document, after redaction, so a redacted value is copied as
//! redacted. Only scalars are copied (a string, number or boolean, or those of an array at the
//! path; through arrays of objects on the way, as `containerDefinitions` is one); an object at a
//! path is not, nor the marker a leaf moved to `longValues` leaves (given by the caller). The
//! walker captures the nine paths, so an event that has none of them is not parsed again; one
//! that has them is. An event that already has an `unmapped` field of its own is
//! left as it is. Elasticsearch and files get none of this: the document stays the event.

use super::capture::{Found, Slots};
use super::EventProblem;
use serde_json::{Map, Value};

/// Where the copies go, at the top of the document.
pub const FIELD: &str = "unmapped";

/// The paths copied, as Security Analytics' `cloudtrail` log type names them (its `raw_field`s
/// inside `requestParameters` and `responseElements`).
pub const PATHS: [&str; 9] = [
    "requestParameters.arn",
    "requestParameters.attribute",
    "requestParameters.userName",
    "requestParameters.roleArn",
    "requestParameters.roleSessionName",
    "requestParameters.containerDefinitions.command",
    "responseElements.pendingModifiedValues.masterUserPassword",
    "responseElements.publiclyAccessible",
    "responseElements.ConsoleLogin",
];

/// The capture slots of the paths, in the walker's plan.
#[derive(Debug)]
pub(super) struct Copies {
    slots: Vec<u16>,
}

impl Copies {
    /// Asks `slots` to capture the paths (through any array on the way).
    pub fn new(slots: &mut Slots) -> Self {
        let mut wanted: Vec<u16> = PATHS.iter().map(|p| slots.named(p)).collect();
        // `containerDefinitions` is an array of objects: `*` steps into its elements.
        wanted.push(slots.named("requestParameters.containerDefinitions.*.command"));
        Copies { slots: wanted }
    }

    /// Whether the event has any of the paths.
    pub fn wanted(&self, raw: &[u8], found: &Found) -> bool {
        self.slots.iter().any(|&slot| found.values(raw, slot).next().is_some())
    }
}

/// Appends `"unmapped": {…}` with the copies to the finished document at `out[start..]`, when it
/// has any of the paths as scalars other than `moved` (the marker a leaf moved to `longValues`
/// leaves). On error `out` is unchanged.
pub(super) fn add_copies(start: usize, out: &mut Vec<u8>, moved: &str) -> Result<(), EventProblem> {
    let doc: Value =
        serde_json::from_slice(&out[start..]).map_err(|e| EventProblem::Copies(e.to_string()))?;
    let Some(copies) = copies_of(&doc, moved) else { return Ok(()) };
    // The document is an object with at least `@timestamp`: its last byte is its closing brace.
    debug_assert_eq!(out.last(), Some(&b'}'));
    out.pop();
    out.extend_from_slice(b",\"");
    out.extend_from_slice(FIELD.as_bytes());
    out.extend_from_slice(b"\":");
    // Writing a Value into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, &copies);
    out.push(b'}');
    Ok(())
}

/// The `unmapped` object for `doc`: `{"requestParameters": {"arn": …}, …}`, or `None` when there
/// is nothing to copy (or the event has an `unmapped` of its own).
fn copies_of(doc: &Value, moved: &str) -> Option<Value> {
    if doc.get(FIELD).is_some() {
        return None;
    }
    let mut top = Map::new();
    for path in PATHS {
        let mut values = Vec::new();
        let parts: Vec<&str> = path.split('.').collect();
        scalars(doc, &parts, moved, &mut values);
        let value = match values.len() {
            0 => continue,
            1 => values.remove(0),
            _ => Value::Array(values),
        };
        let mut at = &mut top;
        let (leaf, parents) = parts.split_last()?;
        for part in parents {
            let next = at.entry(part.to_string()).or_insert_with(|| Value::Object(Map::new()));
            at = next.as_object_mut()?;
        }
        at.insert(leaf.to_string(), value);
    }
    (!top.is_empty()).then_some(Value::Object(top))
}

/// The scalars at `path` under `value`, stepping through arrays (and dotted keys, which the
/// engines read as the path they spell).
fn scalars(value: &Value, path: &[&str], moved: &str, out: &mut Vec<Value>) {
    match (value, path.split_first()) {
        (Value::Array(items), _) => items.iter().for_each(|item| scalars(item, path, moved, out)),
        (Value::Object(map), Some((first, rest))) => {
            if let Some(inner) = map.get(*first) {
                scalars(inner, rest, moved, out);
            }
            // `{"pendingModifiedValues.masterUserPassword": …}` spells the same path.
            for i in 1..path.len() {
                if let Some(inner) = map.get(&path[..=i].join(".")) {
                    scalars(inner, &path[i + 1..], moved, out);
                }
            }
        }
        (Value::Object(_) | Value::Null, _) => {}
        // A leaf moved to `longValues` (OpenSearch) left this marker: not the event's value.
        (Value::String(s), None) if s == moved => {}
        (scalar, None) => out.push(scalar.clone()),
        (_, Some(_)) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const MOVED: &str = "(moved to longValues)";

    fn copies(doc: Value) -> Option<Value> {
        copies_of(&doc, MOVED)
    }

    #[test]
    fn the_nine_leaves_are_copied_under_unmapped() {
        let doc = json!({"@timestamp": "t", "userIdentity": {"arn": "not copied"},
            "requestParameters": {"arn": "a", "attribute": "launchPermission", "userName": "u", "roleArn": "r",
                "roleSessionName": "s", "other": "x",
                "containerDefinitions": [{"command": ["sh", "-c", "id"]}, {"image": "i"}, {"command": ["true"]}]},
            "responseElements": {"pendingModifiedValues": {"masterUserPassword": "****"}, "publiclyAccessible": true,
                "ConsoleLogin": "Success"}});
        assert_eq!(
            copies(doc),
            Some(json!({
                "requestParameters": {"arn": "a", "attribute": "launchPermission", "userName": "u", "roleArn": "r",
                    "roleSessionName": "s", "containerDefinitions": {"command": ["sh", "-c", "id", "true"]}},
                "responseElements": {"pendingModifiedValues": {"masterUserPassword": "****"},
                    "publiclyAccessible": true, "ConsoleLogin": "Success"}}))
        );
    }

    #[test]
    fn objects_nulls_and_absent_paths_are_not_copied() {
        assert_eq!(copies(json!({"requestParameters": {"arn": {"x": 1}, "userName": null}})), None);
        assert_eq!(copies(json!({"requestParameters": "a string", "responseElements": null})), None);
        assert_eq!(copies(json!({"eventName": "X"})), None);
        let moved = json!({"requestParameters": {"containerDefinitions": [{"command": MOVED}]}});
        assert_eq!(copies(moved), None, "a moved leaf's marker is not copied");
        let own = json!({"unmapped": 1, "requestParameters": {"arn": "a"}});
        assert_eq!(copies(own), None, "an event's own `unmapped` is left alone");
    }

    #[test]
    fn dotted_keys_spell_the_same_path() {
        let doc = json!({"responseElements": {"pendingModifiedValues.masterUserPassword": "****"}});
        assert_eq!(
            copies(doc),
            Some(json!({"responseElements": {"pendingModifiedValues": {"masterUserPassword": "****"}}}))
        );
    }

    /// Through the whole transform: off unless switched on, after redaction, the event kept as is.
    #[test]
    fn the_transform_copies_for_opensearch_only_and_after_redaction() {
        use crate::transform::{Encoded, Transform, TransformSpec};
        let event = r#"{"eventID":"e","eventTime":"2024-05-01T10:00:00Z","eventName":"AssumeRole",
            "requestParameters":{"roleArn":"arn:aws:iam::1:role/r","roleSessionName":"alice@example.com"}}"#;
        let encode = |t: &Transform| {
            let mut out = Vec::new();
            assert!(matches!(t.encode(event.as_bytes(), &mut out).unwrap(), Encoded::Document(_)));
            serde_json::from_slice::<Value>(&out).unwrap()
        };
        let spec = || TransformSpec {
            redact: vec!["requestParameters.roleSessionName=mask".parse().unwrap()],
            ..TransformSpec::default()
        };
        let mut t = Transform::new(spec()).unwrap();
        let plain = encode(&t);
        assert!(plain.get("unmapped").is_none(), "not for Elasticsearch or files: {plain}");
        t.copy_keyword_leaves().unwrap();
        assert!(t.copies_keyword_leaves());
        let doc = encode(&t);
        let masked = &plain["requestParameters"]["roleSessionName"];
        assert_ne!(masked, "alice@example.com");
        assert_eq!(
            doc["unmapped"],
            json!({"requestParameters": {"roleArn": "arn:aws:iam::1:role/r", "roleSessionName": masked}})
        );
        let mut without = doc.clone();
        without.as_object_mut().unwrap().remove("unmapped");
        assert_eq!(without, plain, "the event itself is unchanged");
        let other = r#"{"eventID":"e","eventTime":"2024-05-01T10:00:00Z","userIdentity":{"arn":"a"}}"#;
        let mut out = Vec::new();
        t.encode(other.as_bytes(), &mut out).unwrap();
        assert!(!String::from_utf8(out).unwrap().contains("unmapped"), "none of the nine: nothing added");
    }

    #[test]
    fn the_copies_are_appended_inside_the_document() {
        let mut out = b"xx{\"@timestamp\":\"t\",\"requestParameters\":{\"roleArn\":\"r\"}}".to_vec();
        add_copies(2, &mut out, MOVED).unwrap();
        let doc: Value = serde_json::from_slice(&out[2..]).unwrap();
        assert_eq!(doc["unmapped"], json!({"requestParameters": {"roleArn": "r"}}));
        let mut plain = b"{\"@timestamp\":\"t\"}".to_vec();
        add_copies(0, &mut plain, MOVED).unwrap();
        assert_eq!(plain, b"{\"@timestamp\":\"t\"}");
    }
}
