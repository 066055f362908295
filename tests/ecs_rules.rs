//! Elastic Security's prebuilt AWS rules on our ECS documents: every corpus event, with the ECS
//! fields `transform::ecs` computes for it, is indexed into the real Elasticsearch with the
//! `--ecs` mappings (`mappings.json` beside `ecs-mappings.json`, as the template will compose
//! them); then each rule's query, its KQL (or EQL / ES|QL filter) written as query DSL, must find
//! exactly the events that should trigger it, decided here from the raw CloudTrail fields alone.
//! The rules (`ecs_rules/rules.rs`) are those of `elastic/detection-rules` whose trigger events
//! the corpus holds.
//! Until `--ecs` is wired into the pipeline, the test computes the documents itself.

mod dsl;
mod rules;

use crate::util::{corpus, events, prefix, Cluster};
use cloudtrail_es::transform::ecs::ecs_fields;
use rules::rules;
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

const MAPPINGS: &str = include_str!("../mappings/mappings.json");
const ECS_MAPPINGS: &str = include_str!("../mappings/ecs-mappings.json");
const SETTINGS: &str = include_str!("../mappings/settings.json");

/// The corpus as `--ecs` documents: the event unchanged, `@timestamp` as `document.rs` adds it,
/// and the ECS fields.
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

/// The `--ecs` index body: settings, and both mapping components merged.
fn index_body() -> Value {
    let part = |text: &str| serde_json::from_str::<Value>(text).unwrap()["template"].clone();
    let mut mappings = part(MAPPINGS)["mappings"].clone();
    for (k, v) in part(ECS_MAPPINGS)["mappings"]["properties"].as_object().unwrap() {
        assert!(
            mappings["properties"].as_object_mut().unwrap().insert(k.clone(), v.clone()).is_none(),
            "{k} mapped twice"
        );
    }
    json!({"settings": part(SETTINGS)["settings"], "mappings": mappings})
}

#[test]
fn prebuilt_aws_rules_find_exactly_their_trigger_events() {
    let es = Cluster::es();
    let prefix = prefix("ecs-rules");
    let index = format!("{prefix}-corpus");
    es.put(&format!("/{index}"), &index_body().to_string());
    let docs = documents();
    for chunk in docs.chunks(500) {
        let mut body = String::new();
        for (id, _, doc) in chunk {
            body.push_str(&json!({"index": {"_index": index, "_id": id}}).to_string());
            body.push('\n');
            body.push_str(&Value::Object(doc.clone()).to_string());
            body.push('\n');
        }
        let response = es.post("/_bulk", &body);
        let failed: Vec<&Value> = response["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["index"].get("error").is_some())
            .collect();
        assert!(
            failed.is_empty(),
            "{} of {} rejected, first: {}",
            failed.len(),
            chunk.len(),
            failed[0]["index"]["error"]
        );
    }
    assert_eq!(es.count(&prefix), docs.len() as u64);
    for rule in rules() {
        let want: BTreeSet<&str> =
            docs.iter().filter(|(_, e, _)| (rule.expected)(e)).map(|(id, _, _)| id.as_str()).collect();
        assert!(!want.is_empty(), "{}: the corpus has no trigger event, so this checks nothing", rule.name);
        let hits = es.search(&prefix, json!({"size": 10000, "query": rule.query, "_source": ["user"]}));
        let got: BTreeSet<&str> = hits["hits"]["hits"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| rule.compare.is_none_or(|keep| keep(&h["_source"])))
            .map(|h| h["_id"].as_str().unwrap())
            .collect();
        assert_eq!(got, want, "{}: hits (left) vs trigger events (right)", rule.name);
        println!("{}: {} events", rule.name, got.len());
    }
    es.clean(&prefix);
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
