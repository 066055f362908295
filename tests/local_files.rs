//! Reading local files into `--output` NDJSON: every kind of broken file is reported by path and
//! reason while the rest of the run goes on; digests are skipped; the output is valid bulk NDJSON.

use crate::util::{run_in, write_gz};
use serde_json::Value;
use std::path::Path;

const GOOD: &str = r#"{"Records":[{"eventID":"e1","eventTime":"2024-05-01T10:00:00Z","eventName":"A"},
{"eventID":"e2","eventTime":"2024-05-02T10:00:00Z","eventName":"B"}]}"#;

fn write(dir: &Path, name: &str, data: &[u8]) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, data).unwrap();
}

/// A folder with one good file and one of every kind of broken file.
fn broken_folder(dir: &Path) {
    write_gz(&dir.join("good.json.gz"), GOOD.as_bytes());
    let mut truncated = Vec::new();
    {
        let big: String = (0..200)
            .map(|i| {
                format!(
                    r#"{{"eventID":"t{i}","eventTime":"2024-05-01T00:00:00Z","pad":"{}"}}"#,
                    "x".repeat(i)
                )
            })
            .collect::<Vec<_>>()
            .join(",");
        let tmp = dir.join("tmp.gz");
        write_gz(&tmp, format!(r#"{{"Records":[{big}]}}"#).as_bytes());
        truncated.extend_from_slice(&std::fs::read(&tmp).unwrap());
        std::fs::remove_file(tmp).unwrap();
    }
    truncated.truncate(truncated.len() / 2);
    write(dir, "truncated.json.gz", &truncated);
    write(dir, "notjson.json", b"hello, world");
    write(dir, "invalid.json", br#"{"Records":[{"eventID":"x","eventTime":"2024-05-01T00:00:00Z",}]}"#);
    write(dir, "norecords.json", br#"{"foo":[]}"#);
    write(dir, "recordsobject.json", br#"{"Records":{"a":1}}"#);
    write(dir, "empty.json", b"");
    write(dir, "notobject.json", br#"{"Records":[42,{"eventID":"ok1","eventTime":"2024-05-03T00:00:00Z"}]}"#);
    write(dir, "notime.json", br#"{"Records":[{"eventID":"nt","eventName":"X"}]}"#);
    write(dir, "nul.json", b"{\"Records\":[\0\0]}");
    write(dir, "comment.json", b"/* exported */ {\"Records\":[]}");
    write_gz(
        &dir.join("AWSLogs/1/CloudTrail-Digest/us-east-1/2024/05/01/d.json.gz"),
        br#"{"digestStartTime":"2024-05-01T00:00:00Z","logFiles":[]}"#,
    );
    write(dir, "digest-by-content.json", br#"{"awsAccountId":"1","digestStartTime":"2024-05-01T00:00:00Z"}"#);
    // Hidden: left out, but counted (a folder once, whatever it holds).
    write(dir, ".hidden.json", br#"{"Records":[{"eventID":"h1","eventTime":"2024-05-01T00:00:00Z"}]}"#);
    write(
        dir,
        ".git/objects/x.json",
        br#"{"Records":[{"eventID":"h2","eventTime":"2024-05-01T00:00:00Z"}]}"#,
    );
}

fn output_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn every_broken_file_is_reported_and_the_rest_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    broken_folder(&input);
    let out = dir.path().join("out.ndjson");
    let run =
        run_in(dir.path(), &["backfill", input.to_str().unwrap(), "--output", out.to_str().unwrap()], &[]);
    run.expect_code(2);
    let expectations = [
        ("truncated.json.gz", "truncated gzip data: the file ends inside gzip member 1"),
        ("notjson.json", "neither gzip nor a JSON object"),
        ("invalid.json", "invalid JSON"),
        ("norecords.json", "no \"Records\" array"),
        ("recordsobject.json", "\"Records\" is an object, not an array"),
        ("empty.json", "empty file"),
        ("notobject.json", "record 0: record is a number, not a JSON object"),
        ("notime.json", "record 0: event has neither eventTime nor @timestamp"),
        ("nul.json", "expected a value, found a NUL byte"),
        ("comment.json", "starts with a comment"),
    ];
    for (file, reason) in expectations {
        let line = run
            .stderr
            .lines()
            .find(|l| l.contains(file))
            .unwrap_or_else(|| panic!("{file} not reported:\n{}", run.stderr));
        assert!(line.contains(reason), "{file}: {line}");
    }
    for digest in ["/d.json.gz", "digest-by-content.json"] {
        assert!(!run.stderr.contains(digest), "digest files are skipped quietly:\n{}", run.stderr);
    }
    assert!(run.stderr.contains("2 skipped (digest or not a log)"), "{}", run.stderr);
    assert!(run.stderr.contains("2 hidden files or folders (.name) left out"), "{}", run.stderr);

    let lines = output_lines(&out);
    let ids: Vec<&str> = lines.iter().filter_map(|l| l["create"]["_id"].as_str()).collect();
    assert!(!ids.contains(&"h1") && !ids.contains(&"h2"), "hidden files are not read: {ids:?}");
    for id in ["e1", "e2", "ok1"] {
        assert!(ids.contains(&id), "{id} missing from output: {ids:?}");
    }
    assert!(!ids.iter().any(|id| id.starts_with('t')), "a truncated member's events are held back: {ids:?}");
    let dead = std::fs::read_to_string(dir.path().join("cloudtrail-es-dead-letters.ndjson")).unwrap();
    let dead: Vec<Value> = dead.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let reasons: Vec<&str> = dead.iter().map(|d| d["reason"].as_str().unwrap()).collect();
    assert!(reasons.iter().any(|r| r.contains("not a JSON object")), "{reasons:?}");
    let no_time = dead.iter().find(|d| d["reason"].as_str().unwrap().contains("eventTime")).unwrap();
    assert_eq!(no_time["document"]["eventID"], "nt", "the event itself is kept");
    assert!(no_time["file"].as_str().unwrap().ends_with("notime.json"));
    assert!(run.stderr.contains("dead letters: cloudtrail-es-dead-letters.ndjson"), "{}", run.stderr);
}

#[test]
fn output_is_bulk_ndjson_with_every_source_field_and_timestamp() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "in/plain.json", format!("\u{feff}{GOOD}").as_bytes());
    let run = run_in(dir.path(), &["backfill", "in", "--output", "-", "--index-prefix", "ct"], &[]);
    run.expect_code(0);
    let lines: Vec<Value> = run.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0], serde_json::json!({"create":{"_index":"ct-2024.05.01","_id":"e1"}}));
    assert_eq!(
        lines[1],
        serde_json::json!({"@timestamp":"2024-05-01T10:00:00Z","eventID":"e1","eventTime":"2024-05-01T10:00:00Z","eventName":"A"})
    );
    assert_eq!(lines[2]["create"]["_index"], "ct-2024.05.02");
    assert!(run.stderr.contains("2 read: 2 indexed"), "{}", run.stderr);
}

#[test]
fn corpus_to_output_keeps_every_event() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.ndjson");
    let run = run_in(
        dir.path(),
        &["backfill", crate::util::corpus().to_str().unwrap(), "-o", out.to_str().unwrap()],
        &[],
    );
    run.expect_code(0);
    let lines = output_lines(&out);
    assert_eq!(lines.len(), 2 * 11_799);
    let docs = lines.iter().skip(1).step_by(2);
    assert!(docs.clone().all(|d| d["@timestamp"].is_string()), "every document has @timestamp");
    let otrf = docs.filter(|d| d.get("@version").is_some()).count();
    assert_eq!(otrf, 103, "events that only had @timestamp keep it and are not dropped");
}

#[test]
fn a_missing_source_is_an_error_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_in(dir.path(), &["backfill", "nope/", "--output", "-"], &[]);
    run.expect_code(1);
    assert!(run.stderr.contains("nope/"), "{}", run.stderr);
}

#[test]
fn a_config_file_sets_flags_and_flags_win() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "in/a.json", GOOD.as_bytes());
    let config = "index-prefix = \"from-file\"\n[backfill]\noutput = \"file.ndjson\"\n";
    write(dir.path(), "c.toml", config.as_bytes());
    run_in(dir.path(), &["backfill", "in", "--config", "c.toml"], &[]).expect_code(0);
    let lines = output_lines(&dir.path().join("file.ndjson"));
    assert_eq!(lines[0]["create"]["_index"], "from-file-2024.05.01");
    run_in(dir.path(), &["backfill", "in", "--index-prefix", "flag"], &[("CLOUDTRAIL_ES_CONFIG", "c.toml")])
        .expect_code(0);
    assert_eq!(output_lines(&dir.path().join("file.ndjson"))[0]["create"]["_index"], "flag-2024.05.01");
    write(dir.path(), "bad.toml", b"index-prefx = \"x\"\n");
    let bad = run_in(dir.path(), &["backfill", "in", "--config", "bad.toml"], &[]);
    bad.expect_code(1);
    assert!(bad.stderr.contains("--config bad.toml: unknown key `index-prefx`"), "{}", bad.stderr);
}

/// A gzip file stored without compression, so that flipping one byte of an event changes only
/// the text, and gzip's checksum is what finds it.
fn flipped_gzip(text: &str, needle: &str) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::none());
    enc.write_all(text.as_bytes()).unwrap();
    let mut gz = enc.finish().unwrap();
    let at = gz.windows(needle.len()).position(|w| w == needle.as_bytes()).unwrap();
    gz[at] ^= 0x01;
    gz
}

#[test]
fn no_event_of_a_gzip_member_with_a_bad_checksum_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let events: Vec<String> = (0..300)
        .map(|i| format!(r#"{{"eventID":"c{i}","eventTime":"2024-05-01T00:00:00Z","eventName":"E{i}"}}"#))
        .collect();
    let text = format!(r#"{{"Records":[{}]}}"#, events.join(","));
    write(dir.path(), "in/flipped.json.gz", &flipped_gzip(&text, "E250"));
    write(dir.path(), "in/good.json", GOOD.as_bytes());
    let run = run_in(dir.path(), &["backfill", "in", "--output", "out.ndjson"], &[]);
    run.expect_code(2);
    let line = run
        .stderr
        .lines()
        .find(|l| l.contains("flipped.json.gz"))
        .unwrap_or_else(|| panic!("{}", run.stderr));
    assert!(line.contains("corrupt gzip data in member 1"), "{line}");
    let ids = crate::util::output_ids(&dir.path().join("out.ndjson"));
    assert_eq!(ids, vec!["e1", "e2"], "only the good file's events");
}

#[test]
fn padding_or_junk_after_a_complete_trail_file_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let gz = |tail: &[u8]| {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(GOOD.as_bytes()).unwrap();
        let mut bytes = enc.finish().unwrap();
        bytes.extend_from_slice(tail);
        bytes
    };
    write(dir.path(), "in/zeros.json.gz", &gz(&[0; 4096]));
    write(dir.path(), "in/junk.json.gz", &gz(b"\x00garbage\xff"));
    let run = run_in(dir.path(), &["backfill", "in", "--output", "out.ndjson"], &[]);
    run.expect_code(0);
    assert!(run.stderr.contains("2 read"), "{}", run.stderr);
    let mut ids = crate::util::output_ids(&dir.path().join("out.ndjson"));
    ids.sort();
    assert_eq!(ids, vec!["e1", "e1", "e2", "e2"]);
}

/// `--output` (a dry run) writes each event as CloudTrail wrote it: every event of the real corpus
/// and of the log-kind fixtures (values over Lucene's term up to one 200 KB leaf) is, as JSON text
/// in key order, its record plus `@timestamp`; nothing moves to `longValues` in a file.
#[test]
fn every_event_is_written_to_a_file_as_written() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let kinds = root.join("tests/corpus/kinds/AWSLogs");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.ndjson");
    let corpus = crate::util::corpus();
    let args = ["backfill", corpus.to_str().unwrap(), kinds.to_str().unwrap(), "-o", out.to_str().unwrap()];
    run_in(dir.path(), &args, &[]).expect_code(0);
    let mut records = std::collections::HashMap::new();
    for record in crate::util::events(&corpus).into_iter().chain(crate::util::events(&kinds)) {
        let id = record.get("eventID").or(record.get("eventId")).and_then(Value::as_str).unwrap().to_string();
        records.insert(id, record);
    }
    let lines = output_lines(&out);
    assert_eq!(lines.len(), 2 * records.len(), "one document per event");
    let mut long = 0;
    for pair in lines.chunks(2) {
        let record = &records[pair[0]["create"]["_id"].as_str().unwrap()];
        crate::util::written::assert_as_written(&pair[1], record, false);
        long += usize::from(pair[1].to_string().len() > 32_766);
    }
    assert_eq!(long, 4, "{long} documents over Lucene's term checked");
}
