//! `report` from a cluster (docs/guides/report.md): after a backfill of the corpus, the report made through
//! aggregations equals the report made from the files, number for number, and its numbers equal
//! aggregations run here directly on the cluster; on Elasticsearch 8 and 9 and OpenSearch 3 and 2.

use crate::report::report;
use crate::util::{corpus, on_each_cluster, prefix, run_in, Cluster};
use cloudtrail_es::transform::console_query;
use serde_json::{json, Value};

/// The report without `about` (how it was made differs by design).
fn numbers(mut r: Value) -> Value {
    r.as_object_mut().unwrap().remove("about");
    r
}

#[test]
fn the_report_from_the_cluster_equals_the_report_from_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = corpus();
    let (from_files, _) = report(dir.path(), &[corpus.to_str().unwrap()], 0);
    on_each_cluster(|cluster: &Cluster| {
        let p = prefix("report");
        run_in(
            dir.path(),
            &["backfill", corpus.to_str().unwrap(), "--es", &cluster.url, "--index-prefix", &p],
            &[],
        )
        .expect_code(0);
        cluster.count(&p);
        let (from_cluster, page) = report(dir.path(), &["--es", &cluster.url, "--index-prefix", &p], 0);
        assert_eq!(numbers(from_cluster.clone()), numbers(from_files.clone()), "the same numbers either way");
        assert!(page.contains("id=\"console-actions\""));
        // The same numbers from aggregations written here.
        let direct = cluster.search(
            &p,
            json!({"size": 0, "track_total_hits": true, "query": console_query(), "aggs": {
                "actions": {"terms": {"field": "eventName", "size": 10, "shard_size": 5000,
                                      "order": [{"_count": "desc"}, {"_key": "asc"}]}},
                "signins": {"filter": {"term": {"eventName": "ConsoleLogin"}}},
                "principals": {"cardinality": {"field": "userIdentity.arn"}}
            }}),
        );
        assert_eq!(direct["hits"]["total"]["value"], from_cluster["counts"]["console"]);
        let rows: Vec<Value> = direct["aggregations"]["actions"]["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| json!({"key": [b["key"]], "count": b["doc_count"]}))
            .collect();
        assert_eq!(json!(rows), from_cluster["tables"]["console_actions"]["rows"]);
        assert_eq!(
            direct["aggregations"]["actions"]["sum_other_doc_count"],
            from_cluster["tables"]["console_actions"]["others"]
        );
        let all = cluster.search(
            &p,
            json!({"size": 0, "aggs": {
                "signins": {"filter": {"term": {"eventName": "ConsoleLogin"}}},
                "principals": {"cardinality": {"field": "userIdentity.arn"}}
            }}),
        );
        assert_eq!(all["aggregations"]["signins"]["doc_count"], from_cluster["counts"]["sign_ins"]);
        assert_eq!(
            all["aggregations"]["principals"]["value"],
            from_cluster["distinct"]["principals"]["count"]
        );
        // --console-only from the cluster: the console operations only.
        let (console, _) =
            report(dir.path(), &["--es", &cluster.url, "--index-prefix", &p, "--console-only"], 0);
        assert_eq!(console["events"], from_files["counts"]["console"]);
        cluster.clean(&p);
    });
}
