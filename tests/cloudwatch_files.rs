//! CloudWatch Logs payloads as input (docs/design/alerts-and-cloudwatch.md): every shape a trail's events
//! take on their way through CloudWatch Logs, backfilled with `--output`, gives the same documents with the
//! same `_id`s and indices as the trail file holding the same events. The fixtures are built here from a few
//! events: one without `eventID` (its `_id` is a hash of its bytes, so any change in how a message is
//! unescaped would show) and one with escapes and non-ASCII text.

use crate::util::{run_in, write_gz};
use serde_json::{json, Value};
use std::io::Write;
use std::path::Path;

fn events() -> Vec<String> {
    vec![
        r#"{"eventVersion":"1.08","eventID":"cw-1","eventTime":"2024-05-01T10:00:00Z","eventName":"GetObject","eventSource":"s3.amazonaws.com"}"#.into(),
        r#"{"eventVersion":"1.08","eventTime":"2024-05-01T11:00:00Z","eventName":"NoId","userAgent":"aws-cli/2 \"q\" \\ caf\u00e9 é ✓"}"#.into(),
        r#"{"eventVersion":"1.08","eventID":"cw-3","eventTime":"2024-05-02T00:00:01Z","eventName":"PutObject","requestParameters":{"key":"a/b","n":[1,2.5,null,true]}}"#.into(),
        r#"{"eventVersion":"1.08","eventID":"cw-4","eventTime":"2024-05-03T23:59:59Z","eventName":"ConsoleLogin"}"#.into(),
    ]
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// A subscription payload, keys in the order CloudWatch Logs writes them.
fn payload(messages: &[String]) -> String {
    let log_events: Vec<String> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            format!(
                r#"{{"id":"3817{i}","timestamp":{},"message":{}}}"#,
                1714557600000u64 + i as u64,
                json!(m)
            )
        })
        .collect();
    format!(
        r#"{{"messageType":"DATA_MESSAGE","owner":"123456789012","logGroup":"aws-cloudtrail-logs","logStream":"123456789012_CloudTrail_us-east-1","subscriptionFilters":["to-firehose"],"logEvents":[{}]}}"#,
        log_events.join(",")
    )
}

const CONTROL: &str = r#"{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[],"logEvents":[{"id":"","timestamp":1714557600000,"message":"CWL CONTROL MESSAGE: Checking health of destination Firehose."}]}"#;

fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            out.push(if i <= chunk.len() {
                ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char
            } else {
                '='
            });
        }
    }
    out
}

/// The (action, document) pairs of a `--output` file, sorted.
fn backfill(dir: &Path, source: &Path) -> Vec<(Value, Value)> {
    let out = dir.join(format!("{}.ndjson", source.file_name().unwrap().to_string_lossy()));
    let run = run_in(dir, &["backfill", source.to_str().unwrap(), "--output", out.to_str().unwrap()], &[]);
    run.expect_code(0);
    let text = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let mut pairs: Vec<(Value, Value)> = lines.chunks(2).map(|p| (p[0].clone(), p[1].clone())).collect();
    pairs.sort_by_key(|(action, _)| action.to_string());
    pairs
}

#[test]
fn every_cloudwatch_logs_shape_gives_the_trail_file_s_documents() {
    let dir = tempfile::tempdir().unwrap();
    let all = events();
    let put = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        path.parent().unwrap().to_path_buf()
    };
    write_gz(
        &dir.path().join("trail/123_CloudTrail_us-east-1_20240501T1000Z_x.json.gz"),
        format!(r#"{{"Records":[{}]}}"#, all.join(",")).as_bytes(),
    );
    let want = backfill(dir.path(), &dir.path().join("trail"));
    assert_eq!(want.len(), 4);
    assert!(
        want.iter().any(|(a, _)| a["create"]["_id"].as_str().unwrap().len() > 20),
        "one _id is a content hash"
    );

    let (first, rest) = (payload(&all[..1]), payload(&all[1..]));
    let mut members = gz(first.as_bytes());
    members.extend(gz(CONTROL.as_bytes()));
    members.extend(gz(rest.as_bytes()));
    let lambda = json!({"awslogs": {"data": base64(&gz(payload(&all).as_bytes()))}}).to_string();
    let export: String = all.iter().map(|e| format!("2024-05-01T10:00:00.000Z {e}\n")).collect();
    let shapes = [
        ("single", put("single/firehose-1", &gz(payload(&all).as_bytes()))),
        ("concatenated", put("concatenated/firehose-2", &gz(format!("{first}{CONTROL}{rest}").as_bytes()))),
        ("multi-member gzip with a control message", put("members/firehose-3", &members)),
        ("Lambda-wrapped", put("lambda/event.json", lambda.as_bytes())),
        (
            "export task",
            put(
                "export/exportedlogs/0f1e2d3c-task/123456789012_CloudTrail_us-east-1/000000.gz",
                &gz(export.as_bytes()),
            ),
        ),
    ];
    for (shape, source) in shapes {
        assert_eq!(backfill(dir.path(), &source), want, "{shape}");
    }
}

#[test]
fn a_payload_with_only_a_control_message_indexes_nothing_and_is_no_failure() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("control"), gz(CONTROL.as_bytes())).unwrap();
    let run = run_in(dir.path(), &["backfill", "control", "--output", "out.ndjson"], &[]);
    run.expect_code(0);
    assert!(run.stderr.contains("0 read"), "{}", run.stderr);
    assert!(run.stderr.contains("1 CloudWatch Logs control messages skipped"), "counted: {}", run.stderr);
}
