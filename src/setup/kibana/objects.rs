//! The saved objects themselves: the NDJSON files in `kibana/` (written by
//! `scripts/gen/kibana.py`, embedded at build time) for the prefix `cloudtrail`, rewritten for
//! another prefix — the ids (`cloudtrail-es_<prefix>_<name>`), the two data views' patterns
//! (the events' `PREFIX-2*`, see [`index_pattern`]; the findings' `PREFIX-findings-*`, see
//! [`findings_pattern`]) and the dashboard title — so dashboards for several prefixes live side
//! by side; then given the time range and the set's fingerprint (`kibana.rs` says why).

use super::super::templates::{embedded, MANAGED_BY};
use super::TimeRange;
use crate::cluster::Flavor;
use crate::output::elasticsearch::IndexNames;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub(super) const KIBANA_8: &str = include_str!("../../../kibana/kibana-8.ndjson");
pub(super) const OPENSEARCH_DASHBOARDS: &str = include_str!("../../../kibana/opensearch-dashboards.ndjson");
/// The prefix the files in `kibana/` are written for.
const FILE_PREFIX: &str = "cloudtrail";
/// The findings' data view, by the name in its id (`cloudtrail-es_<prefix>_findings-data-view`).
const FINDINGS_VIEW: &str = "findings-data-view";

/// The data view's index pattern for `prefix`: its daily indices `PREFIX-YYYY.MM.DD`, whose
/// names go on with the year after `PREFIX-`, and not what else starts with `PREFIX-`: a longer
/// prefix's (`PREFIX-prod-YYYY.MM.DD`) or the findings (`PREFIX-findings-YYYY.MM.DD`).
///
/// One wildcard and no exclusion, because both apps list a data view's fields with
/// `GET PATTERN/_field_caps?fields=*&ignore_unavailable=true&allow_no_indices=false`, and with
/// `allow_no_indices=false` every wildcard must match some index, an exclusion's too: the earlier
/// `PREFIX-*,-PREFIX-*-*` answered 404 on Elasticsearch 8 and 9 and OpenSearch 2 and 3 whenever no
/// longer-prefix index existed (the usual case), and the dashboard did not open. Events dated
/// before the year 2000 (CloudTrail began in 2013) are not in it.
pub fn index_pattern(prefix: &str) -> String {
    format!("{prefix}-2*")
}

/// The findings' data view pattern for `prefix`: their daily indices `PREFIX-findings-YYYY.MM.DD`
/// (`detect/finding.rs`), one wildcard as for the events. Until a run with `--rules` has written
/// a finding it matches no index, and the apps' field-list call answers 404 for it: the two
/// findings panels then say so, the others are not affected.
pub fn findings_pattern(prefix: &str) -> String {
    format!("{}-*", IndexNames::new(prefix).findings())
}

/// The saved objects for this app and prefix, the dashboard showing `range` and carrying the
/// set's fingerprint.
pub fn saved_objects(flavor: Flavor, prefix: &str, range: &TimeRange) -> Vec<Value> {
    let text = match flavor {
        Flavor::Elasticsearch => KIBANA_8,
        Flavor::OpenSearch => OPENSEARCH_DASHBOARDS,
    };
    let mut objects: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| for_prefix(embedded("kibana/*.ndjson", l), prefix))
        .collect();
    for o in objects.iter_mut().filter(|o| o["type"] == "dashboard") {
        o["attributes"]["timeFrom"] = json!(range.from);
        o["attributes"]["timeTo"] = json!(range.to);
    }
    let mut hash = Sha256::new();
    for o in &objects {
        hash.update(o.to_string().as_bytes());
    }
    let fingerprint = fingerprint(&hash.finalize()[..6]);
    for o in objects.iter_mut().filter(|o| o["type"] == "dashboard") {
        let description = o["attributes"]["description"].as_str().unwrap_or_default();
        o["attributes"]["description"] = json!(format!("{description} {fingerprint}"));
    }
    objects
}

/// `[cloudtrail-es VERSION #HASH]`.
fn fingerprint(hash: &[u8]) -> String {
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("[{MANAGED_BY} {} #{hex}]", env!("CARGO_PKG_VERSION"))
}

/// Rewrites one object made for `cloudtrail` for `prefix`.
fn for_prefix(mut object: Value, prefix: &str) -> Value {
    if prefix == FILE_PREFIX {
        return object;
    }
    let from = format!("{MANAGED_BY}_{FILE_PREFIX}_");
    let to = format!("{MANAGED_BY}_{prefix}_");
    let rename = |v: &mut Value| {
        if let Some(id) = v.as_str().and_then(|id| id.strip_prefix(&from)) {
            *v = json!(format!("{to}{id}"));
        }
    };
    rename(&mut object["id"]);
    if let Some(refs) = object["references"].as_array_mut() {
        refs.iter_mut().for_each(|r| rename(&mut r["id"]));
    }
    let kind = object["type"].as_str().unwrap_or_default().to_string();
    let findings = object["id"].as_str().is_some_and(|id| id.ends_with(FINDINGS_VIEW));
    let attributes = &mut object["attributes"];
    match kind.as_str() {
        "index-pattern" if findings => {
            attributes["title"] = json!(findings_pattern(prefix));
            if attributes.get("name").is_some() {
                attributes["name"] = json!(format!("CloudTrail findings ({prefix}-findings-YYYY.MM.DD)"));
            }
        }
        "index-pattern" => {
            attributes["title"] = json!(index_pattern(prefix));
            if attributes.get("name").is_some() {
                attributes["name"] = json!(format!("CloudTrail ({prefix}-YYYY.MM.DD)"));
            }
        }
        "dashboard" => {
            let title = attributes["title"].as_str().unwrap_or_default();
            attributes["title"] = json!(format!("{title} [{prefix}]"));
        }
        _ => {}
    }
    object
}

/// The objects as an NDJSON file.
pub fn ndjson(objects: &[Value]) -> String {
    objects.iter().map(|o| format!("{o}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn objects(flavor: Flavor, prefix: &str) -> Vec<Value> {
        saved_objects(flavor, prefix, &TimeRange::default())
    }

    #[test]
    fn both_files_parse_and_share_ids() {
        let ids = |flavor| objects(flavor, "cloudtrail").iter().map(|o| o["id"].clone()).collect::<Vec<_>>();
        assert_eq!(ids(Flavor::Elasticsearch), ids(Flavor::OpenSearch));
        assert!(ids(Flavor::Elasticsearch).len() >= 11);
    }

    #[test]
    fn another_prefix_gets_its_own_ids_pattern_and_title() {
        let objects = objects(Flavor::Elasticsearch, "ct-prod");
        let text = ndjson(&objects);
        assert!(!text.contains("cloudtrail-es_cloudtrail_"), "every id is renamed");
        let views: Vec<&Value> = objects.iter().filter(|o| o["type"] == "index-pattern").collect();
        assert_eq!(views.len(), 2, "the events' and the findings' data views");
        assert_eq!(views[0]["id"], "cloudtrail-es_ct-prod_data-view");
        assert_eq!(views[0]["attributes"]["title"], "ct-prod-2*");
        assert_eq!(views[0]["attributes"]["name"], "CloudTrail (ct-prod-YYYY.MM.DD)");
        assert_eq!(views[1]["id"], "cloudtrail-es_ct-prod_findings-data-view");
        assert_eq!(views[1]["attributes"]["title"], "ct-prod-findings-*");
        assert_eq!(views[1]["attributes"]["name"], "CloudTrail findings (ct-prod-findings-YYYY.MM.DD)");
        let dash = objects.iter().find(|o| o["type"] == "dashboard").unwrap();
        assert_eq!(dash["attributes"]["title"], "CloudTrail — console activity [ct-prod]");
        assert!(dash["references"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["id"].as_str().unwrap().contains("_ct-prod_")));
    }

    /// Whether an index expression of one or more `*` wildcards matches `name`, as both engines'
    /// simple matching does.
    fn matches(pattern: &str, name: &str) -> bool {
        match pattern.split_once('*') {
            None => pattern == name,
            Some((head, rest)) => {
                name.starts_with(head)
                    && (0..=name.len() - head.len()).any(|i| matches(rest, &name[head.len() + i..]))
            }
        }
    }

    #[test]
    fn the_pattern_is_one_wildcard_over_the_daily_indices_only() {
        use crate::output::elasticsearch::IndexNames;
        for prefix in ["cloudtrail", "ct-prod", &IndexNames::ecs("default").prefix] {
            let pattern = index_pattern(prefix);
            // `allow_no_indices=false` needs every wildcard of the field-list call to match: one,
            // no exclusion.
            assert_eq!(pattern.matches('*').count(), 1, "{pattern}");
            assert!(!pattern.contains(','), "{pattern}: one expression, no exclusion");
            for day in ["2013.11.01", "2024.02.29", "2999.12.31"] {
                assert!(matches(&pattern, &format!("{prefix}-{day}")), "{pattern} misses {day}");
            }
            for other in ["other-2024.01.01", "findings-2024.01.01", "prod-2020.01.01", "retention"] {
                assert!(!matches(&pattern, &format!("{prefix}-{other}")), "{pattern} takes {other}");
            }
        }
        assert!(matches("a-*,", "a-b,") && !matches("a-2*", "a-x2"), "the matcher itself");
    }

    #[test]
    fn the_findings_pattern_takes_the_findings_only() {
        use crate::output::elasticsearch::IndexNames;
        for prefix in ["cloudtrail", "ct-prod", &IndexNames::ecs("default").prefix] {
            let pattern = findings_pattern(prefix);
            assert_eq!(pattern.matches('*').count(), 1, "{pattern}");
            assert!(matches(&pattern, &format!("{prefix}-findings-2024.01.01")), "{pattern}");
            for other in ["2024.01.01", "other-2024.01.01", "retention"] {
                assert!(!matches(&pattern, &format!("{prefix}-{other}")), "{pattern} takes {other}");
            }
        }
    }

    #[test]
    fn the_fingerprint_follows_the_content() {
        let week = TimeRange::default();
        let description = |flavor, prefix, range: &TimeRange| {
            let objects = saved_objects(flavor, prefix, range);
            let dash = objects.into_iter().find(|o| o["type"] == "dashboard").unwrap();
            dash["attributes"]["description"].as_str().unwrap().to_string()
        };
        let a = description(Flavor::Elasticsearch, "cloudtrail", &week);
        assert!(a.contains("[cloudtrail-es "), "{a}");
        assert_eq!(a, description(Flavor::Elasticsearch, "cloudtrail", &week));
        assert_ne!(a, description(Flavor::Elasticsearch, "other", &week));
        assert_ne!(a, description(Flavor::OpenSearch, "cloudtrail", &week));
        let old =
            TimeRange { from: "2016-04-13T00:00:00.000Z".into(), to: "2026-03-12T00:00:00.000Z".into() };
        assert_ne!(a, description(Flavor::Elasticsearch, "cloudtrail", &old));
    }

    #[test]
    fn the_dashboard_opens_on_the_range_given() {
        let range = TimeRange { from: "2016-04-13T00:00:00.000Z".into(), to: "now".into() };
        for flavor in [Flavor::Elasticsearch, Flavor::OpenSearch] {
            let objects = saved_objects(flavor, "cloudtrail", &range);
            let dash = objects.iter().find(|o| o["type"] == "dashboard").unwrap();
            assert_eq!(dash["attributes"]["timeRestore"], true);
            assert_eq!(dash["attributes"]["timeFrom"], "2016-04-13T00:00:00.000Z");
            assert_eq!(dash["attributes"]["timeTo"], "now");
        }
    }
}
