//! The index template for `PREFIX-*` and the component templates it is composed of, built from
//! the JSON in `mappings/` (embedded at build time).
//!
//! - `PREFIX@settings`: index settings (compression, `ignore_malformed`).
//! - `PREFIX@mappings`: explicit types for CloudTrail's documented fields, `dynamic: false` (an
//!   unknown field stays in `_source` but never changes the mapping, so it can neither conflict nor
//!   grow the field count), and `flattened` for the free-form objects. `mappings.json` is written
//!   for Elasticsearch; [`mappings_component`] derives the OpenSearch form (`flat_object`, which
//!   takes no parameters) from it, so the two can never drift apart.
//! - Long values: Lucene refuses a term over 32,766 bytes, and the cluster then refuses the whole
//!   document. So every `keyword` field (ECS ones and multi-fields included) that does not set a
//!   lower `ignore_above` gets [`KEYWORD_IGNORE_ABOVE`] here, and `flattened` has its own: a longer
//!   value stays in `_source`, unindexed, on both engines. Only OpenSearch's `flat_object` has no
//!   such parameter: for OpenSearch the transform moves such leaves to `longValues` first
//!   (`transform/long_values.rs`, whose list of free-form fields a test keeps equal to the
//!   `flattened` fields here).
//!   On OpenSearch it also maps the keyword copies of the nine request/response leaves Security
//!   Analytics' CloudTrail rules read, under `unmapped` (`with_keyword_copies`).
//! - `PREFIX@ecs` (with `--ecs` only): the ECS and `aws.cloudtrail.*` fields the documents then
//!   also carry (`ecs-mappings.json`, converted for OpenSearch the same way).
//! - `PREFIX@lifecycle` (Elasticsearch with ILM only): the ILM policy and
//!   `parse_origination_date`, kept apart because a cluster without ILM refuses those settings.
//! - the index template `PREFIX`: `PREFIX-*`, composed of the above.
//! - the index template `PREFIX-findings` for the Sigma findings (`PREFIX-findings-*`,
//!   `findings-template.json`, self-contained; with the lifecycle component when there is one):
//!   its longer prefix gives it the higher priority over `PREFIX-*`.
//!
//! With `--ecs` the prefix is `logs-aws.cloudtrail-NAMESPACE` (`IndexNames::ecs`). Its template
//! has no `data_stream`, so the daily indices are plain indices, and its priority (see
//! [`priority`]) is above both templates that would otherwise make them data streams:
//! Elasticsearch's built-in `logs` (`logs-*-*`, 100) and Fleet's `logs-aws.cloudtrail` (200).
//!
//! Everything installed carries `_meta.managed_by = cloudtrail-es` and the version that wrote it.

use crate::cluster::Flavor;
use crate::output::elasticsearch::IndexNames;
use crate::transform::keyword_copies;
use serde_json::{json, Value};

const SETTINGS: &str = include_str!("../../mappings/settings.json");
const MAPPINGS: &str = include_str!("../../mappings/mappings.json");
const ECS_MAPPINGS: &str = include_str!("../../mappings/ecs-mappings.json");
const LIFECYCLE_SETTINGS: &str = include_str!("../../mappings/lifecycle-settings.json");
const INDEX_TEMPLATE: &str = include_str!("../../mappings/index-template.json");
const FINDINGS_TEMPLATE: &str = include_str!("../../mappings/findings-template.json");

/// Who wrote an object, in its `_meta`.
pub const MANAGED_BY: &str = "cloudtrail-es";

/// `_meta` of everything we install.
pub fn meta() -> Value {
    json!({ "managed_by": MANAGED_BY, "version": env!("CARGO_PKG_VERSION") })
}

/// The index template's priority.
///
/// It grows with the prefix length: templates for `cloudtrail-*` and `cloudtrail-prod-*` overlap,
/// the cluster refuses overlapping templates of equal priority, and the longer (more specific)
/// prefix should win. The shortest `--ecs` prefix, `logs-aws.cloudtrail-N`, gets 221: above
/// Elasticsearch's `logs` (100) and Fleet's `logs-aws.cloudtrail` (200), which would make
/// data streams of our daily indices.
pub fn priority(prefix: &str) -> u64 {
    200 + prefix.len() as u64
}

/// `PREFIX@settings`.
pub fn settings_component() -> Value {
    with_meta(embedded("settings.json", SETTINGS))
}

/// The `ignore_above` of every `keyword` field that sets none: Elasticsearch's advice for
/// Lucene's 32,766-byte term (`ignore_above` counts characters; one is at most 4 UTF-8 bytes).
pub const KEYWORD_IGNORE_ABOVE: u64 = 32766 / 4;

/// `PREFIX@mappings` for this kind of cluster.
pub fn mappings_component(flavor: Flavor) -> Value {
    let mappings = limit_keywords(embedded("mappings.json", MAPPINGS));
    with_meta(match flavor {
        Flavor::Elasticsearch => mappings,
        Flavor::OpenSearch => with_keyword_copies(opensearch_form(mappings)),
    })
}

/// The OpenSearch mapping of the keyword copies under `unmapped` (`transform/keyword_copies.rs`):
/// `unmapped.requestParameters.arn` and the others, each a `keyword` (`ignore_above`: a longer
/// value stays in `_source`, unindexed, as one term could not hold it), so that a field alias to
/// each is accepted and finds the events.
fn with_keyword_copies(mut mappings: Value) -> Value {
    let mut copies = json!({});
    for path in keyword_copies::PATHS {
        let mut at = &mut copies;
        for part in path.split('.') {
            at = &mut at["properties"][part];
        }
        *at = json!({ "type": "keyword", "ignore_above": KEYWORD_IGNORE_ABOVE });
    }
    mappings["template"]["mappings"]["properties"][keyword_copies::FIELD] = copies;
    mappings
}

/// `PREFIX@ecs` for this kind of cluster.
pub fn ecs_mappings_component(flavor: Flavor) -> Value {
    let mappings = limit_keywords(embedded("ecs-mappings.json", ECS_MAPPINGS));
    with_meta(match flavor {
        Flavor::Elasticsearch => mappings,
        Flavor::OpenSearch => opensearch_form(mappings),
    })
}

/// `PREFIX@lifecycle`: attach the ILM policy and age each daily index by the date in its name.
pub fn lifecycle_component(names: &IndexNames) -> Value {
    let body = embedded("lifecycle-settings.json", LIFECYCLE_SETTINGS);
    with_meta(fill(body, &[("{{POLICY}}", &names.policy())]))
}

/// The index template for `PREFIX-*`, composed of the settings, mappings, ECS mappings (with
/// `--ecs`) and (when the cluster has ILM and a retention is set) lifecycle components.
pub fn index_template(names: &IndexNames, with_lifecycle: bool) -> Value {
    let mut body = fill(embedded("index-template.json", INDEX_TEMPLATE), &[("{{PREFIX}}", &names.prefix)]);
    let mut parts = vec![names.settings(), names.mappings()];
    if names.ecs {
        parts.push(names.ecs_mappings());
    }
    if with_lifecycle {
        parts.push(names.lifecycle());
    }
    body["composed_of"] = json!(parts);
    body["priority"] = json!(priority(&names.prefix));
    body["_meta"] = meta();
    body
}

/// The index template for `PREFIX-findings-*` (the Sigma findings).
pub fn findings_template(names: &IndexNames, with_lifecycle: bool) -> Value {
    let mut body =
        fill(embedded("findings-template.json", FINDINGS_TEMPLATE), &[("{{PREFIX}}", &names.prefix)]);
    if with_lifecycle {
        body["composed_of"] = json!([names.lifecycle()]);
    }
    body["priority"] = json!(priority(&names.findings()));
    body["_meta"] = meta();
    body
}

/// The field paths of the mappings and their types (`"sourceIPAddress.ip" → "ip"`), multi-fields
/// included; objects are not listed. The Kibana tests check every field a chart uses against it.
pub fn field_types(flavor: Flavor) -> Vec<(String, String)> {
    fn walk(prefix: &str, props: &Value, out: &mut Vec<(String, String)>) {
        let Some(props) = props.as_object() else { return };
        for (name, def) in props {
            let path = if prefix.is_empty() { name.clone() } else { format!("{prefix}.{name}") };
            if let Some(t) = def.get("type").and_then(Value::as_str) {
                out.push((path.clone(), t.to_string()));
            }
            walk(&path, &def["properties"], out);
            walk(&path, &def["fields"], out);
        }
    }
    let mut out = Vec::new();
    walk("", &mappings_component(flavor)["template"]["mappings"]["properties"], &mut out);
    out
}

/// Parses one of our embedded JSON files. They are part of the program, not input: the unit tests
/// below parse every one, so this cannot fail in a released build.
pub(crate) fn embedded(name: &str, text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("mappings/{name} is not valid JSON: {e}"))
}

/// Replaces placeholders inside every string of `value`.
pub(crate) fn fill(value: Value, vars: &[(&str, &str)]) -> Value {
    match value {
        Value::String(s) => Value::String(vars.iter().fold(s, |s, (k, v)| s.replace(k, v))),
        Value::Array(items) => Value::Array(items.into_iter().map(|v| fill(v, vars)).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, fill(v, vars))).collect()),
        other => other,
    }
}

fn with_meta(mut body: Value) -> Value {
    body["_meta"] = meta();
    body
}

/// Gives every `keyword` field without an `ignore_above` [`KEYWORD_IGNORE_ABOVE`] (module docs).
fn limit_keywords(value: Value) -> Value {
    match value {
        Value::Object(mut map) => {
            if map.get("type").and_then(Value::as_str) == Some("keyword") && !map.contains_key("ignore_above")
            {
                map.insert("ignore_above".into(), json!(KEYWORD_IGNORE_ABOVE));
            }
            Value::Object(map.into_iter().map(|(k, v)| (k, limit_keywords(v))).collect())
        }
        other => other,
    }
}

/// The date format OpenSearch is given to try first. CloudTrail writes every time as
/// `2024-05-03T05:50:02Z`, which OpenSearch parses with `strict_date_time_no_millis` in 0.6 µs
/// where `strict_date_optional_time` (and the alternatives after it) take 1.6 µs on 3.6 and
/// 4.6 µs on 2.19, for each of the two dates of every event (docs/design/index-template.md).
/// Elasticsearch has a fast parser of its own for `strict_date_optional_time`: its form is kept.
pub const OPENSEARCH_FIRST_DATE_FORMAT: &str = "strict_date_time_no_millis";

/// The OpenSearch form of a mapping written for Elasticsearch: `flattened` (with its parameters)
/// becomes `flat_object`, which accepts none (2.19 and 3.6 refuse `ignore_above`, `depth_limit`,
/// `index` and `doc_values` alike), and a date format that starts with `strict_date_optional_time`
/// is tried with [`OPENSEARCH_FIRST_DATE_FORMAT`] first.
fn opensearch_form(value: Value) -> Value {
    match value {
        Value::Object(map) if map.get("type").and_then(Value::as_str) == Some("flattened") => {
            json!({ "type": "flat_object" })
        }
        Value::Object(mut map) => {
            if let Some(Value::String(format)) = map.get_mut("format") {
                if format.starts_with("strict_date_optional_time") {
                    *format = format!("{OPENSEARCH_FIRST_DATE_FORMAT}||{format}");
                }
            }
            Value::Object(map.into_iter().map(|(k, v)| (k, opensearch_form(v))).collect())
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> IndexNames {
        IndexNames::new("ct")
    }

    #[test]
    fn every_embedded_file_parses() {
        for flavor in [Flavor::Elasticsearch, Flavor::OpenSearch] {
            assert!(mappings_component(flavor)["template"]["mappings"].is_object());
        }
        assert!(settings_component()["template"]["settings"].is_object());
        assert_eq!(
            lifecycle_component(&names())["template"]["settings"]["index.lifecycle.name"],
            "ct-retention"
        );
    }

    #[test]
    fn the_index_template_composes_the_components_for_the_prefix() {
        let t = index_template(&names(), false);
        assert_eq!(t["index_patterns"], json!(["ct-*"]));
        assert_eq!(t["composed_of"], json!(["ct@settings", "ct@mappings"]));
        assert_eq!(t["priority"], 202);
        assert_eq!(t["_meta"]["managed_by"], "cloudtrail-es");
        let t = index_template(&names(), true);
        assert_eq!(t["composed_of"][2], "ct@lifecycle");
        let f = findings_template(&names(), false);
        assert_eq!(f["index_patterns"], json!(["ct-findings-*"]));
        assert!(f["priority"].as_u64() > t["priority"].as_u64(), "above PREFIX-*, which matches too");
        assert_eq!(f["template"]["mappings"]["properties"]["rule"]["properties"]["level"]["type"], "keyword");
        assert_eq!(findings_template(&names(), true)["composed_of"], json!(["ct@lifecycle"]));
    }

    #[test]
    fn the_ecs_template_composes_the_ecs_mappings_above_the_logs_templates() {
        let names = IndexNames::ecs("n");
        let t = index_template(&names, true);
        assert_eq!(t["index_patterns"], json!(["logs-aws.cloudtrail-n-*"]));
        assert_eq!(
            t["composed_of"],
            json!([
                "logs-aws.cloudtrail-n@settings",
                "logs-aws.cloudtrail-n@mappings",
                "logs-aws.cloudtrail-n@ecs",
                "logs-aws.cloudtrail-n@lifecycle"
            ])
        );
        assert!(t["priority"].as_u64().unwrap() > 200, "above Fleet's logs-aws.cloudtrail");
        assert!(t.get("data_stream").is_none(), "plain daily indices");
        let es = ecs_mappings_component(Flavor::Elasticsearch);
        let os = ecs_mappings_component(Flavor::OpenSearch).to_string();
        let flattened = &es["template"]["mappings"]["properties"]["aws"]["properties"]["cloudtrail"]
            ["properties"]["flattened"]["properties"]["request_parameters"]["type"];
        assert_eq!(flattened, "flattened");
        assert!(
            os.contains("flat_object")
                && !os.contains("\"type\":\"flattened\"")
                && !os.contains("depth_limit")
        );
    }

    #[test]
    fn no_dynamic_fields_and_no_date_detection() {
        let m = &mappings_component(Flavor::Elasticsearch)["template"]["mappings"];
        assert_eq!(m["dynamic"], false);
        assert_eq!(m["date_detection"], false);
        assert_eq!(m["numeric_detection"], false);
    }

    #[test]
    fn free_form_objects_are_flattened_or_flat_object() {
        let es = field_types(Flavor::Elasticsearch);
        let os = field_types(Flavor::OpenSearch);
        for field in ["requestParameters", "responseElements", "additionalEventData", "serviceEventDetails"] {
            assert!(es.contains(&(field.into(), "flattened".into())), "{field}");
            assert!(os.contains(&(field.into(), "flat_object".into())), "{field}");
        }
        let os_text = mappings_component(Flavor::OpenSearch).to_string();
        assert!(!os_text.contains("flattened") && !os_text.contains("ignore_above\":4096"));
        // OpenSearch has the keyword copies besides (below); nothing else differs.
        let copies: Vec<_> = os.iter().filter(|(p, _)| p.starts_with("unmapped.")).collect();
        assert_eq!(es.len() + copies.len(), os.len());
    }

    #[test]
    fn opensearch_tries_cloudtrails_own_time_format_first() {
        let format = |flavor, field: &str| {
            let m = mappings_component(flavor);
            m["template"]["mappings"]["properties"][field]["format"].as_str().unwrap().to_string()
        };
        for field in ["@timestamp", "eventTime"] {
            let es = format(Flavor::Elasticsearch, field);
            assert!(es.starts_with("strict_date_optional_time||"), "{es}");
            assert_eq!(format(Flavor::OpenSearch, field), format!("strict_date_time_no_millis||{es}"));
        }
        let ecs = ecs_mappings_component(Flavor::OpenSearch).to_string();
        assert!(!ecs.contains("\"format\":\"strict_date_optional_time"), "{ecs}");
    }

    #[test]
    fn opensearch_maps_the_keyword_copies_for_security_analytics() {
        let os = field_types(Flavor::OpenSearch);
        for path in keyword_copies::PATHS {
            let copy = format!("unmapped.{path}");
            assert!(os.contains(&(copy.clone(), "keyword".into())), "{copy}");
        }
        assert!(field_types(Flavor::Elasticsearch).iter().all(|(p, _)| !p.starts_with("unmapped")));
    }

    #[test]
    fn times_and_addresses_have_their_types() {
        let es = field_types(Flavor::Elasticsearch);
        let ty = |f: &str| es.iter().find(|(p, _)| p == f).map(|(_, t)| t.as_str());
        assert_eq!(ty("@timestamp"), Some("date"));
        assert_eq!(ty("eventTime"), Some("date"));
        assert_eq!(ty("sourceIPAddress"), Some("keyword"));
        assert_eq!(ty("sourceIPAddress.ip"), Some("ip"));
        assert_eq!(ty("apiVersion"), Some("keyword"));
        assert_eq!(ty("userIdentity.sessionContext.attributes.creationDate"), Some("date"));
    }

    #[test]
    fn aggregated_fields_are_typed_and_the_costs_measured_are_off() {
        // Index sorting keeps the bytes per event down (docs/design/index-template.md); OpenSearch 2 then
        // refuses `nested` fields, so the template has none.
        assert!(settings_component()["template"]["settings"]["index.sort.field"].is_array());
        let mappings = mappings_component(Flavor::Elasticsearch);
        let props = &mappings["template"]["mappings"]["properties"];
        for uncharted in [&props["userAgent"], &props["resources"]["properties"]["ARN"]] {
            assert_eq!(uncharted["doc_values"], false, "nothing aggregates it: {uncharted}");
        }
        assert_ne!(props["eventName"]["doc_values"], false, "charted fields keep their doc values");
        // Plain objects, not nested (a query pairs fields across details: docs/guides/setup-and-dashboards.md).
        for flavor in [Flavor::Elasticsearch, Flavor::OpenSearch] {
            assert!(field_types(flavor).iter().all(|(_, t)| t != "nested"));
        }
        let es = field_types(Flavor::Elasticsearch);
        let ty = |f: &str| es.iter().find(|(p, _)| p == f).map(|(_, t)| t.as_str());
        assert_eq!(ty("timeWindow.windowStart"), Some("date"));
        assert_eq!(ty("summary.details.statistics.value"), Some("double"));
        assert_eq!(ty("summary.primaryDimension.statistics.name"), Some("keyword"));
        assert_eq!(ty("userIdentity.onBehalfOf.userId"), Some("keyword"));
    }

    /// Every place a long string can land is limited: a keyword over Lucene's term refuses the
    /// whole document (`flattened` has its own `ignore_above`; `flat_object` is handled by the
    /// transform).
    #[test]
    fn every_keyword_ignores_values_too_long_for_one_term() {
        fn check(path: &str, value: &Value, keywords: &mut usize) {
            let Some(map) = value.as_object() else { return };
            if map.get("type").and_then(Value::as_str) == Some("keyword") {
                let limit = map.get("ignore_above").and_then(Value::as_u64);
                assert!(limit.is_some_and(|l| l <= KEYWORD_IGNORE_ABOVE), "{path}: {value}");
                *keywords += 1;
            }
            for (k, v) in map {
                check(&format!("{path}.{k}"), v, keywords);
            }
        }
        for flavor in [Flavor::Elasticsearch, Flavor::OpenSearch] {
            let mut keywords = 0;
            check("", &mappings_component(flavor), &mut keywords);
            check("", &ecs_mappings_component(flavor), &mut keywords);
            assert!(keywords > 100, "{keywords}");
        }
        let es = mappings_component(Flavor::Elasticsearch);
        let props = &es["template"]["mappings"]["properties"];
        assert_eq!(props["eventName"]["ignore_above"], 8191);
        assert_eq!(props["userAgent"]["ignore_above"], 1024, "a lower limit of its own is kept");
        assert_eq!(props["requestParameters"]["ignore_above"], 4096);
    }

    #[test]
    fn placeholders_are_filled_in_strings_only() {
        let v = fill(json!({"a": "{{X}}-*", "b": ["{{X}}"], "c": 1}), &[("{{X}}", "p")]);
        assert_eq!(v, json!({"a": "p-*", "b": ["p"], "c": 1}));
    }
}
