//! Is what the cluster holds the same as what we would install? Decides "unchanged" vs "updated",
//! so that a second `setup` changes nothing.
//!
//! The cluster does not hand back the body we sent: it adds fields (ILM `modified_date`, ISM
//! `schema_version`, retry defaults…), nests dotted settings (`index.codec` → `{"index":{"codec"}}`)
//! and turns setting values into strings. So the comparison is: every field we send is present
//! with an equal value; fields only the server has are ignored; settings are compared flattened,
//! and a scalar equals its string form. A field we stopped sending would go unnoticed, but it comes
//! with a new version, and `_meta.version` differs then.

use serde_json::{Map, Value};

/// True when `installed` already holds everything in `desired`.
pub fn matches(desired: &Value, installed: &Value) -> bool {
    match (desired, installed) {
        (Value::Object(want), Value::Object(have)) => want.iter().all(|(key, w)| match have.get(key) {
            Some(h) if key == "settings" => flat_settings(w) == flat_settings(h),
            Some(h) => matches(w, h),
            None => w.is_null(),
        }),
        (Value::Array(want), Value::Array(have)) => {
            want.len() == have.len() && want.iter().zip(have).all(|(w, h)| matches(w, h))
        }
        (Value::Object(_) | Value::Array(_), _) | (_, Value::Object(_) | Value::Array(_)) => false,
        (w, h) => w == h || scalar_text(w) == scalar_text(h),
    }
}

/// Settings as `dotted.key → text`, however they were nested.
fn flat_settings(settings: &Value) -> Map<String, Value> {
    fn walk(prefix: &str, value: &Value, out: &mut Map<String, Value>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                    walk(&key, v, out);
                }
            }
            other => {
                out.insert(prefix.to_string(), Value::String(scalar_text(other)));
            }
        }
    }
    let mut out = Map::new();
    walk("", settings, &mut out);
    out
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn server_added_fields_are_ignored() {
        let want = json!({"policy": {"phases": {"delete": {"min_age": "30d"}}}});
        let have = json!({"policy": {"phases": {"delete": {"min_age": "30d", "actions": {}}}, "schema_version": 21}});
        assert!(matches(&want, &have));
    }

    #[test]
    fn settings_come_back_nested_and_as_strings() {
        // As sent, and as Elasticsearch and OpenSearch answer GET _component_template.
        let want = json!({"template": {"settings": {"index.codec": "best_compression", "index.mapping.ignore_malformed": true}}});
        let have = json!({"template": {"settings": {"index": {"codec": "best_compression", "mapping": {"ignore_malformed": "true"}}}}});
        assert!(matches(&want, &have));
        let changed = json!({"template": {"settings": {"index": {"codec": "default", "mapping": {"ignore_malformed": "true"}}}}});
        assert!(!matches(&want, &changed));
        let extra = json!({"template": {"settings": {"index": {"codec": "best_compression", "mapping": {"ignore_malformed": "true"}, "hidden": "true"}}}});
        assert!(!matches(&want, &extra), "a setting someone added by hand is put back in line");
    }

    #[test]
    fn differences_are_seen() {
        assert!(!matches(&json!({"priority": 201}), &json!({"priority": 202})));
        assert!(!matches(&json!({"a": {"type": "keyword"}}), &json!({})));
        assert!(!matches(&json!({"composed_of": ["a", "b"]}), &json!({"composed_of": ["a"]})));
        assert!(!matches(&json!({"a": {"b": 1}}), &json!({"a": "b"})));
        assert!(!matches(&json!({"_meta": {"version": "0.2.0"}}), &json!({"_meta": {"version": "0.1.0"}})));
    }

    #[test]
    fn scalars_equal_their_text() {
        assert!(matches(&json!({"dynamic": false}), &json!({"dynamic": "false"})));
        assert!(matches(&json!({"ignore_above": 1024}), &json!({"ignore_above": "1024"})));
        assert!(!matches(&json!({"ignore_above": 1024}), &json!({"ignore_above": "1025"})));
    }
}
