//! Every bundled rule against the corpus written from its text (tests/corpus/sigma/, made by
//! scripts/gen/sigma_corpus.py): its `fire:ID` record fires it, its `miss:ID` record does not.

use super::{load, RuleSource};
use serde_json::Value;

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
