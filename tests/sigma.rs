//! Sigma detections at ingest (`--rules`): every bundled rule fires on the record written from its
//! text and not on its near miss (tests/corpus/sigma/, scripts/gen/sigma_corpus.py), through
//! `backfill` into Elasticsearch and OpenSearch, one finding per (rule, event) in
//! `PREFIX-findings-*`; a re-run adds no finding; an explicitly named rule that cannot be used
//! stops the run.

use crate::util::{on_each_cluster, prefix, run_in, Cluster};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::PathBuf;

fn sigma_corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/sigma/events.json")
}

/// The rule ids of the bundled pack, from the corpus' `fire:ID` records.
fn rule_ids() -> BTreeSet<String> {
    let corpus: Value = serde_json::from_str(&std::fs::read_to_string(sigma_corpus()).unwrap()).unwrap();
    let ids = corpus["Records"].as_array().unwrap().iter().filter_map(|r| r["eventID"].as_str());
    ids.filter_map(|id| id.strip_prefix("fire:")).map(str::to_string).collect()
}

/// (rule.id, eventID) of every finding under the prefix.
fn findings(cluster: &Cluster, p: &str) -> Vec<(String, String)> {
    let found = cluster.search(&format!("{p}-findings"), json!({"size": 1000, "query": {"match_all": {}}}));
    let hits = found["hits"]["hits"].as_array().cloned().unwrap_or_default();
    hits.iter()
        .map(|h| {
            let s = &h["_source"];
            (s["rule"]["id"].as_str().unwrap().to_string(), s["eventID"].as_str().unwrap().to_string())
        })
        .collect()
}

#[test]
fn every_bundled_rule_fires_on_its_event_and_not_its_near_miss_through_backfill() {
    let rules = rule_ids();
    assert_eq!(rules.len(), 57);
    on_each_cluster(|cluster| {
        let p = prefix("sigma");
        let dir = tempfile::tempdir().unwrap();
        let source = sigma_corpus();
        let args = [
            "backfill",
            source.to_str().unwrap(),
            "--es",
            &cluster.url,
            "--index-prefix",
            &p,
            "--rules",
            "builtin",
        ];
        let first = run_in(dir.path(), &args, &[]);
        first.expect_code(0);
        let found = findings(cluster, &p);
        let mut missing = Vec::new();
        for id in &rules {
            if !found.contains(&(id.clone(), format!("fire:{id}"))) {
                missing.push(format!("{id} did not fire on fire:{id}"));
            }
            if found.contains(&(id.clone(), format!("miss:{id}"))) {
                missing.push(format!("{id} fired on its near miss"));
            }
        }
        assert!(missing.is_empty(), "{missing:#?}\n{}", first.stderr);
        let unique: BTreeSet<_> = found.iter().collect();
        assert_eq!(unique.len(), found.len(), "one finding per (rule, event)");
        let n = found.len();
        assert!(first.stderr.contains(&format!("{n} new, 0 already present")), "{}", first.stderr);
        // Each finding names its rule's author and its event's index, and is mapped for charts.
        let one = cluster.search(
            &format!("{p}-findings"),
            json!({"size": 1,
            "aggs": {"levels": {"terms": {"field": "rule.level"}}}}),
        );
        let source = &one["hits"]["hits"][0]["_source"];
        assert!(source["rule"]["author"].as_str().is_some_and(|a| !a.is_empty()), "{source}");
        assert!(source["event"]["index"].as_str().unwrap().starts_with(&format!("{p}-2024.05.01")));
        assert!(!one["aggregations"]["levels"]["buckets"].as_array().unwrap().is_empty(), "{one}");

        let second = run_in(dir.path(), &args, &[]);
        second.expect_code(0);
        assert!(second.stderr.contains(&format!("0 new, {n} already present")), "{}", second.stderr);
        assert_eq!(findings(cluster, &p).len(), n, "a re-run adds no finding");
        cluster.clean(&p);
    });
}

#[test]
fn a_named_rule_that_cannot_be_used_stops_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let rule = dir.path().join("windows.yml");
    std::fs::write(
        &rule,
        "title: W\nlogsource: {product: windows, category: process_creation}\n\
         detection: {sel: {CommandLine|contains: x}, condition: sel}\n",
    )
    .unwrap();
    let out = dir.path().join("out.ndjson");
    let source = sigma_corpus();
    let args = [
        "backfill",
        source.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "--rules",
        rule.to_str().unwrap(),
    ];
    let run = run_in(dir.path(), &args, &[]);
    run.expect_code(1);
    assert!(run.stderr.contains("windows.yml: logsource is product windows"), "{}", run.stderr);
    assert!(!out.exists(), "nothing was written");
}
