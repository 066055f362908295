//! Every CloudTrail output lands: a trail folder with management events of eventVersion 1.11,
//! network activity events (`CloudTrail-NetworkActivity/`), aggregated events
//! (`CloudTrail-Aggregated/`: `eventId`, `timeWindow`, `summary`), an Insights event, a kind AWS has
//! not invented yet (`CloudTrail-FutureKind/`), a digest and values longer than Lucene's 32 KB term
//! (up to one 200 KB leaf; `tests/corpus/kinds/`, synthetic), backfilled from a local folder and
//! from S3 (moto) with `--start/--end`, indexes every record of the range exactly once with 0 dead
//! letters on Elasticsearch 8 and 9 and OpenSearch 3 and 2. Each `_source` is the event as written
//! (on OpenSearch once the long values moved to `longValues` are put back at their markers). The
//! documents are then searched the way people search them (1.11 identities, VPC endpoints,
//! aggregated statistics, the short leaves beside a long one, the moved values by their trace), and
//! the dashboards' charts are shown to leave the aggregated summaries out.

use crate::util::aws::{moto_env, new_bucket, runtime, s3, upload_dir};
use crate::util::written::{assert_as_written, MOVED};
use crate::util::{event_counts, on_each_cluster, output_ids, prefix, run_in, walk, Cluster, Kind, Run};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The day `--start/--end` select; the fixtures also hold the 16th and the 20th.
const DAY: &str = "2025-11-17";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/kinds")
}

/// Each fixture record (digests excluded) with its file's path.
fn records() -> Vec<(String, Value)> {
    use std::io::Read;
    let mut out = Vec::new();
    for path in walk(&fixtures()) {
        let name = path.to_string_lossy().replace('\\', "/");
        if !name.ends_with(".json.gz") || name.contains("CloudTrail-Digest") {
            continue;
        }
        let mut text = String::new();
        flate2::read::GzDecoder::new(&std::fs::read(&path).unwrap()[..]).read_to_string(&mut text).unwrap();
        let file: Value = serde_json::from_str(&text).unwrap();
        for r in file["Records"].as_array().unwrap() {
            out.push((name.clone(), r.clone()));
        }
    }
    out
}

/// The ids (`eventID`, or an aggregated event's `eventId`) of the records in `DAY`'s folders
/// whose path passes `keep`.
fn ids_of_day(keep: impl Fn(&str) -> bool) -> BTreeSet<String> {
    records()
        .into_iter()
        .filter(|(path, _)| path.contains("/2025/11/17/") && keep(path))
        .map(|(_, r)| r.get("eventID").or(r.get("eventId")).and_then(Value::as_str).unwrap().to_string())
        .collect()
}

fn hits(cluster: &Cluster, p: &str, query: Value) -> u64 {
    cluster.search(p, json!({"query": query, "size": 0, "track_total_hits": true}))["hits"]["total"]["value"]
        .as_u64()
        .unwrap()
}

/// The run indexed exactly `want` events (a retried request may find some present), 0 dead, and
/// each `_source` is its event as written: on Elasticsearch byte for byte (as JSON text, keys in
/// order; only `@timestamp` added), on OpenSearch once the moved long values are put back (and
/// only the leaves over Lucene's term moved: the policy, the two templates, the 200 KB body).
fn assert_lands(run: &Run, cluster: &Cluster, p: &str, want: &BTreeSet<String>) {
    run.expect_code(0);
    let (indexed, present, dead) = event_counts(run);
    assert_eq!((indexed + present, dead), (want.len() as u64, 0), "{}", run.stderr);
    assert_eq!(cluster.count(p), want.len() as u64);
    let found = cluster.search(p, json!({"size": 100, "query": {"match_all": {}}}));
    let hits = found["hits"]["hits"].as_array().unwrap();
    let got: BTreeSet<String> = hits.iter().map(|h| h["_id"].as_str().unwrap().to_string()).collect();
    assert_eq!(&got, want, "the _ids are the events' ids");
    let records = records();
    let mut moved = Vec::new();
    for hit in hits {
        let id = hit["_id"].as_str().unwrap();
        let (_, record) =
            records.iter().find(|(_, r)| r.get("eventID").or(r.get("eventId")) == Some(&json!(id))).unwrap();
        moved.extend(assert_as_written(&hit["_source"], record, cluster.kind == Kind::OpenSearch));
    }
    moved.sort();
    let want_moved = match cluster.kind {
        Kind::Elasticsearch => vec![],
        Kind::OpenSearch => vec![
            "requestParameters.body",
            "requestParameters.policy",
            "requestParameters.templateBody",
            "responseElements.templateBody",
        ],
    };
    assert_eq!(moved, want_moved, "what moved on {}", cluster.name);
}

/// What people look for in these documents, and the dashboards' exclusion of summaries.
fn assert_searchable(cluster: &Cluster, p: &str) {
    let count = |query: Value| hits(cluster, p, query);
    // eventVersion 1.11: who did it, as whom.
    assert_eq!(
        count(json!({"term": {"userIdentity.onBehalfOf.userId": "94482488-3041-7026-18f3-be45837cd0e4"}})),
        1
    );
    assert_eq!(count(json!({"term": {"userIdentity.inScopeOf.issuerType": "AWS::Lambda::Function"}})), 1);
    assert_eq!(count(json!({"term": {"userIdentity.sessionContext.assumedRoot": "true"}})), 1);
    assert_eq!(count(json!({"term": {"tlsDetails.keyExchange": "x25519"}})), 9);
    // Network activity.
    assert_eq!(count(json!({"term": {"eventCategory": "NetworkActivity"}})), 3);
    assert_eq!(count(json!({"term": {"vpcEndpointAccountId": "444455556666"}})), 3);
    assert_eq!(count(json!({"term": {"errorCode": "VpceAccessDenied"}})), 1);
    // Aggregated: routed by the window's start, statistics searchable and summable.
    let agg = cluster.search(p, json!({"query": {"term": {"eventId": "kinds-agg-0001"}}}));
    let hit = &agg["hits"]["hits"][0];
    assert_eq!(hit["_source"]["@timestamp"], "2025-11-17T19:20:00Z");
    assert_eq!(hit["_index"], format!("{p}-2025.11.17"));
    assert_eq!(count(json!({"range": {"timeWindow.windowEnd": {"gte": "2025-11-17T19:25:00Z"}}})), 3);
    assert_eq!(count(json!({"term": {"accountId": "111122223333"}})), 3);
    let bucket_2 = json!({"bool": {"filter": [
        {"term": {"summary.details.dimension": "resourceARN"}},
        {"term": {"summary.details.statistics.name": "arn:aws:s3:::bucket-2"}}]}});
    assert_eq!(count(bucket_2), 1);
    let sums = cluster.search(
        p,
        json!({"size": 0, "aggs": {"primary": {
        "terms": {"field": "summary.primaryDimension.statistics.name"},
        "aggs": {"total": {"sum": {"field": "summary.primaryDimension.statistics.value"}}}}}}),
    );
    let buckets = sums["aggregations"]["primary"]["buckets"].as_array().unwrap();
    let put = buckets.iter().find(|b| b["key"] == "PutObject").expect("PutObject bucket");
    assert_eq!(put["total"]["value"].as_f64(), Some(1000.0));
    // Long values: the event is there, its short leaves searchable, the long one whole in _source:
    // where it was written on Elasticsearch; on OpenSearch in `longValues`, found by its path, with
    // the marker (itself searchable) at its old place.
    let key_policy = records().into_iter().find(|(_, r)| r["eventName"] == "PutKeyPolicy").unwrap().1;
    let long = cluster.search(
        p,
        json!({"query": {"term": {"requestParameters.keyId": "1234abcd-12ab-34cd-56ef-1234567890ab"}}}),
    );
    let source = &long["hits"]["hits"][0]["_source"];
    assert_eq!(source["eventName"], "PutKeyPolicy");
    let policy = &key_policy["requestParameters"]["policy"];
    let moved = |field: &str| count(json!({"term": {"longValues.field": field}}));
    match cluster.kind {
        Kind::Elasticsearch => {
            assert_eq!(&source["requestParameters"]["policy"], policy);
            assert_eq!(count(json!({"exists": {"field": "longValues.field"}})), 0, "nothing moves");
        }
        Kind::OpenSearch => {
            assert_eq!(source["requestParameters"]["policy"], MOVED);
            assert_eq!(source["longValues"][0]["field"], "requestParameters.policy");
            assert_eq!(&source["longValues"][0]["value"], policy);
            assert_eq!(moved("requestParameters.templateBody"), 1);
            assert_eq!(moved("responseElements.templateBody"), 1);
            assert_eq!(moved("requestParameters.body"), 1, "the 200 KB leaf");
            assert_eq!(count(json!({"term": {"requestParameters.body": MOVED}})), 1, "the marker");
        }
    }
    assert_eq!(count(json!({"term": {"requestParameters.restApiId": "kinds0api1"}})), 1);
    assert_eq!(count(json!({"term": {"requestParameters.stackName": "kinds-big-stack"}})), 2);
    assert_eq!(count(json!({"term": {"requestParameters.bucketName": "kinds-policy-bucket"}})), 1);
    // The dashboards' charts count API calls: with each chart's own filters, no summary is left.
    let aggregated = json!({"term": {"eventCategory": "Aggregated"}});
    assert_eq!(count(aggregated.clone()), 3, "the summaries are indexed");
    let kibana =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("kibana/kibana-8.ndjson"))
            .unwrap();
    let mut charts = 0;
    for object in kibana.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()) {
        let Some(filters) = object["attributes"]["state"]["filters"].as_array() else { continue };
        if object["references"].to_string().contains("_findings-data-view") {
            continue; // a chart of the findings, which are not in these indices
        }
        let mut filter: Vec<Value> = filters.iter().map(|f| f["query"].clone()).collect();
        assert!(!filter.is_empty(), "{}", object["attributes"]["title"]);
        filter.push(aggregated.clone());
        assert_eq!(
            count(json!({"bool": {"filter": filter}})),
            0,
            "{} shows summaries",
            object["attributes"]["title"]
        );
        charts += 1;
    }
    assert!(charts >= 5, "{charts} charts checked");
}

fn local_folder(cluster: &Cluster) {
    let p = prefix("kinds-local");
    let dir = tempfile::tempdir().unwrap();
    let source = fixtures();
    let args = [
        "backfill",
        source.to_str().unwrap(),
        "--es",
        &cluster.url,
        "--index-prefix",
        &p,
        "--start",
        DAY,
        "--end",
        DAY,
    ];
    let want = ids_of_day(|_| true);
    assert_eq!(want.len(), 16, "8 management, 3 network, 3 aggregated, 1 insight, 1 future");
    let run = run_in(dir.path(), &args, &[]);
    assert_lands(&run, cluster, &p, &want);
    assert!(run.stderr.contains("1 skipped") || run.stderr.contains("skipped"), "{}", run.stderr);
    assert_searchable(cluster, &p);
    let again = run_in(dir.path(), &args, &[]);
    again.expect_code(0);
    assert_eq!(event_counts(&again), (0, 16, 0), "{}", again.stderr);
    cluster.clean(&p);
}

#[test]
fn a_local_trail_folder_of_every_kind_lands_exactly_once_on_every_cluster() {
    on_each_cluster(local_folder);
}

/// A bucket holding the fixtures under a trail prefix.
fn bucket() -> String {
    runtime().block_on(async {
        let s3 = s3().await;
        let bucket = new_bucket(&s3, "kinds").await;
        upload_dir(&s3, &bucket, &fixtures().join("AWSLogs"), "trail/AWSLogs/").await;
        bucket
    })
}

/// The prefixes a `-v` run listed.
fn listed(run: &Run) -> Vec<String> {
    let lines = run.stderr.lines().filter(|l| l.contains("S3 ListObjectsV2"));
    lines
        .map(|l| {
            l.split("prefix=")
                .nth(1)
                .unwrap_or("")
                .split_whitespace()
                .next()
                .unwrap_or("")
                .trim_matches('"')
                .to_string()
        })
        .collect()
}

#[test]
fn an_s3_trail_of_every_kind_lands_exactly_once_with_a_date_range_on_every_cluster() {
    let bucket = bucket();
    let source = format!("s3://{bucket}/trail/");
    let want = ids_of_day(|_| true);
    on_each_cluster(|cluster| {
        let p = prefix("kinds-s3");
        let dir = tempfile::tempdir().unwrap();
        let args = [
            "backfill",
            &source,
            "--es",
            &cluster.url,
            "--index-prefix",
            &p,
            "--start",
            DAY,
            "--end",
            DAY,
            "-v",
        ];
        let run = run_in(dir.path(), &args, &moto_env());
        assert_lands(&run, cluster, &p, &want);
        let listed = listed(&run);
        for kind in [
            "CloudTrail",
            "CloudTrail-NetworkActivity",
            "CloudTrail-Aggregated",
            "CloudTrail-Insight",
            "CloudTrail-FutureKind",
        ] {
            assert!(
                listed.iter().any(|l| l.contains(&format!("/{kind}/")) && l.ends_with("/2025/11/17/")),
                "{kind}'s day was not listed: {listed:?}"
            );
        }
        for l in &listed {
            assert!(!l.contains("CloudTrail-Digest"), "listed digests: {l}");
            assert!(
                !l.contains("/2025/11/16/") && !l.contains("/2025/11/20/"),
                "listed outside the range: {l}"
            );
        }
        assert_searchable(cluster, &p);
        cluster.clean(&p);
    });
}

#[test]
fn a_region_narrows_every_kind_alike() {
    let bucket = bucket();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.ndjson");
    let source = format!("s3://{bucket}/trail/");
    let args = [
        "backfill",
        &source,
        "--output",
        out.to_str().unwrap(),
        "--region",
        "us-west-2",
        "--start",
        "2025-11-16",
        "--end",
        DAY,
    ];
    run_in(dir.path(), &args, &moto_env()).expect_code(0);
    let got: BTreeSet<String> = output_ids(&out).into_iter().collect();
    let want: BTreeSet<String> =
        ["kinds-agg-0001", "kinds-agg-0002", "kinds-agg-0003", "kinds-agg-0004"].map(String::from).into();
    assert_eq!(got, want, "only us-west-2, where the aggregated events are, both days");
    let args = [
        "backfill",
        &source,
        "--output",
        out.to_str().unwrap(),
        "--region",
        "us-east-1",
        "--start",
        DAY,
        "--end",
        DAY,
    ];
    run_in(dir.path(), &args, &moto_env()).expect_code(0);
    let got: BTreeSet<String> = output_ids(&out).into_iter().collect();
    assert_eq!(got, ids_of_day(|p| p.contains("/us-east-1/")));
    assert!(got.contains("kinds-net-17-0001") && got.contains("kinds-future-0001"), "{got:?}");
}
