//! `replay` (docs/design/reliability.md, "a way back"): dead letters go back once their cause is fixed,
//! exactly once, on Elasticsearch and OpenSearch: a mapping conflict fixed, records re-encoded as backfill
//! encodes them, a cluster that is down (nothing lost: the failed letters are in the new file, whole, and a
//! second replay brings them in), lines that are not letters named by number only, and the input never
//! written to.

mod faults;

use crate::util::{run_in, Cluster, Run};
use serde_json::{json, Value};
use std::path::Path;

/// Both lines of servers (the 8/9 and 2/3 majors share the bulk code paths tested here).
fn clusters() -> [Cluster; 2] {
    [Cluster::es(), Cluster::os()]
}

/// `n` events, alternating between two UTC days.
fn events(tag: &str, n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            json!({
                "eventVersion": "1.08",
                "eventID": format!("{tag}-{i}"),
                "eventTime": format!("2024-05-0{}T10:00:{:02}Z", 1 + i % 2, i % 60),
                "eventName": format!("GetObject{i}"),
                "eventSource": "s3.amazonaws.com",
                "awsRegion": "eu-west-1",
            })
        })
        .collect()
}

fn write_log(dir: &Path, name: &str, records: &[Value]) {
    std::fs::create_dir_all(dir.join("in")).unwrap();
    std::fs::write(dir.join("in").join(name), json!({ "Records": records }).to_string()).unwrap();
}

fn letters(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// A number before `what` on the replay summary line (`10 sent`, `3 already present`…).
fn replayed(run: &Run, what: &str) -> u64 {
    let line = run.stderr.lines().find(|l| l.starts_with("replay:")).unwrap_or_else(|| {
        panic!("no replay summary in\n{}", run.stderr);
    });
    let before = line.split(&format!(" {what}")).next().unwrap();
    before.rsplit([' ', ',']).find(|w| !w.is_empty()).and_then(|n| n.parse().ok()).unwrap_or_else(|| {
        panic!("no '{what}' count in {line:?}");
    })
}

fn delete(cluster: &Cluster, path: &str) {
    let _ = ureq::delete(&format!("{}{path}", cluster.url)).call();
}

/// The `_source` of a document, as the cluster stored the text sent.
fn raw_source(cluster: &Cluster, index: &str, id: &str) -> String {
    #[derive(serde::Deserialize)]
    struct Got<'a> {
        #[serde(borrow)]
        _source: &'a serde_json::value::RawValue,
    }
    let text =
        ureq::get(&format!("{}/{index}/_doc/{id}", cluster.url)).call().unwrap().into_string().unwrap();
    serde_json::from_str::<Got>(&text).unwrap_or_else(|e| panic!("{e}: {text}"))._source.get().to_string()
}

fn source(cluster: &Cluster, index: &str, id: &str) -> Value {
    cluster.get(&format!("/{index}/_doc/{id}"))["_source"].clone()
}

#[test]
fn a_mapping_conflict_fixed_then_replayed_lands_every_event_exactly_once() {
    for cluster in clusters() {
        let dir = tempfile::tempdir().unwrap();
        let p = crate::util::prefix("replay-map");
        cluster.clean(&p);
        let all = events("map", 40);
        write_log(dir.path(), "a.json", &all);
        // A day's index made by hand with a conflicting type: each of its events is refused.
        let day1 = format!("{p}-2024.05.01");
        cluster.put(&format!("/{day1}"), r#"{"mappings":{"properties":{"eventName":{"type":"long"}}}}"#);
        let es = ["--es", &cluster.url, "--index-prefix", &p];
        let backfill = run_in(dir.path(), &[&["backfill", "in"][..], &es].concat(), &[]);
        backfill.expect_code(2);
        let dl = dir.path().join("cloudtrail-es-dead-letters.ndjson");
        let first = letters(&dl);
        assert_eq!(first.len(), 20, "{}: {}", cluster.name, backfill.stderr);
        assert_eq!(cluster.count(&p), 20);
        let input_before = std::fs::read(&dl).unwrap();

        // Not fixed yet: refused again, into a new file, with the cluster's reason.
        let early = run_in(
            dir.path(),
            &[
                &["replay", "cloudtrail-es-dead-letters.ndjson", "--dead-letters", "early.ndjson"][..],
                &es[..2],
            ]
            .concat(),
            &[],
        );
        early.expect_code(2);
        assert_eq!((replayed(&early, "sent"), replayed(&early, "failed again")), (0, 20), "{}", early.stderr);
        let refused = letters(&dir.path().join("early.ndjson"));
        assert_eq!(refused.len(), 20);
        assert!(refused
            .iter()
            .all(|l| l["status"] == 400 && l["reason"].as_str().unwrap().contains("[eventName]")));
        let ids = |ls: &[Value]| -> Vec<Value> { ls.iter().map(|l| l["action"].clone()).collect() };
        assert_eq!(ids(&refused), ids(&first), "the same actions");

        delete(&cluster, &format!("/{day1}"));
        let replay =
            run_in(dir.path(), &["replay", "cloudtrail-es-dead-letters.ndjson", "--es", &cluster.url], &[]);
        replay.expect_code(0);
        assert_eq!(
            (replayed(&replay, "sent"), replayed(&replay, "failed again")),
            (20, 0),
            "{}",
            replay.stderr
        );
        assert_eq!(cluster.count(&p), 40, "{}: every event, once", cluster.name);
        for letter in &first {
            let id = letter["action"]["create"]["_id"].as_str().unwrap();
            assert_eq!(source(&cluster, &day1, id), letter["document"], "the document as it was sent");
        }

        let again =
            run_in(dir.path(), &["replay", "cloudtrail-es-dead-letters.ndjson", "--es", &cluster.url], &[]);
        again.expect_code(0);
        assert_eq!(
            (replayed(&again, "sent"), replayed(&again, "already present")),
            (0, 20),
            "{}",
            again.stderr
        );
        assert_eq!(cluster.count(&p), 40, "{}: no duplicates", cluster.name);
        assert_eq!(std::fs::read(&dl).unwrap(), input_before, "the input is never written");
        let new_files = std::fs::read_dir(dir.path()).unwrap().filter_map(Result::ok);
        assert!(
            new_files.filter(|e| e.file_name().to_string_lossy().contains(".replay-")).count() == 0,
            "nothing failed again, so no new dead-letter file"
        );
        cluster.clean(&p);
    }
}

/// Standard base64 with padding.
fn base64(bytes: &[u8]) -> String {
    let out = std::process::Command::new("python3")
        .args(["-c", "import base64,sys; print(base64.b64encode(sys.stdin.buffer.read()).decode(), end='')"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(bytes)?;
            child.wait_with_output()
        })
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

fn record_letter(file: &str, key: &str, value: Value) -> String {
    let mut letter = json!({"at": "2024-05-01T00:00:00.000Z", "file": file, "reason": "record 1: test"});
    letter[key] = value;
    letter.to_string()
}

#[test]
fn raw_and_base64_records_are_encoded_again_exactly_as_backfill_encodes_them() {
    // Exact text with escapes, non-ASCII and a control byte; one record of invalid UTF-8.
    let raw = r#"{"eventID":"raw-1","eventTime":"2024-05-01T01:00:00Z","eventName":"Put\u00e9\"x\"","k":"tab\té ✓","secret":"s1"}"#;
    let b64 = "{\"eventID\":\"b64-1\",\"eventTime\":\"2024-05-01T02:00:00Z\",\"n\":[1,20,-0],\"u\":\"\u{1F600}\\u0001\",\"secret\":\"s2\"}";
    let unsent = json!({"eventID": "doc-1", "eventTime": "2024-05-01T03:00:00Z", "eventName": "Unsent"});
    let not_utf8 =
        b"{\"eventID\":\"bad-1\",\"eventTime\":\"2024-05-01T04:00:00Z\",\"k\":\"\xff\xfe\"}".to_vec();
    for cluster in clusters() {
        let dir = tempfile::tempdir().unwrap();
        let p = crate::util::prefix("replay-raw");
        cluster.clean(&p);
        let lines = [
            record_letter("in/r.json", "raw", Value::String(raw.into())),
            record_letter("in/b.json", "raw_base64", Value::String(base64(b64.as_bytes()))),
            record_letter("in/d.json", "document", unsent.clone()),
            record_letter("in/x.json", "raw_base64", Value::String(base64(&not_utf8))),
            // Sent once (redacted then, or not): sent again as it is, never redacted twice.
            json!({"file": "in/s.json", "reason": "r", "status": 400,
                   "action": {"create": {"_index": format!("{p}-2024.05.02"), "_id": "sent-1"}},
                   "document": {"eventID": "sent-1", "secret": "as sent"}})
            .to_string(),
        ];
        std::fs::write(dir.path().join("dl.ndjson"), lines.join("\n") + "\n").unwrap();
        let flags = ["--es", &cluster.url, "--index-prefix", &p, "--redact", "secret"];
        let replay = run_in(
            dir.path(),
            &[&["replay", "dl.ndjson", "--dead-letters", "new.ndjson"][..], &flags].concat(),
            &[],
        );
        replay.expect_code(2);
        assert_eq!(
            (replayed(&replay, "sent"), replayed(&replay, "failed again")),
            (4, 1),
            "{}",
            replay.stderr
        );
        let sent = source(&cluster, &format!("{p}-2024.05.02"), "sent-1");
        assert_eq!(sent, json!({"eventID": "sent-1", "secret": "as sent"}), "not redacted twice");

        // What backfill makes of the same bytes, with the same flags.
        let mut log = b"{\"Records\":[".to_vec();
        for (i, record) in
            [raw.as_bytes(), b64.as_bytes(), unsent.to_string().as_bytes(), &not_utf8].iter().enumerate()
        {
            if i > 0 {
                log.push(b',');
            }
            log.extend_from_slice(record);
        }
        log.extend_from_slice(b"]}");
        std::fs::create_dir_all(dir.path().join("in")).unwrap();
        std::fs::write(dir.path().join("in/all.json"), log).unwrap();
        let backfill =
            run_in(dir.path(), &[&["backfill", "in", "-o", "bulk.ndjson"][..], &flags[2..]].concat(), &[]);
        backfill.expect_code(2);
        let bulk = std::fs::read_to_string(dir.path().join("bulk.ndjson")).unwrap();
        let docs: Vec<Value> =
            bulk.lines().skip(1).step_by(2).map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(docs.len(), 3);
        for line in bulk.lines().skip(1).step_by(2) {
            let doc: Value = serde_json::from_str(line).unwrap();
            let id = doc["eventID"].as_str().unwrap();
            let got = raw_source(&cluster, &format!("{p}-2024.05.01"), id);
            assert_eq!(got, line, "{}: {id}, byte for byte as backfill sends it", cluster.name);
            assert!(doc.get("secret").is_none(), "redacted with the replay's flags");
        }
        // The record the transform refuses again is a new letter, as backfill writes it: with
        // redaction on, a record that is not valid JSON is withheld (its size only).
        let again = letters(&dir.path().join("new.ndjson"));
        assert_eq!(again.len(), 1);
        assert_eq!(again[0]["file"], "in/x.json");
        assert_eq!(again[0]["raw_withheld"]["bytes"].as_u64(), Some(not_utf8.len() as u64));
        let backfilled = letters(&dir.path().join("cloudtrail-es-dead-letters.ndjson"));
        assert_eq!(backfilled.len(), 1);
        assert_eq!(backfilled[0]["raw_withheld"], again[0]["raw_withheld"], "refused the same way");
        cluster.clean(&p);
    }
}
