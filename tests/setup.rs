//! `setup` against the real Elasticsearch 8 and 9 and OpenSearch 3 and 2 (each test runs on all
//! four): it installs the templates and says so, a second run changes nothing, a dry run writes
//! nothing, the missing lifecycle API is reported and skipped; then the real corpus plus generated
//! data, and a file of hostile shapes, are indexed with zero rejections into a mapping whose field
//! count does not grow.

use crate::util::{corpus, event_counts, events, generate, on_each_cluster, prefix, run_in, Cluster, Kind};
use serde_json::{json, Value};
use std::path::Path;

/// Mapped fields (multi-fields included) of an index made from our template: every one is
/// declared, and `dynamic: false` keeps it that way whatever the events hold. OpenSearch has 14
/// more: the keyword copies under `unmapped` (`transform/keyword_copies.rs`) and their objects.
fn template_fields(cluster: &Cluster) -> usize {
    match cluster.kind {
        Kind::Elasticsearch => 101,
        Kind::OpenSearch => 115,
    }
}

fn setup(cluster: &Cluster, p: &str, extra: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["setup", "--es", &cluster.url, "--index-prefix", p];
    args.extend_from_slice(extra);
    let run = run_in(dir.path(), &args, &[]);
    run.expect_code(0);
    run.stdout
}

fn setup_twice_is_a_no_op(cluster: &Cluster) {
    // The integration-test distributions have neither ILM nor the ISM plugin.
    let lifecycle_line = match cluster.kind {
        Kind::Elasticsearch => "lifecycle: ILM not available on this cluster, skipped",
        Kind::OpenSearch => "lifecycle: ISM not available on this cluster, skipped",
    };
    let p = prefix("setup");
    let dry = setup(cluster, &p, &["--retention-days", "30", "--dry-run"]);
    assert!(dry.contains(&format!("index template {p} ({p}-*): would create")), "{dry}");
    assert!(dry.contains("dry run: 4 item(s) would be created"), "{dry}");
    assert_eq!(cluster.status(&format!("/_index_template/{p}")), 404, "a dry run writes nothing");

    let first = setup(cluster, &p, &["--retention-days", "30"]);
    assert!(first.contains(lifecycle_line), "{first}");
    for line in [
        format!("component template {p}@settings: created"),
        format!("component template {p}@mappings: created"),
        format!("index template {p} ({p}-*): created"),
        format!("index template {p}-findings ({p}-findings-*, Sigma findings): created"),
        "done: 4 item(s) created or updated".to_string(),
    ] {
        assert!(first.contains(&line), "missing {line:?} in\n{first}");
    }
    let template = cluster.get(&format!("/_index_template/{p}"));
    let template = &template["index_templates"][0]["index_template"];
    assert_eq!(template["_meta"]["managed_by"], "cloudtrail-es");
    assert_eq!(template["composed_of"], json!([format!("{p}@settings"), format!("{p}@mappings")]));

    let second = setup(cluster, &p, &["--retention-days", "30"]);
    assert_eq!(second.matches(": unchanged").count(), 4, "{second}");
    assert!(second.contains("nothing to change"), "{second}");
    let dry = setup(cluster, &p, &["--retention-days", "30", "--dry-run"]);
    assert!(dry.contains("nothing to change"), "{dry}");

    // Someone edits a component by hand: the next run puts it back, and says so.
    cluster.put(
        &format!("/_component_template/{p}@settings"),
        r#"{"template":{"settings":{"index.codec":"default"}}}"#,
    );
    let third = setup(cluster, &p, &[]);
    assert!(third.contains(&format!("component template {p}@settings: updated")), "{third}");
    assert!(third.contains("lifecycle: no --retention-days given"), "{third}");
    cluster.clean(&p);
}

#[test]
fn setup_twice_is_a_no_op_on_every_cluster() {
    on_each_cluster(setup_twice_is_a_no_op);
}

/// Setup, then a backfill of the real corpus and generated events: nothing rejected, the field
/// count is the template's, free-form sub-keys and IP ranges are searchable.
fn corpus_lands_without_rejections(cluster: &Cluster) {
    let p = prefix("corpus-setup");
    setup(cluster, &p, &[]);
    let data = tempfile::tempdir().unwrap();
    generate(data.path(), &["--events", "3000", "--seed", "11", "--no-digests"]);
    let dir = tempfile::tempdir().unwrap();
    let real = corpus();
    let args = ["backfill", real.to_str().unwrap(), data.path().to_str().unwrap()];
    let run = run_in(
        dir.path(),
        &[&args[..], &["--es", &cluster.url, "--index-prefix", &p, "--no-setup"]].concat(),
        &[],
    );
    run.expect_code(0);
    let (indexed, present, dead) = event_counts(&run);
    assert_eq!((indexed + present, dead), (14_799, 0), "{}", run.stderr);
    assert_eq!(cluster.count(&p), 14_799);
    assert_eq!(cluster.field_count(&p), template_fields(cluster));

    let bucket = "stratus-red-team-ctlr-bucket-zqfsvooxqj";
    let expected = events(&real).iter().filter(|e| e["requestParameters"]["bucketName"] == bucket).count();
    assert!(expected > 0);
    let found = cluster.search(
        &p,
        json!({"size": 0, "track_total_hits": true,
        "query": {"term": {"requestParameters.bucketName": bucket}}}),
    );
    assert_eq!(found["hits"]["total"]["value"], expected as u64, "{found}");
    let private = cluster.search(
        &p,
        json!({"size": 0, "track_total_hits": true,
        "query": {"term": {"sourceIPAddress.ip": "10.0.0.0/8"}}}),
    );
    assert!(private["hits"]["total"]["value"].as_u64().unwrap() > 0, "{private}");
    let untimed = cluster.search(
        &p,
        json!({"size": 0, "track_total_hits": true,
        "query": {"bool": {"must_not": {"exists": {"field": "@timestamp"}}}}}),
    );
    assert_eq!(untimed["hits"]["total"]["value"], 0, "every event has a searchable @timestamp");
    cluster.clean(&p);
}

#[test]
fn corpus_lands_without_rejections_on_every_cluster() {
    on_each_cluster(corpus_lands_without_rejections);
}

/// Events built to break a mapping: each is an object CloudTrail could plausibly write.
fn hostile_events() -> Vec<Value> {
    let event = |id: &str, extra: Value| {
        let mut e = json!({"eventID": id, "eventTime": "2024-06-01T12:00:00Z", "eventSource": "x.amazonaws.com",
                           "eventName": "Hostile", "awsRegion": "us-east-1"});
        e.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        e
    };
    let mut deep = json!("bottom");
    for i in 0..40 {
        deep = json!({ format!("level{i}"): deep });
    }
    let many: serde_json::Map<String, Value> = (0..5000).map(|i| (format!("key{i}"), json!(i))).collect();
    vec![
        event("type-string", json!({"requestParameters": {"filter": "a string", "maxResults": "50"}})),
        event("type-object", json!({"requestParameters": {"filter": {"name": "x"}, "maxResults": 50}})),
        event(
            "type-array",
            json!({"requestParameters": {"filter": [1, "two", {"three": 3}], "maxResults": true}}),
        ),
        event("dotted-keys", json!({"responseElements": {"a.b": 1, "a": {"b": "x"}, "": "empty key"}})),
        event("deep", json!({"requestParameters": deep})),
        event("many-keys", json!({"requestParameters": many})),
        event("nulls", json!({"requestParameters": null, "responseElements": {"x": null, "y": [null]}})),
        event(
            "not-an-ip",
            json!({"sourceIPAddress": "cloudtrail.amazonaws.com", "userAgent": "AWS Internal"}),
        ),
        event("an-ip", json!({"sourceIPAddress": "2001:db8::1"})),
        event(
            "date-like",
            json!({"apiVersion": "2012-10-17", "requestParameters": {"startTime": "2024-01-01"}}),
        ),
        event("dates-elsewhere", json!({"requestParameters": {"startTime": 1_700_000_000}})),
        event("unknown-top-object", json!({"brandNewField": {"nested": {"deeper": 1}}})),
        event("unknown-top-string", json!({"brandNewField": "now a string", "otherNewField": 1.5})),
        event("unknown-identity", json!({"userIdentity": {"type": "IAMUser", "newThing": {"a": [1, 2]}}})),
        event("bad-boolean", json!({"readOnly": "maybe", "managementEvent": "true"})),
        event("long-error", json!({"errorCode": "AccessDenied", "errorMessage": "e".repeat(5000)})),
        event("long-value", json!({"requestParameters": {"queryString": "SELECT 1 -- ".repeat(2000)}})),
        event("huge-value", json!({"requestParameters": {"queryString": "q".repeat(40_000)}})),
        event(
            "huge-keywords",
            json!({"errorCode": "c".repeat(40_000), "userIdentity": {"arn": "é".repeat(20_000)}}),
        ),
        // Times OpenSearch's first format (`strict_date_time_no_millis`) does not take: the next ones do.
        event("time-millis", json!({"eventTime": "2024-06-02T01:02:03.456Z"})),
        event("time-offset", json!({"eventTime": "2024-06-02T03:02:03+02:00"})),
        json!({"eventID": "space-time", "eventTime": "2025-03-26 16:43:57.000000000", "eventName": "Reformatted"}),
    ]
}

fn write_hostile(dir: &Path) {
    let body = json!({ "Records": hostile_events() }).to_string();
    crate::util::write_gz(&dir.join("hostile.json.gz"), body.as_bytes());
}

fn hostile_events_are_indexed(cluster: &Cluster) {
    // Every keyword has an ignore_above (src/setup/templates.rs); flat_object has none, but for
    // OpenSearch a leaf past Lucene's 32 KB term limit is moved to `longValues`
    // (src/transform/long_values.rs), so nothing is rejected on either engine.
    let rejected: &[&str] = &[];
    let p = prefix("hostile");
    setup(cluster, &p, &[]);
    let dir = tempfile::tempdir().unwrap();
    write_hostile(&dir.path().join("logs"));
    let run = run_in(
        dir.path(),
        &["backfill", "logs", "--es", &cluster.url, "--index-prefix", &p, "--no-setup"],
        &[],
    );
    let total = hostile_events().len();
    let summary =
        format!("{} indexed, 0 already present, {} dead-lettered", total - rejected.len(), rejected.len());
    assert!(run.stderr.contains(&summary), "expected {summary:?}\n{}", run.stderr);
    if !rejected.is_empty() {
        let dead = std::fs::read_to_string(dir.path().join("cloudtrail-es-dead-letters.ndjson")).unwrap();
        let ids: Vec<String> = dead
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["document"]["eventID"].as_str().unwrap().to_string()
            })
            .collect();
        assert_eq!(ids, rejected);
    }
    assert_eq!(cluster.field_count(&p), template_fields(cluster), "no event added a field");
    let hit = |query: Value| {
        cluster.search(&p, json!({"size": 0, "track_total_hits": true, "query": query}))["hits"]["total"]
            ["value"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(hit(json!({"term": {"requestParameters.filter": "a string"}})), 1);
    assert_eq!(hit(json!({"term": {"requestParameters.filter.name": "x"}})), 1);
    let moved = hit(json!({"term": {"longValues.field": "requestParameters.queryString"}}));
    assert_eq!(moved, u64::from(cluster.kind == Kind::OpenSearch), "huge-value moves on OpenSearch only");
    assert_eq!(hit(json!({"term": {"sourceIPAddress": "cloudtrail.amazonaws.com"}})), 1);
    assert_eq!(hit(json!({"term": {"sourceIPAddress.ip": "2001:db8::/32"}})), 1);
    assert_eq!(hit(json!({"term": {"apiVersion": "2012-10-17"}})), 1);
    assert_eq!(
        hit(json!({"range": {"@timestamp": {"gte": "2025-03-26T16:43:57Z", "lte": "2025-03-26T16:43:57Z"}}})),
        1
    );
    let at = |from: &str, to: &str| hit(json!({"range": {"eventTime": {"gte": from, "lte": to}}}));
    assert_eq!(at("2024-06-02T01:02:03.000Z", "2024-06-02T01:02:03.000Z"), 1, "the offset is applied");
    assert_eq!(at("2024-06-02T01:02:03.456Z", "2024-06-02T01:02:03.456Z"), 1, "the milliseconds are kept");
    assert_eq!(at("2024-06-01T12:00:00.000Z", "2024-06-01T12:00:00.000Z"), total as u64 - 3);
    cluster.clean(&p);
}

#[test]
fn hostile_events_are_indexed_on_every_cluster() {
    on_each_cluster(hostile_events_are_indexed);
}

#[test]
fn backfill_keeps_a_lifecycle_component_setup_installed() {
    let cluster = Cluster::es();
    let p = prefix("keep-lifecycle");
    // As `setup --retention-days` leaves it on a cluster with ILM (the settings themselves need ILM,
    // which the test server lacks, so the component is empty here).
    cluster.put(&format!("/_component_template/{p}@lifecycle"), r#"{"template":{}}"#);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.json"),
        r#"{"Records":[{"eventID":"k","eventTime":"2024-05-01T00:00:00Z"}]}"#,
    )
    .unwrap();
    run_in(dir.path(), &["backfill", "a.json", "--es", &cluster.url, "--index-prefix", &p], &[])
        .expect_code(0);
    let template = cluster.get(&format!("/_index_template/{p}"));
    let parts = &template["index_templates"][0]["index_template"]["composed_of"];
    assert_eq!(parts, &json!([format!("{p}@settings"), format!("{p}@mappings"), format!("{p}@lifecycle")]));
    cluster.clean(&p);
}

/// The findings (`--rules`) are kept as long as the events: on Elasticsearch the lifecycle
/// component `setup --retention-days` installs is composed into the findings' template too, so
/// what it sets (ILM's policy and `parse_origination_date`) reaches each `PREFIX-findings-…`
/// index. The test servers have no ILM, so the component here sets a stand-in setting the server
/// accepts, and both the events' and the findings' index of the run must carry it. (On OpenSearch
/// the ISM policy attaches itself by its `ism_template` pattern `PREFIX-*`, which takes the
/// findings' indices too: `setup/lifecycle.rs` tests the pattern.)
fn findings_take_the_events_lifecycle(cluster: &Cluster) {
    let p = prefix("findings-lifecycle");
    let stand_in = json!({"template": {"settings": {"index.max_result_window": 12345}}});
    cluster.put(&format!("/_component_template/{p}@lifecycle"), &stand_in.to_string());
    let dir = tempfile::tempdir().unwrap();
    let stop = json!({"Records": [{"eventID": "stop-1", "eventTime": "2024-05-01T00:00:00Z",
        "eventSource": "cloudtrail.amazonaws.com", "eventName": "StopLogging", "awsRegion": "us-east-1"}]});
    std::fs::write(dir.path().join("a.json"), stop.to_string()).unwrap();
    let args = ["backfill", "a.json", "--es", &cluster.url, "--index-prefix", &p, "--rules", "builtin"];
    let run = run_in(dir.path(), &args, &[]);
    run.expect_code(0);
    assert!(run.stderr.contains("findings: 1 "), "{}", run.stderr);
    let template = cluster.get(&format!("/_index_template/{p}-findings"));
    let parts = &template["index_templates"][0]["index_template"]["composed_of"];
    assert_eq!(parts, &json!([format!("{p}@lifecycle")]), "the findings' template");
    for index in [format!("{p}-2024.05.01"), format!("{p}-findings-2024.05.01")] {
        let settings = cluster.get(&format!("/{index}/_settings"));
        let window = &settings[&index]["settings"]["index"]["max_result_window"];
        assert_eq!(window, "12345", "{index} lacks what the lifecycle component sets: {settings}");
    }
    cluster.clean(&p);
}

#[test]
fn findings_take_the_events_lifecycle_on_elasticsearch_8_and_9() {
    on_each_cluster(|cluster| {
        if cluster.kind == Kind::Elasticsearch {
            findings_take_the_events_lifecycle(cluster);
        }
    });
}
