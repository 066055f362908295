//! The data view opens: before it shows anything, Kibana's data views and OpenSearch Dashboards
//! list its fields with exactly this call (their `callFieldCapsApi`; `allow_no_indices` is false
//! by default in Kibana and hard-coded in OpenSearch Dashboards, OpenSearch-Dashboards#9443):
//!
//! `GET PATTERN/_field_caps?fields=*&ignore_unavailable=true&allow_no_indices=false`
//!
//! A 404 there is "No matching indices found" and every panel fails to find its field. So on each
//! of the four engines, with the pattern `setup --kibana` stores, after a plain `backfill`: the
//! call answers 200 with only our daily indices and our fields; still so once a longer prefix's
//! daily index (`P-other-…`) and the findings index (`P-findings-…`, from a re-run with
//! `--rules builtin`) exist, whose fields and documents stay out (the field list, a `_count` and a
//! `_search` through the same pattern). The earlier pattern `P-*,-P-*-*` answered 404 in the
//! first case on all four.
//!
//! The findings' data view (`P-findings-*`) is checked the same way: 404 before any finding exists
//! (the findings panels say "no matching indices" until a run with `--rules` writes one), then 200
//! with the findings index only and the fields its panels chart (`rule.title`, `rule.level`).

use crate::util::fake_kibana::fake_kibana;
use crate::util::{on_each_cluster, prefix, run_in, Cluster};
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// The field-list call of both apps, as they make it; its status and answer.
fn field_caps(cluster: &Cluster, pattern: &str) -> (u16, Value) {
    let url = format!(
        "{}/{pattern}/_field_caps?fields=*&ignore_unavailable=true&allow_no_indices=false",
        cluster.url
    );
    match ureq::get(&url).call() {
        Ok(r) => (r.status(), r.into_json().expect("JSON")),
        Err(ureq::Error::Status(code, r)) => (code, r.into_json().unwrap_or(Value::Null)),
        Err(e) => panic!("GET {url}: {e}"),
    }
}

/// Three events on two days: the usual case, daily indices only. The third stops a trail, which
/// SigmaHQ's "AWS CloudTrail Important Change" (in `--rules builtin`) finds.
fn write_log(dir: &std::path::Path) -> std::path::PathBuf {
    let event = |id: &str, time: &str, source: &str, name: &str| {
        json!({"eventVersion": "1.11", "eventTime": time, "eventSource": source,
               "eventName": name, "awsRegion": "eu-west-1", "sourceIPAddress": "192.0.2.1",
               "userAgent": "Mozilla/5.0", "eventID": id, "eventType": "AwsApiCall"})
    };
    let s3 = "s3.amazonaws.com";
    let records = json!({"Records": [event("fc-1", "2024-01-01T10:00:00Z", s3, "GetObject"),
                                     event("fc-2", "2024-01-01T11:00:00Z", s3, "GetObject"),
                                     event("fc-3", "2024-01-02T10:00:00Z", "cloudtrail.amazonaws.com", "StopLogging")]});
    let path = dir.join("trail.json");
    std::fs::write(&path, records.to_string()).unwrap();
    path
}

fn the_data_view_resolves(cluster: &Cluster) {
    let p = prefix("fieldcaps");
    let dir = tempfile::tempdir().unwrap();
    let log = write_log(dir.path());
    let backfill = ["backfill", log.to_str().unwrap(), "--es", &cluster.url, "--index-prefix", &p];
    run_in(dir.path(), &backfill, &[]).expect_code(0);
    let kibana = fake_kibana();
    let setup = ["setup", "--es", &cluster.url, "--index-prefix", &p, "--kibana", &kibana.url];
    run_in(dir.path(), &setup, &[]).expect_code(0);
    let objects = kibana.objects();
    let view = |id: &str| {
        let id = format!("cloudtrail-es_{p}_{id}");
        let view = objects.iter().find(|o| o["type"] == "index-pattern" && o["id"] == id.as_str());
        view.unwrap_or_else(|| panic!("no data view {id}"))["attributes"]["title"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let pattern = view("data-view");
    let findings_pattern = view("findings-data-view");
    let ours: BTreeSet<String> = [format!("{p}-2024.01.01"), format!("{p}-2024.01.02")].into();

    let check = |case: &str| {
        let (status, answer) = field_caps(cluster, &pattern);
        assert_eq!(status, 200, "{case}: the field list of {pattern} answers {status}: {answer}");
        let indices: BTreeSet<String> =
            answer["indices"].as_array().unwrap().iter().map(|i| i.as_str().unwrap().to_string()).collect();
        assert_eq!(indices, ours, "{case}: {pattern} lists other indices");
        let fields = answer["fields"].as_object().unwrap();
        for field in ["@timestamp", "eventName", "sourceIPAddress.ip"] {
            assert!(fields.contains_key(field), "{case}: {field} missing from the field list");
        }
        for foreign in ["otherOnly", "rule.title"] {
            assert!(!fields.contains_key(foreign), "{case}: {foreign} is another index's field");
        }
        cluster.post(&format!("/{p}-*/_refresh"), "");
        let count = cluster.get(&format!("/{pattern}/_count"))["count"].as_u64().unwrap();
        assert_eq!(count, 3, "{case}: documents through {pattern}");
        let body = json!({"size": 100, "query": {"match_all": {}}});
        let hits = cluster.post(&format!("/{pattern}/_search"), &body.to_string());
        let found: BTreeSet<&str> =
            hits["hits"]["hits"].as_array().unwrap().iter().map(|h| h["_index"].as_str().unwrap()).collect();
        assert!(found.iter().all(|i| ours.contains(*i)), "{case}: {found:?}");
    };
    check("daily indices only");

    // A longer prefix's daily index, with a field and a document of its own (explicit mappings:
    // our template, which also matches it, maps nothing new).
    let other = json!({"mappings": {"properties": {"otherOnly": {"type": "keyword"}}}});
    cluster.put(&format!("/{p}-other-2024.01.01"), &other.to_string());
    let doc = json!({"@timestamp": "2024-01-01T10:00:00Z", "otherOnly": "x", "eventName": "GetObject"});
    cluster.put(&format!("/{p}-other-2024.01.01/_doc/o1?refresh=true"), &doc.to_string());
    check("beside a longer prefix's daily index");
    // No finding yet: the findings' data view matches no index.
    let (status, answer) = field_caps(cluster, &findings_pattern);
    assert_eq!(status, 404, "{findings_pattern} before any finding: {answer}");

    // The same file again with the rules: the events are already there, one finding is new.
    let with_rules = [&backfill[..], &["--rules", "builtin"]].concat();
    let run = run_in(dir.path(), &with_rules, &[]);
    run.expect_code(0);
    assert!(run.stderr.contains("1 new, 0 already present"), "{}", run.stderr);
    check("beside a longer prefix's and the findings index");

    let (status, answer) = field_caps(cluster, &findings_pattern);
    assert_eq!(status, 200, "the field list of {findings_pattern} answers {status}: {answer}");
    let indices: Vec<&str> =
        answer["indices"].as_array().unwrap().iter().map(|i| i.as_str().unwrap()).collect();
    assert_eq!(indices, [format!("{p}-findings-2024.01.02")], "{findings_pattern} lists other indices");
    let fields = answer["fields"].as_object().unwrap();
    for field in ["@timestamp", "rule.title", "rule.level", "rule.author", "event.index"] {
        let caps = fields.get(field).unwrap_or_else(|| panic!("{field} missing from the findings' fields"));
        let aggregatable = caps.as_object().unwrap().values().all(|c| c["aggregatable"] == true);
        assert!(aggregatable, "{field} is not aggregatable: {caps}");
    }
    for foreign in ["otherOnly", "sourceIPAddress.ip", "requestParameters"] {
        assert!(!fields.contains_key(foreign), "{foreign} is another index's field");
    }
    let body = json!({"size": 0, "aggs": {"level": {"terms": {"field": "rule.level"}}}});
    let answer = cluster.post(&format!("/{findings_pattern}/_search"), &body.to_string());
    assert_eq!(answer["aggregations"]["level"]["buckets"], json!([{"key": "medium", "doc_count": 1}]));
    cluster.clean(&p);
}

#[test]
fn the_data_views_field_list_answers_on_every_engine() {
    on_each_cluster(the_data_view_resolves);
}
