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
/// events, the hits with it are those without it. The bundled pack is fully anchored (else the
/// filter would let every event through and cost nothing but its scan).
#[test]
fn the_prefilter_skips_only_events_no_bundled_rule_matches() {
    let (detector, _) = load(&[RuleSource::Builtin]).unwrap();
    assert!(detector.prefilter.is_selective(), "a bundled rule has no anchor");
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
    let (mut filtered, mut every) = (Vec::new(), Vec::new());
    let (mut skipped, mut fired) = (0, 0);
    for record in &records {
        detector.evaluate(record.as_bytes(), &mut filtered).unwrap();
        detector.evaluate_every_rule(record.as_bytes(), &mut every).unwrap();
        assert_eq!(filtered, every, "{record}");
        skipped += usize::from(!detector.prefilter.may_match(record.as_bytes()));
        fired += usize::from(!every.is_empty());
    }
    assert!(records.len() > 1000 && fired > 100, "{} records, {fired} fired", records.len());
    assert!(skipped * 2 > records.len(), "only {skipped} of {} records skipped", records.len());
}
