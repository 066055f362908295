//! The data view and the "CloudTrail — console activity" dashboard, imported into Kibana (for
//! Elasticsearch) or OpenSearch Dashboards (for OpenSearch) through the saved-objects API.
//!
//! The objects are the NDJSON files in `kibana/` (written by `scripts/gen/kibana.py`, embedded
//! at build time), made for the prefix `cloudtrail`. For another prefix the ids
//! (`cloudtrail-es_<prefix>_<name>`), the data view's pattern (`PREFIX-2*`: the daily indices,
//! not another prefix's nor the findings', see [`index_pattern`]) and the dashboard title are
//! rewritten, so dashboards for several prefixes live side by side. The dashboard's time range is set from the data
//! (`time_range.rs`).
//!
//! Idempotency: Kibana migrates objects on import, so what it stores is not what we sent and cannot
//! be compared field by field. Instead the dashboard's description ends with a fingerprint of the
//! whole set (`[cloudtrail-es VERSION #HASH]`): if every object exists and the dashboard carries
//! our fingerprint, nothing is imported ("unchanged"); otherwise the set is imported with
//! `overwrite=true` (deterministic ids, so a re-import replaces rather than duplicates). What is
//! there is read with `POST _export` (the saved-objects API's current read; `_bulk_get` is
//! deprecated since Kibana 8.7): 200 with every object, or 400 listing the missing ones.
//!
//! Requests carry both `kbn-xsrf` (Kibana) and `osd-xsrf` (OpenSearch Dashboards): each requires
//! its own on writes and ignores the other.

mod time_range;

use super::reconcile::{Action, SetupError, Step};
use super::templates::{embedded, MANAGED_BY};
use super::Options;
use crate::cluster::{EsClient, Flavor, Reply};
use bytes::Bytes;
use elasticsearch::http::Method;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
pub use time_range::TimeRange;

const KIBANA_8: &str = include_str!("../../kibana/kibana-8.ndjson");
const OPENSEARCH_DASHBOARDS: &str = include_str!("../../kibana/opensearch-dashboards.ndjson");
/// The prefix the files in `kibana/` are written for.
const FILE_PREFIX: &str = "cloudtrail";
const XSRF: [(&str, &str); 2] = [("kbn-xsrf", "true"), ("osd-xsrf", "true")];
const BOUNDARY: &str = "cloudtrail-es-saved-objects-7c1d9e4b";
const MULTIPART: &str = "multipart/form-data; boundary=cloudtrail-es-saved-objects-7c1d9e4b";

/// Which app the saved objects are for: Kibana with Elasticsearch, OpenSearch Dashboards with
/// OpenSearch.
pub fn app_name(flavor: Flavor) -> &'static str {
    match flavor {
        Flavor::Elasticsearch => "Kibana",
        Flavor::OpenSearch => "OpenSearch Dashboards",
    }
}

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
    let attributes = &mut object["attributes"];
    match kind.as_str() {
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

/// A `multipart/form-data` body with the NDJSON as the part `file`, as `_import` wants it.
fn multipart(ndjson: &str) -> Bytes {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"cloudtrail-es.ndjson\"\r\n\
         Content-Type: application/ndjson\r\n\r\n"
    );
    body.push_str(ndjson);
    body.push_str(&format!("\r\n--{BOUNDARY}--\r\n"));
    Bytes::from(body)
}

/// Imports the saved objects unless Kibana already has this exact set; the dashboard's time range
/// comes from the data in `cluster`.
pub async fn install(
    kibana: &EsClient,
    cluster: &EsClient,
    flavor: Flavor,
    options: &Options,
) -> Result<Step, SetupError> {
    let prefix = &options.names.prefix;
    let span = time_range::of_data(cluster, &index_pattern(prefix)).await?;
    let range = time_range::covering(span, chrono::Utc::now());
    let objects = saved_objects(flavor, prefix, &range);
    let what = format!(
        "{} saved objects ({} objects, time range {} to {}) at {}",
        app_name(flavor),
        objects.len(),
        range.from,
        range.to,
        kibana.url()
    );
    let action = current_state(kibana, &objects).await?;
    let step = Step { what, action, applied: !options.dry_run, note: None };
    if step.changes() && !options.dry_run {
        import(kibana, &objects).await?;
    }
    Ok(step)
}

/// Unchanged, Create (none of ours there) or Update, from `_export`.
async fn current_state(kibana: &EsClient, objects: &[Value]) -> Result<Action, SetupError> {
    let wanted: Vec<Value> = objects.iter().map(|o| json!({"type": o["type"], "id": o["id"]})).collect();
    let path = "/api/saved_objects/_export";
    let request = json!({"objects": wanted, "includeReferencesDeep": false, "excludeExportDetails": true});
    let body = Bytes::from(request.to_string());
    let reply = kibana.send_with_headers(Method::Post, path, &XSRF, Some((body, "application/json"))).await?;
    if reply.status == 400 {
        if let Some(missing) = missing_objects(&reply) {
            return Ok(if missing >= objects.len() { Action::Create } else { Action::Update });
        }
    }
    if reply.status != 200 {
        return Err(refused(kibana, path, &reply));
    }
    let text = String::from_utf8_lossy(&reply.body);
    let found: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|o| o.get("id").is_some())
        .collect();
    let ours = objects.iter().find(|o| o["type"] == "dashboard").map(|o| &o["attributes"]["description"]);
    let dashboard = found.iter().find(|o| o["type"] == "dashboard").map(|o| &o["attributes"]["description"]);
    Ok(if found.len() == objects.len() && dashboard.is_some() && dashboard == ours {
        Action::Unchanged
    } else {
        Action::Update
    })
}

/// How many objects a 400 answer to `_export` says are not found (`attributes.objects`, each with
/// error 404); `None` if the 400 is about something else.
fn missing_objects(reply: &Reply) -> Option<usize> {
    let answer: Value = serde_json::from_slice(&reply.body).ok()?;
    let errored = answer["attributes"]["objects"].as_array()?;
    errored.iter().all(|o| o["error"]["statusCode"] == 404).then_some(errored.len())
}

/// `POST _import?overwrite=true`; the answer is 200 even when objects fail, so `success` decides.
async fn import(kibana: &EsClient, objects: &[Value]) -> Result<(), SetupError> {
    let path = "/api/saved_objects/_import?overwrite=true";
    let body = multipart(&ndjson(objects));
    let reply = kibana.send_with_headers(Method::Post, path, &XSRF, Some((body, MULTIPART))).await?;
    let answer = checked(kibana, path, &reply)?;
    if answer["success"] == true {
        return Ok(());
    }
    Err(SetupError::Import { url: kibana.url().to_string(), detail: import_errors(&answer) })
}

/// What went wrong in an import answer, one object per clause.
fn import_errors(answer: &Value) -> String {
    let errors = answer["errors"].as_array().cloned().unwrap_or_default();
    if errors.is_empty() {
        return format!("unexpected answer {}", excerpt(&answer.to_string()));
    }
    errors
        .iter()
        .map(|e| {
            format!(
                "{} {}: {}",
                e["type"].as_str().unwrap_or("?"),
                e["id"].as_str().unwrap_or("?"),
                e["error"]
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The JSON answer to a request that must succeed.
fn checked(kibana: &EsClient, path: &str, reply: &Reply) -> Result<Value, SetupError> {
    if reply.status == 200 {
        if let Ok(v) = serde_json::from_slice(&reply.body) {
            return Ok(v);
        }
    }
    Err(refused(kibana, path, reply))
}

/// The error for a request Kibana did not answer as it should.
fn refused(kibana: &EsClient, path: &str, reply: &Reply) -> SetupError {
    let hint = match reply.status {
        401 | 403 => " (Kibana credentials: --kibana-user and KIBANA_PASSWORD, else the cluster's)",
        _ => "",
    };
    SetupError::Kibana {
        url: kibana.url().to_string(),
        what: format!("POST {path}"),
        status: reply.status,
        body: format!("{}{hint}", reply.excerpt()),
    }
}

fn excerpt(text: &str) -> String {
    text.chars().take(300).collect()
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
        assert!(ids(Flavor::Elasticsearch).len() >= 8);
    }

    #[test]
    fn another_prefix_gets_its_own_ids_pattern_and_title() {
        let objects = objects(Flavor::Elasticsearch, "ct-prod");
        let text = ndjson(&objects);
        assert!(!text.contains("cloudtrail-es_cloudtrail_"), "every id is renamed");
        let view = objects.iter().find(|o| o["type"] == "index-pattern").unwrap();
        assert_eq!(view["id"], "cloudtrail-es_ct-prod_data-view");
        assert_eq!(view["attributes"]["title"], "ct-prod-2*");
        assert_eq!(view["attributes"]["name"], "CloudTrail (ct-prod-YYYY.MM.DD)");
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
        use crate::output::elasticsearch::IndexNaming;
        for prefix in ["cloudtrail", "ct-prod", &IndexNaming::ecs("default").prefix] {
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

    #[test]
    fn export_refusals_count_missing_objects_only() {
        let reply = |status, body: Value| Reply { status, body: Bytes::from(body.to_string()) };
        let missing = json!({"statusCode": 400, "error": "Bad Request", "message": "Error fetching objects to export",
            "attributes": {"objects": [{"id": "a", "type": "lens", "error": {"statusCode": 404}},
                                       {"id": "b", "type": "dashboard", "error": {"statusCode": 404}}]}});
        assert_eq!(missing_objects(&reply(400, missing)), Some(2));
        let forbidden =
            json!({"attributes": {"objects": [{"id": "a", "type": "lens", "error": {"statusCode": 403}}]}});
        assert_eq!(missing_objects(&reply(400, forbidden)), None);
        let invalid = json!({"statusCode": 400, "message": "Trying to export non-exportable type(s): lens"});
        assert_eq!(missing_objects(&reply(400, invalid)), None);
    }

    #[test]
    fn the_import_body_is_one_file_part() {
        let body = multipart("{\"a\":1}\n");
        let text = std::str::from_utf8(&body).unwrap();
        assert!(text.starts_with(&format!("--{BOUNDARY}\r\n")));
        assert!(text.contains("name=\"file\"; filename=\"cloudtrail-es.ndjson\""));
        assert!(text.ends_with(&format!("{{\"a\":1}}\n\r\n--{BOUNDARY}--\r\n")));
        assert!(!KIBANA_8.contains(BOUNDARY) && !OPENSEARCH_DASHBOARDS.contains(BOUNDARY));
        assert!(MULTIPART.ends_with(&format!("boundary={BOUNDARY}")));
    }

    #[test]
    fn import_failures_name_the_objects() {
        let answer =
            json!({"success": false, "errors": [{"type": "lens", "id": "x", "error": {"type": "conflict"}}]});
        assert_eq!(import_errors(&answer), r#"lens x: {"type":"conflict"}"#);
    }
}
