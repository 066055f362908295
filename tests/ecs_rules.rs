//! Elastic Security's prebuilt AWS rules on our ECS documents: the real binary backfills the
//! corpus with `--ecs` into the real Elasticsearch (its template, its daily indices); then each
//! rule's query, its KQL (or EQL / ES|QL filter) written as query DSL, run over the index
//! pattern the rules read (`logs-aws.cloudtrail-*`), must find exactly the events that should
//! trigger it, decided here from the raw CloudTrail fields alone, within the window the rules'
//! timestamp override (`event.ingested`) gives them: the time of the run. A second run adds
//! nothing (the first copies, and their `event.ingested`, stay), and
//! the indices stay plain daily indices even beside a template that makes data streams (as
//! Fleet's `logs-aws.cloudtrail`, priority 200, does).
//! The rules (`ecs_rules/rules.rs`) are those of `elastic/detection-rules` whose trigger events
//! the corpus holds.
// The tests that need a server (and what only they use) exist with the feature `servers`.
#![cfg_attr(not(feature = "servers"), allow(dead_code, unused_imports))]

pub(crate) mod dsl;
pub(crate) mod rules;

use crate::util::{corpus, event_counts, events, prefix, run_in, Cluster};
use cloudtrail_es::transform::ecs::ecs_fields;
use rules::rules;
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

const ECS_MAPPINGS: &str = include_str!("../mappings/ecs-mappings.json");

/// A namespace of this test's own (namespaces have no `-`), and the prefix of its indices.
pub fn namespace(name: &str) -> (String, String) {
    let namespace = prefix(name).replace('-', "_");
    let prefix = format!("logs-aws.cloudtrail-{namespace}");
    (namespace, prefix)
}

/// The corpus as `--ecs` documents, as the library computes them: the event unchanged,
/// `@timestamp` as `document.rs` adds it, and the ECS fields.
fn documents() -> Vec<(String, Value, Map<String, Value>)> {
    events(&corpus())
        .into_iter()
        .map(|event| {
            let mut doc = event.as_object().expect("events are objects").clone();
            if !doc.contains_key("@timestamp") {
                doc.insert("@timestamp".into(), event["eventTime"].clone());
            }
            let ecs = ecs_fields(&event, "default");
            for (k, v) in &ecs {
                assert!(doc.insert(k.clone(), v.clone()).is_none(), "{k} collides with a CloudTrail field");
            }
            (event["eventID"].as_str().expect("corpus events have an eventID").to_string(), event, doc)
        })
        .collect()
}

/// The UTC days (YYYY.MM.DD) of the events' `eventTime` (or their own `@timestamp`).
fn days(events: &[Value]) -> BTreeSet<String> {
    let day = |e: &Value| {
        let time = e["eventTime"].as_str().or(e["@timestamp"].as_str()).expect("a time");
        let time = chrono::DateTime::parse_from_rfc3339(time).unwrap_or_else(|err| panic!("{time}: {err}"));
        time.with_timezone(&chrono::Utc).format("%Y.%m.%d").to_string()
    };
    events.iter().map(day).collect()
}

#[cfg(feature = "servers")]
#[test]
fn prebuilt_aws_rules_find_exactly_their_trigger_events() {
    let es = Cluster::es();
    let (namespace, prefix) = namespace("ecs-rules");
    // A stand-in for Fleet's template: data streams for the same names, at Fleet's priority.
    let fleet = format!("it-fleet-{namespace}");
    let fleet_template =
        json!({"index_patterns": [format!("{prefix}-*")], "priority": 200, "data_stream": {}});
    es.put(&format!("/_index_template/{fleet}"), &fleet_template.to_string());
    let dir = tempfile::tempdir().unwrap();
    let corpus = corpus();
    let args =
        ["backfill", corpus.to_str().unwrap(), "--ecs", "--ecs-namespace", &namespace, "--es", &es.url];
    let started = chrono::Utc::now();
    let run = run_in(dir.path(), &args, &[]);
    run.expect_code(0);
    let finished = chrono::Utc::now();
    let raw = events(&corpus);
    let (indexed, present, dead) = event_counts(&run);
    assert_eq!((indexed + present, dead), (raw.len() as u64, 0), "{}", run.stderr);
    assert_eq!(es.count(&prefix), raw.len() as u64);

    // Plain daily indices, one per event day: no data stream's backing indices (`.ds-…`).
    let indices: BTreeSet<String> =
        es.get(&format!("/{prefix}-*/_settings")).as_object().unwrap().keys().cloned().collect();
    let want: BTreeSet<String> = days(&raw).iter().map(|d| format!("{prefix}-{d}")).collect();
    assert_eq!(indices, want);

    // The rules read logs-aws.cloudtrail-*; other tests' namespaces are kept out by the filter.
    // They select by their timestamp override, `event.ingested` (a date): the time of this run.
    es.post(&format!("/{prefix}-*/_refresh"), "");
    let field = es.get(&format!("/{prefix}-*/_mapping/field/event.ingested"));
    for (index, m) in field.as_object().unwrap() {
        assert_eq!(m["mappings"]["event.ingested"]["mapping"]["ingested"]["type"], "date", "{index}: {m}");
    }
    let window = json!({"range": {"event.ingested": {
        "gte": started.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "lte": finished.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)}}});
    for rule in rules() {
        let want: BTreeSet<&str> =
            raw.iter().filter(|e| (rule.expected)(e)).map(|e| e["eventID"].as_str().unwrap()).collect();
        assert!(!want.is_empty(), "{}: the corpus has no trigger event, so this checks nothing", rule.name);
        let query =
            json!({"bool": {"filter": [rule.query, {"term": {"data_stream.namespace": namespace}}, window]}});
        let body = json!({"size": 10000, "query": query, "_source": ["user"]});
        let hits = es.post("/logs-aws.cloudtrail-*/_search?ignore_unavailable=true", &body.to_string());
        let got: BTreeSet<&str> = hits["hits"]["hits"]
            .as_array()
            .unwrap_or_else(|| panic!("{}: {hits}", rule.name))
            .iter()
            .filter(|h| rule.compare.is_none_or(|keep| keep(&h["_source"])))
            .map(|h| h["_id"].as_str().unwrap())
            .collect();
        assert_eq!(got, want, "{}: hits (left) vs trigger events (right)", rule.name);
        println!("{}: {} events", rule.name, got.len());
    }

    // A re-run adds nothing: every event is already present.
    let again = run_in(dir.path(), &args, &[]);
    again.expect_code(0);
    assert_eq!(event_counts(&again), (0, raw.len() as u64, 0), "{}", again.stderr);
    assert_eq!(es.count(&prefix), raw.len() as u64);
    // ... and the first copies stay, with the time of the first run: the rules see nothing new.
    let in_window = json!({"size": 0, "track_total_hits": true, "query": window});
    let found = es.search(&prefix, in_window);
    assert_eq!(found["hits"]["total"]["value"], raw.len() as u64, "{found}");
    es.clean(&prefix);
    let _ = ureq::delete(&format!("{}/_index_template/{fleet}", es.url)).call();
}

/// Every ECS field produced for the corpus is in `ecs-mappings.json` (outside the flattened
/// objects and the resources' own extra keys), so none is silently left unsearchable.
#[test]
fn every_ecs_field_of_the_corpus_is_mapped() {
    fn leaves(prefix: &str, v: &Value, out: &mut BTreeSet<String>) {
        match v {
            Value::Object(map) if !prefix.starts_with("aws.cloudtrail.flattened.") => {
                for (k, v) in map {
                    leaves(&if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") }, v, out);
                }
            }
            Value::Array(items) => items.iter().for_each(|i| leaves(prefix, i, out)),
            _ => {
                out.insert(prefix.to_string());
            }
        }
    }
    let mapped = serde_json::from_str::<Value>(ECS_MAPPINGS).unwrap();
    let is_mapped = |path: &str| {
        path.split('.')
            .try_fold(&mapped["template"]["mappings"], |m, k| m["properties"].get(k))
            .is_some_and(|m| m.get("type").is_some())
    };
    let mut produced = BTreeSet::new();
    for (_, _, doc) in documents() {
        for key in [
            "ecs",
            "data_stream",
            "event",
            "cloud",
            "source",
            "related",
            "user",
            "group",
            "user_agent",
            "tls",
            "aws",
        ] {
            if let Some(v) = doc.get(key) {
                leaves(key, v, &mut produced);
            }
        }
    }
    let unmapped: Vec<&String> =
        produced.iter().filter(|p| !is_mapped(p) && !p.starts_with("aws.cloudtrail.resources.")).collect();
    assert!(unmapped.is_empty(), "not in ecs-mappings.json: {unmapped:?}");
    assert!(
        produced.contains("aws.cloudtrail.flattened.request_parameters")
            && produced.contains("user.target.name")
    );
}
