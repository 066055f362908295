//! The data view opens: before it shows anything, Kibana's data views and OpenSearch Dashboards
//! list its fields with exactly this call (their `callFieldCapsApi`; `allow_no_indices` is false
//! by default in Kibana and hard-coded in OpenSearch Dashboards, OpenSearch-Dashboards#9443):
//!
//! `GET PATTERN/_field_caps?fields=*&ignore_unavailable=true&allow_no_indices=false`
//!
//! A 404 there is "No matching indices found" and every panel fails to find its field. So on each
//! of the four engines, with the pattern `setup --kibana` stores, after a plain `backfill`: the
//! call answers 200 with only our daily indices and our fields; still so once a longer prefix's
//! daily index (`P-other-…`) and a findings index (`P-findings-…`) exist, whose fields and
//! documents stay out (the field list, a `_count` and a `_search` through the same pattern). The
//! earlier pattern `P-*,-P-*-*` answered 404 in the first case on all four.

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

/// Three events on two days: the usual case, daily indices only.
fn write_log(dir: &std::path::Path) -> std::path::PathBuf {
    let event = |id: &str, time: &str| {
        json!({"eventVersion": "1.11", "eventTime": time, "eventSource": "s3.amazonaws.com",
               "eventName": "GetObject", "awsRegion": "eu-west-1", "sourceIPAddress": "192.0.2.1",
               "userAgent": "Mozilla/5.0", "eventID": id, "eventType": "AwsApiCall"})
    };
    let records = json!({"Records": [event("fc-1", "2024-01-01T10:00:00Z"), event("fc-2", "2024-01-01T11:00:00Z"),
                                     event("fc-3", "2024-01-02T10:00:00Z")]});
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
    let view = objects.iter().find(|o| o["type"] == "index-pattern").expect("a data view");
    let pattern = view["attributes"]["title"].as_str().unwrap().to_string();
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
        for foreign in ["otherOnly", "findingRule"] {
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

    // A longer prefix's daily index and a findings index, each with a field and a document of
    // its own (explicit mappings: our template, which also matches them, maps nothing new).
    let other = json!({"mappings": {"properties": {"otherOnly": {"type": "keyword"}}}});
    cluster.put(&format!("/{p}-other-2024.01.01"), &other.to_string());
    let doc = json!({"@timestamp": "2024-01-01T10:00:00Z", "otherOnly": "x", "eventName": "GetObject"});
    cluster.put(&format!("/{p}-other-2024.01.01/_doc/o1?refresh=true"), &doc.to_string());
    check("beside a longer prefix's daily index");
    let findings = json!({"mappings": {"properties": {"findingRule": {"type": "keyword"}}}});
    cluster.put(&format!("/{p}-findings-2024.01.01"), &findings.to_string());
    let doc = json!({"@timestamp": "2024-01-01T10:00:00Z", "findingRule": "r", "eventName": "GetObject"});
    cluster.put(&format!("/{p}-findings-2024.01.01/_doc/f1?refresh=true"), &doc.to_string());
    check("beside a longer prefix's and a findings index");
    cluster.clean(&p);
}

#[test]
fn the_data_views_field_list_answers_on_every_engine() {
    on_each_cluster(the_data_view_resolves);
}
