//! `replay` when things go wrong: a cluster that is down (a closed port), lines that are not
//! letters, and a new file that would be the input.

use super::{base64, clusters, letters, record_letter, replayed};
use crate::util::run_in;
use serde_json::{json, Value};

/// A letter as the bulk output writes it for a refusal.
fn sent_letter(index: &str, id: &str) -> String {
    json!({
        "at": "2024-05-01T00:00:00.000Z",
        "file": format!("s3://trail/{id}.json.gz"),
        "reason": "document_parsing_exception: failed to parse field [eventName] of type [long]",
        "status": 400,
        "action": {"create": {"_index": index, "_id": id}},
        "document": {"@timestamp": "2024-05-01T10:00:00Z", "eventID": id, "eventTime": "2024-05-01T10:00:00Z", "eventName": "Get"},
    })
    .to_string()
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn a_cluster_that_is_down_loses_nothing_and_the_new_file_brings_the_letters_in_later() {
    // Mostly whitespace: the writer keeps such a record as raw_base64.
    let spaced = b"{\n\t\t\t\t\t\t\t\t\"eventID\":\"down-b64\",\n\t\t\t\t\t\t\t\t\"eventTime\":\"2024-05-01T05:00:00Z\"\n\t\t\t\t\t\t\t\t}";
    for cluster in clusters() {
        let dir = tempfile::tempdir().unwrap();
        let p = crate::util::prefix("replay-down");
        cluster.clean(&p);
        let index = format!("{p}-2024.05.01");
        let mut lines: Vec<String> = (0..30).map(|i| sent_letter(&index, &format!("down-{i}"))).collect();
        lines.push(record_letter(
            "in/r.json",
            "raw",
            Value::String(r#"{"eventID":"down-raw","eventTime":"2024-05-01T06:00:00Z"}"#.into()),
        ));
        lines.push(record_letter("in/b.json", "raw_base64", Value::String(base64(spaced))));
        let input = dir.path().join("dl.ndjson");
        std::fs::write(&input, lines.join("\n") + "\n").unwrap();
        let before = std::fs::read(&input).unwrap();

        let down = format!("http://127.0.0.1:{}", closed_port());
        let args = [
            "replay",
            "dl.ndjson",
            "--dead-letters",
            "new.ndjson",
            "--index-prefix",
            &p,
            "--retry-timeout",
            "2",
        ];
        let run = run_in(dir.path(), &[&args[..], &["--es", &down]].concat(), &[]);
        run.expect_code(2);
        assert_eq!(replayed(&run, "failed again"), 32, "{}", run.stderr);
        assert!(run.stderr.contains("not delivered (the cluster was unavailable): 32"), "{}", run.stderr);
        assert_eq!(std::fs::read(&input).unwrap(), before, "the letters stay in the input");
        let new_path = dir.path().join("new.ndjson");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&new_path).unwrap().permissions().mode() & 0o777, 0o600);
        let new = letters(&new_path);
        assert_eq!(new.len(), 32, "every failed letter, in the new file");
        for (old, new) in lines.iter().map(|l| serde_json::from_str::<Value>(l).unwrap()).zip(&new) {
            for key in ["file", "reason", "status", "action", "document", "raw", "raw_base64"] {
                assert_eq!(old.get(key), new.get(key), "{key}: the letter, whole");
            }
        }

        let back =
            run_in(dir.path(), &["replay", "new.ndjson", "--index-prefix", &p, "--es", &cluster.url], &[]);
        back.expect_code(0);
        assert_eq!((replayed(&back, "sent"), replayed(&back, "failed again")), (32, 0), "{}", back.stderr);
        assert_eq!(cluster.count(&p), 32, "{}: all of them, once", cluster.name);
        let doc = cluster.get(&format!("/{index}/_doc/down-b64"));
        assert_eq!(doc["_source"]["eventID"], "down-b64", "the base64 record, decoded and encoded again");
        cluster.clean(&p);
    }
}

#[test]
fn lines_that_are_not_letters_are_named_by_number_never_by_content() {
    let cluster = crate::util::Cluster::es();
    let dir = tempfile::tempdir().unwrap();
    let p = crate::util::prefix("replay-bad");
    cluster.clean(&p);
    let secret = "PLANTEDSECRETVALUE";
    let index = format!("{p}-2024.05.01");
    let lines = [
        sent_letter(&index, "bad-1"),
        format!("{{\"file\":\"f\",\"reason\":\"{secret}"),
        r#"{"file":"f","reason":"r","raw_withheld":{"note":"n","bytes":12}}"#.to_string(),
        format!(
            "{{\"file\":\"f\",\"reason\":\"r\",\"truncated\":{{\"bytes\":5000000,\"prefix\":\"{secret}\"}}}}"
        ),
        format!("{{\"hello\":\"{secret}\"}}"),
        format!("{{\"file\":\"f\",\"reason\":\"r\",\"raw\":\"{}\"}}", secret.repeat(200)),
        String::new(),
        record_letter(
            "in/r.json",
            "raw",
            Value::String(r#"{"eventID":"bad-2","eventTime":"2024-05-01T06:00:00Z"}"#.into()),
        ),
    ];
    std::fs::write(dir.path().join("dl.ndjson"), lines.join("\n") + "\n").unwrap();
    let args =
        ["replay", "dl.ndjson", "--es", &cluster.url, "--index-prefix", &p, "--max-line-bytes", "2000"];
    let run = run_in(dir.path(), &args, &[]);
    run.expect_code(2);
    let e = &run.stderr;
    assert!(!e.contains(secret), "no content of any line: {e}");
    assert_eq!(
        (replayed(&run, "sent"), replayed(&run, "not replayable"), replayed(&run, "invalid")),
        (2, 2, 3),
        "{e}"
    );
    assert!(e.contains("not replayable (lines 3, 4)") && e.contains("invalid (lines 2, 5, 6)"), "{e}");
    assert!(e.contains("dl.ndjson:2: not a dead letter: not valid JSON"), "{e}");
    assert!(e.contains("dl.ndjson:3: a raw_withheld letter: not replayable"), "{e}");
    assert!(e.contains("dl.ndjson:4: a truncated letter: not replayable"), "{e}");
    assert!(e.contains("dl.ndjson:5: not a dead letter: `file` is missing"), "{e}");
    assert!(e.contains("dl.ndjson:6: not a dead letter: longer than 2000 bytes"), "{e}");
    assert_eq!(cluster.count(&p), 2);
    // Only letters that do not hold their event, besides good ones: all that can be in is in.
    std::fs::write(dir.path().join("ok.ndjson"), [lines[0].clone(), lines[2].clone()].join("\n")).unwrap();
    let ok = run_in(dir.path(), &["replay", "ok.ndjson", "--es", &cluster.url], &[]);
    ok.expect_code(0);
    assert_eq!((replayed(&ok, "already present"), replayed(&ok, "not replayable")), (1, 1), "{}", ok.stderr);
    cluster.clean(&p);
}

#[test]
fn the_new_file_is_never_the_input() {
    let cluster = crate::util::Cluster::es();
    let dir = tempfile::tempdir().unwrap();
    let p = crate::util::prefix("replay-same");
    let input = dir.path().join("dl.ndjson");
    std::fs::write(&input, sent_letter(&format!("{p}-2024.05.01"), "same-1") + "\n").unwrap();
    let before = std::fs::read(&input).unwrap();
    std::os::unix::fs::symlink("dl.ndjson", dir.path().join("link.ndjson")).unwrap();
    std::fs::hard_link(&input, dir.path().join("hard.ndjson")).unwrap();
    let absolute = input.to_string_lossy().into_owned();
    for same in ["dl.ndjson", "./dl.ndjson", absolute.as_str(), "link.ndjson", "hard.ndjson"] {
        let run =
            run_in(dir.path(), &["replay", "dl.ndjson", "--dead-letters", same, "--es", &cluster.url], &[]);
        run.expect_code(1);
        assert!(run.stderr.contains("cannot go into the file being replayed"), "{same}: {}", run.stderr);
    }
    assert_eq!(std::fs::read(&input).unwrap(), before);
    assert_eq!(cluster.status(&format!("/{p}-2024.05.01")), 404, "nothing was sent");
}

#[test]
fn an_outage_during_replay_writes_the_letters_back_whole_and_they_come_in_after() {
    use crate::util::http_proxy::{HttpProxy, Mode};
    for cluster in clusters() {
        let dir = tempfile::tempdir().unwrap();
        let p = crate::util::prefix("replay-outage");
        cluster.clean(&p);
        let index = format!("{p}-2024.05.01");
        let lines: Vec<String> = (0..50).map(|i| sent_letter(&index, &format!("out-{i}"))).collect();
        std::fs::write(dir.path().join("dl.ndjson"), lines.join("\n") + "\n").unwrap();
        // The cluster answers at start, then every bulk request is cut.
        let proxy = HttpProxy::start(&cluster.url);
        proxy.set(Mode::Cut);
        let args = [
            "replay",
            "dl.ndjson",
            "--dead-letters",
            "new.ndjson",
            "--retry-timeout",
            "2",
            "--batch-events",
            "20",
        ];
        let run = run_in(dir.path(), &[&args[..], &["--es", &proxy.url]].concat(), &[]);
        run.expect_code(2);
        assert!(proxy.received() > 0, "bulk requests were tried");
        assert!(run.stderr.contains("not delivered (the cluster was unavailable): 50"), "{}", run.stderr);
        let mut new: Vec<Value> = letters(&dir.path().join("new.ndjson"));
        new.sort_by_key(|l| l["action"]["create"]["_id"].as_str().unwrap().to_string());
        let mut old: Vec<Value> = lines.iter().map(|l| serde_json::from_str(l).unwrap()).collect();
        old.sort_by_key(|l| l["action"]["create"]["_id"].as_str().unwrap().to_string());
        assert_eq!(new.len(), 50);
        for (old, new) in old.iter().zip(&new) {
            for key in ["file", "reason", "status", "action", "document"] {
                assert_eq!(old[key], new[key], "{key}: the letter, whole");
            }
        }
        proxy.set(Mode::Pass);
        let back = run_in(dir.path(), &["replay", "new.ndjson", "--es", &proxy.url], &[]);
        back.expect_code(0);
        assert_eq!(replayed(&back, "sent"), 50, "{}", back.stderr);
        assert_eq!(cluster.count(&p), 50, "{}", cluster.name);
        cluster.clean(&p);
    }
}
