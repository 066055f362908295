//! Every bundled rule against the corpus written from its text (tests/corpus/sigma/, made by
//! scripts/gen/sigma_corpus.py): its `fire:ID` record fires it, its `miss:ID` record does not.

use super::{load, RuleSource};
use flate2::read::MultiGzDecoder;
use serde_json::Value;
use std::io::Read;

#[test]
fn every_bundled_rule_fires_on_its_event_and_not_on_its_near_miss() {
    let (detector, _) = load(&[RuleSource::Builtin]).unwrap();
    let corpus: Value = serde_json::from_str(include_str!("../../tests/corpus/sigma/events.json")).unwrap();
    let records = corpus["Records"].as_array().unwrap();
    assert_eq!(records.len(), 2 * detector.rules().len());
    let mut hits = Vec::new();
    let mut wrong = Vec::new();
    for record in records {
        let id = record["eventID"].as_str().unwrap();
        let (kind, rule_id) = id.split_once(':').unwrap();
        detector.evaluate(record.to_string().as_bytes(), &mut hits).unwrap();
        let fired = hits.iter().any(|&i| detector.rules()[i].id == rule_id);
        if fired != (kind == "fire") {
            wrong.push(id.to_string());
        }
    }
    assert!(wrong.is_empty(), "{} records do not do what their id says: {wrong:?}", wrong.len());
}

/// The prefilter only skips events no rule matches: on the real corpus and on the rules' own
/// events, the hits with it are those without it. Every bundled rule has requirements, so no
/// event is searched for anchors (that search costs more than all the rules' evaluation).
#[test]
fn the_prefilter_skips_only_events_no_bundled_rule_matches() {
    let (detector, _) = load(&[RuleSource::Builtin]).unwrap();
    assert!(detector.prefilter.reads_fields_only(), "a bundled rule has no requirement");
    let mut records: Vec<String> = Vec::new();
    let sigma: Value = serde_json::from_str(include_str!("../../tests/corpus/sigma/events.json")).unwrap();
    records.extend(sigma["Records"].as_array().unwrap().iter().map(Value::to_string));
    let real = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus/real");
    for dir in std::fs::read_dir(real).unwrap() {
        for file in std::fs::read_dir(dir.unwrap().path()).unwrap() {
            let mut text = String::new();
            MultiGzDecoder::new(std::fs::File::open(file.unwrap().path()).unwrap())
                .read_to_string(&mut text)
                .unwrap();
            let log: Value = serde_json::from_str(&text).unwrap();
            records.extend(log["Records"].as_array().unwrap().iter().map(Value::to_string));
        }
    }
    let (mut filtered, mut every, mut walked) = (Vec::new(), Vec::new(), Vec::new());
    let (mut skipped, mut fired) = (0, 0);
    for record in &records {
        detector.evaluate(record.as_bytes(), &mut filtered).unwrap();
        detector.evaluate_every_rule(record.as_bytes(), &mut every).unwrap();
        assert_eq!(filtered, every, "{record}");
        // As the readers ask: the top level found where the transform's walk noted it.
        detector.evaluate_walked(record.as_bytes(), &walk(record), &mut walked).unwrap();
        assert_eq!(walked, every, "{record}");
        skipped += usize::from(!detector.prefilter.may_match(record.as_bytes()));
        fired += usize::from(!every.is_empty());
    }
    assert!(records.len() > 1000 && fired > 100, "{} records, {fired} fired", records.len());
    assert!(skipped * 2 > records.len(), "only {skipped} of {} records skipped", records.len());
}

/// Every field a rule names, as the evaluator asks for it.
fn fields_named(d: &rsigma_parser::Detection, out: &mut Vec<String>) {
    use rsigma_parser::Detection::*;
    match d {
        AllOf(items) => out.extend(items.iter().filter_map(|i| i.field.name.clone())),
        AnyOf(list) | And(list) => list.iter().for_each(|x| fields_named(x, out)),
        _ => {}
    }
}

/// The view reads fields from the raw bytes (`raw.rs`): for every field a bundled rule names (and
/// a few more), on the corpus and on records with repeated keys, dotted keys, arrays and escapes,
/// it gives exactly what the parsed tree gave.
#[test]
fn fields_read_from_bytes_are_the_parsed_ones() {
    use super::event::RecordView;
    use rsigma_eval::Event;
    let mut paths: Vec<String> =
        ["a", "a.b", "a.b.c", "a.b.c.d", "x.y", "resources.ARN", "missing", "missing.x"]
            .map(String::from)
            .to_vec();
    for (_, text) in super::builtin::RULES {
        for rule in rsigma_parser::parse_sigma_yaml(text).unwrap().rules {
            rule.detection.named.values().for_each(|d| fields_named(d, &mut paths));
        }
    }
    paths.sort();
    paths.dedup();
    assert!(paths.len() > 25, "{paths:?}");
    let mut records: Vec<String> = [
        r#"{"a":{"b":1,"b":{"c":"x\"y"}},"a.b.c":"lit","a":{"b":{"c":["p",{"d":2}]}}}"#,
        r#"{"a":[{"b":{"c":1.5}},{"b":[{"c":true},{"c":null}]},3,"s"],"a.b":{"c":{"k":"v"}}}"#,
        r#" { "a" : { "b.c" : "dotted" , "b" : { "c" : "nested" } } , "x" : { "y\u002e" : 1 , "y" : [ ] } } "#,
        r#"{"a":{"b.c":"only dotted"},"x":"\u00e9t\u00e9","x.y":{"z":"\/"},"userIdentity":{"type":"Root"}}"#,
        r#"{"userIdentity":"plain","eventName":-0.0,"errorCode":12345678901234567890,"status":false}"#,
        r#"{"a":{"b":{"c":1}},"x":2,"a.b":{"c":"escaped dotted key"},"a.b.c.d":0}"#,
        r#"{"a":{"b":{"c":1}},"x":{"y":3},"v":"a.b","w":"a.b.c","a.b.c":[true]}"#,
    ]
    .map(String::from)
    .to_vec();
    let sigma: Value = serde_json::from_str(include_str!("../../tests/corpus/sigma/events.json")).unwrap();
    records.extend(sigma["Records"].as_array().unwrap().iter().map(Value::to_string));
    let real = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus/real");
    for dir in std::fs::read_dir(real).unwrap() {
        let file = dir.unwrap().path().read_dir().unwrap().next().unwrap().unwrap();
        let mut text = String::new();
        MultiGzDecoder::new(std::fs::File::open(file.path()).unwrap()).read_to_string(&mut text).unwrap();
        let log: Value = serde_json::from_str(&text).unwrap();
        records.extend(log["Records"].as_array().unwrap().iter().take(200).map(Value::to_string));
    }
    for record in &records {
        let fast = RecordView::new(record.as_bytes()).unwrap();
        let parsed = RecordView::new_parsed(record.as_bytes()).unwrap();
        let top = walk(record);
        let walked = RecordView::walked(record.as_bytes(), &top);
        for path in &paths {
            let (a, b) = (fast.get_field(path), parsed.get_field_parsed(path));
            assert_eq!(format!("{a:?}"), format!("{b:?}"), "{path} in {record}");
            assert_eq!(
                format!("{:?}", walked.get_field(path)),
                format!("{b:?}"),
                "walked: {path} in {record}"
            );
        }
    }
}

/// Where the transform's walk finds `record`'s top-level members (the record is valid JSON; it
/// need not make a document).
fn walk(record: &str) -> crate::transform::TopLevel {
    let mut top = crate::transform::TopLevel::default();
    let _ = crate::transform::Transform::plain().encode_top(record.as_bytes(), &mut Vec::new(), &mut top);
    top
}
