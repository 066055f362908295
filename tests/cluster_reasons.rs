//! Rejection reasons from the real clusters never carry the document's values (docs/design/security.md):
//! events that Elasticsearch and OpenSearch refuse for a mapping conflict, a number that does not parse, a
//! date, a boolean, an over-long term and a repeated key, each holding a planted value, end as dead letters
//! whose `reason` — and every log line — names the error type, field and position but never the value. The
//! document itself stays in the dead letter: that is its job.

use crate::util::{prefix, run_in, write_gz, Cluster};
use serde_json::{json, Value};

const PLANTED: &str = "PLANTEDVALUEQZX42";

/// Every way to get an event refused, with what its reason must still say.
fn refused() -> Vec<(String, &'static str)> {
    let event = |id: &str, body: &str| {
        format!(r#"{{"eventID":"{id}","eventTime":"2024-05-01T10:00:00Z","eventName":"Probe",{body}}}"#)
    };
    vec![
        (event("number", &format!(r#""n":"{PLANTED}""#)), "[n] of type [long]"),
        (event("date", &format!(r#""d":"{PLANTED}""#)), "[d] of type [date]"),
        (event("boolean", &format!(r#""b":"{PLANTED}""#)), "[b] of type [boolean]"),
        (event("ip", &format!(r#""ip":"{PLANTED}""#)), "[ip] of type [ip]"),
        (event("object", &format!(r#""k":{{"x":"{PLANTED}"}}"#)), "[k] of type [keyword]"),
        (event("conflict", &format!(r#""o":"{PLANTED}""#)), "object mapping for [o]"),
        (event("immense", &format!(r#""k":"{}""#, PLANTED.repeat(2500))), "immense term"),
        (event("repeated", &format!(r#""k":"{PLANTED}","k":"{PLANTED}""#)), "duplicate field `k`"),
    ]
}

#[test]
fn refusals_are_explained_without_the_values_on_elasticsearch_and_opensearch() {
    for cluster in [Cluster::es(), Cluster::os()] {
        let dir = tempfile::tempdir().unwrap();
        let prefix = prefix("reasons");
        let mappings = json!({"properties": {
            "n": {"type": "long"}, "d": {"type": "date"}, "b": {"type": "boolean"}, "ip": {"type": "ip"},
            "k": {"type": "keyword"}, "o": {"type": "object"}, "eventTime": {"type": "date"}}});
        let template = json!({"index_patterns": [format!("{prefix}-*")], "template": {"mappings": mappings}});
        cluster.put(&format!("/_index_template/{prefix}"), &template.to_string());
        let cases = refused();
        let records: Vec<&str> = cases.iter().map(|(e, _)| e.as_str()).collect();
        let file = dir.path().join("in/refused.json.gz");
        write_gz(&file, format!("{{\"Records\":[{}]}}", records.join(",")).as_bytes());
        let args = ["backfill", file.to_str().unwrap(), "--es", &cluster.url, "--index-prefix", &prefix];
        let run = run_in(dir.path(), &[&args[..], &["--no-setup", "-v"]].concat(), &[]);
        cluster.clean(&prefix);
        run.expect_code(2);
        let letters = std::fs::read_to_string(dir.path().join("cloudtrail-es-dead-letters.ndjson")).unwrap();
        let letters: Vec<Value> = letters.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(letters.len(), cases.len(), "{}: every event refused", cluster.url);
        for (event, want) in &cases {
            let id = serde_json::from_str::<Value>(event).unwrap()["eventID"].clone();
            let letter = letters.iter().find(|l| l["action"]["create"]["_id"] == id).unwrap();
            let reason = letter["reason"].as_str().unwrap();
            assert!(reason.contains(want), "{} {id}: {reason}", cluster.url);
            assert!(
                !reason.contains(PLANTED) && !reason.contains("80, 76, 65"),
                "{} {id}: {reason}",
                cluster.url
            );
            assert!(
                !reason.contains('\n') && reason.chars().count() <= 501,
                "{} {id}: {reason}",
                cluster.url
            );
            let document = letter["document"].to_string();
            assert!(document.contains(PLANTED) || id == "repeated", "{id}: the dead letter keeps the event");
        }
        assert!(run.stderr.contains("rejected: "), "{}", run.stderr);
        for line in run.stderr.lines() {
            assert!(
                !line.contains(PLANTED) && !line.contains("80, 76, 65"),
                "{}: log line {line}",
                cluster.url
            );
        }
    }
}
