//! The string and object copies of CloudTrail's free-form payloads, shaped as the integration's
//! ingest pipeline shapes them.
//!
//! The pipeline parses the event into Java maps, drops every `null`, `""` and (then) empty object
//! or array, and writes `aws.cloudtrail.request_parameters` (and the other payload strings) with
//! Java's `Map.toString()`: `{key=value, list=[a, b], nested={k=v}}`. Prebuilt rules match inside
//! those strings (`*policyArn=arn:aws:iam::aws:policy/AdministratorAccess*`), so the shape must
//! be the same, down to the key order, which is a `java.util.HashMap`'s: entries sorted by bucket
//! (the spread `String.hashCode()` masked by the table size, 16 doubling while more than 3/4
//! full), ties in insertion order. (A bucket of 8 or more colliding keys in a table of 64 or more
//! would be reordered by Java's tree bins; that needs crafted keys and is not modelled.)
//! Numbers print as Java prints `Integer`/`Long` and `Double`; `true`/`false` as themselves.

use serde_json::{Map, Value};

/// `value` without its `null`s, empty strings, and the objects and arrays left empty by that;
/// `None` when nothing is left (the pipeline then drops the field itself).
pub(super) fn prune(value: &Value) -> Option<Value> {
    match value {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::Object(map) => {
            let kept: Map<String, Value> =
                map.iter().filter_map(|(k, v)| Some((k.clone(), prune(v)?))).collect();
            (!kept.is_empty()).then_some(Value::Object(kept))
        }
        Value::Array(items) => {
            let kept: Vec<Value> = items.iter().filter_map(prune).collect();
            (!kept.is_empty()).then_some(Value::Array(kept))
        }
        other => Some(other.clone()),
    }
}

/// Java's `toString()` of the value as the pipeline holds it (pruned first: see [`prune`]).
pub(super) fn to_java_string(value: &Value) -> String {
    let mut out = String::new();
    write(value, &mut out);
    out
}

fn write(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => out.push_str(&i.to_string()),
            (_, Some(u), _) => out.push_str(&u.to_string()),
            (_, _, Some(f)) => out.push_str(&java_double(f)),
            _ => out.push_str(&n.to_string()),
        },
        Value::String(s) => out.push_str(s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let keys: Vec<&str> = map.keys().map(String::as_str).collect();
            out.push('{');
            for (i, at) in hash_map_order(&keys).into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(keys[at]);
                out.push('=');
                write(&map[keys[at]], out);
            }
            out.push('}');
        }
    }
}

/// `Double.toString`: plain decimal with at least one fractional digit in [10⁻³, 10⁷), else
/// `d.dddE±n`; both with the shortest digits that read back as the same double (as Rust prints).
fn java_double(f: f64) -> String {
    let abs = f.abs();
    if abs == 0.0 || (1e-3..1e7).contains(&abs) {
        let plain = f.to_string();
        if plain.contains('.') {
            plain
        } else {
            format!("{plain}.0")
        }
    } else {
        let sci = format!("{f:e}");
        let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
        let dot = if mantissa.contains('.') { "" } else { ".0" };
        format!("{mantissa}{dot}E{exponent}")
    }
}

/// Java's `String.hashCode()`: over UTF-16 code units, wrapping.
pub(super) fn string_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, unit| h.wrapping_mul(31).wrapping_add(i32::from(unit)))
}

/// The order in which a `java.util.HashMap` filled with `keys` (in this order, all distinct)
/// iterates them, as indexes into `keys`.
pub(super) fn hash_map_order(keys: &[&str]) -> Vec<usize> {
    let mut capacity = 16usize;
    while keys.len() > capacity / 4 * 3 {
        capacity *= 2;
    }
    let bucket = |key: &str| {
        let h = string_hash(key) as u32;
        ((h ^ (h >> 16)) as usize) & (capacity - 1)
    };
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by_key(|&i| (bucket(keys[i]), i));
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Key orders from the integration's own pipeline test results (Elasticsearch's output).
    #[test]
    fn keys_come_in_java_hash_map_order() {
        let order = |keys: &[&str]| -> Vec<String> {
            hash_map_order(keys).into_iter().map(|i| keys[i].to_string()).collect()
        };
        assert_eq!(
            order(&["roleArn", "roleSessionName", "durationSeconds"]),
            ["durationSeconds", "roleArn", "roleSessionName"]
        );
        assert_eq!(order(&["credentials", "assumedRoleUser"]), ["assumedRoleUser", "credentials"]);
        assert_eq!(
            order(&["accessKeyId", "expiration", "sessionToken"]),
            ["accessKeyId", "sessionToken", "expiration"]
        );
        assert_eq!(order(&["MobileVersion", "LoginTo", "MFAUsed"]), ["LoginTo", "MobileVersion", "MFAUsed"]);
    }

    #[test]
    fn string_hash_is_javas() {
        assert_eq!(string_hash(""), 0);
        assert_eq!(string_hash("a"), 97);
        assert_eq!(string_hash("hello"), 99_162_322);
        // Overflows wrap as in Java: "polygenelubricants".hashCode() == Integer.MIN_VALUE.
        assert_eq!(string_hash("polygenelubricants"), i32::MIN);
        // UTF-16 code units, not bytes or chars: U+1F600 is a surrogate pair.
        assert_eq!(string_hash("😀"), 0xD83D * 31 + 0xDE00);
    }

    #[test]
    fn maps_lists_and_scalars_print_as_java_does() {
        let v = json!({"roleArn": "arn:aws:iam::1:role/R", "roleSessionName": "s", "durationSeconds": 3600});
        assert_eq!(
            to_java_string(&v),
            "{durationSeconds=3600, roleArn=arn:aws:iam::1:role/R, roleSessionName=s}"
        );
        let v = json!({"items": [{"a": true}, 1.5, 2.0, 12345678.9, 0.0001, -3]});
        assert_eq!(to_java_string(&v), "{items=[{a=true}, 1.5, 2.0, 1.23456789E7, 1.0E-4, -3]}");
    }

    #[test]
    fn prune_drops_nulls_empty_strings_and_what_they_leave_empty() {
        let v = json!({"a": null, "b": "", "c": {"d": null}, "e": [null, ""], "f": 0, "g": false, "h": ["x", null]});
        assert_eq!(prune(&v), Some(json!({"f": 0, "g": false, "h": ["x"]})));
        assert_eq!(prune(&json!({"a": {"b": [null]}})), None);
        assert_eq!(prune(&json!(null)), None);
    }
}
