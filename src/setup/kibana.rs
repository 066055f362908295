//! The data views (events and findings) and the "CloudTrail — console activity" dashboard,
//! imported into Kibana (for Elasticsearch) or OpenSearch Dashboards (for OpenSearch) through the
//! saved-objects API.
//!
//! The objects are the NDJSON files in `kibana/`, made for the prefix `cloudtrail` and rewritten
//! for another (`objects.rs`: ids, the events' pattern `PREFIX-2*` — see [`index_pattern`] — and
//! the findings' `PREFIX-findings-*`, the dashboard title). The dashboard's time range is set
//! from the data (`time_range.rs`).
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

mod objects;
mod time_range;

use super::reconcile::{Action, SetupError, Step};
use super::Options;
use crate::cluster::{EsClient, Flavor, Reply};
use bytes::Bytes;
use elasticsearch::http::Method;
pub use objects::{findings_pattern, index_pattern, ndjson, saved_objects};
use serde_json::{json, Value};
pub use time_range::TimeRange;
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
        assert!(!objects::KIBANA_8.contains(BOUNDARY) && !objects::OPENSEARCH_DASHBOARDS.contains(BOUNDARY));
        assert!(MULTIPART.ends_with(&format!("boundary={BOUNDARY}")));
    }

    #[test]
    fn import_failures_name_the_objects() {
        let answer =
            json!({"success": false, "errors": [{"type": "lens", "id": "x", "error": {"type": "conflict"}}]});
        assert_eq!(import_errors(&answer), r#"lens x: {"type":"conflict"}"#);
    }
}
