//! A file whose damaged gzip member was too big to hold back (docs/design/reliability.md): its events were
//! sent before the checksum failed, so they may be altered. The file fails, `--state` notes that it must be
//! replaced, and the re-run of the repaired file replaces (`index`) what the first run sent instead of
//! keeping it (`create` would answer "already present").

use crate::util::{prefix, run_in, write_gz, Cluster};

/// A trail file of 40 events whose `eventName` is `name`: one gzip member of about 400 KB of text,
/// more than the decoder decompresses at a time (256 KiB), so a small hold limit streams it.
fn trail(name: &str) -> Vec<u8> {
    let pad = "p".repeat(10_000);
    let records: Vec<String> = (0..40)
        .map(|i| {
            format!(r#"{{"eventID":"rep-{i}","eventTime":"2024-05-01T10:00:{i:02}Z","eventName":"{name}","requestParameters":{{"pad":"{pad}"}}}}"#)
        })
        .collect();
    format!(r#"{{"Records":[{}]}}"#, records.join(",")).into_bytes()
}

/// The damaged copy of the trail: its CRC is wrong, so its content ("Altered") is what a bit flip
/// would have made.
fn write_damaged(file: &std::path::Path) {
    write_gz(file, &trail("Altered"));
    let mut bytes = std::fs::read(file).unwrap();
    let crc = bytes.len() - 8;
    bytes[crc] ^= 0xff;
    std::fs::write(file, &bytes).unwrap();
}

#[test]
fn a_rerun_replaces_events_sent_before_a_damaged_member_failed_its_checksum() {
    let (cluster, p, dir) = (Cluster::es(), prefix("replace"), tempfile::tempdir().unwrap());
    let file = dir.path().join("in/111122223333_CloudTrail_us-east-1_20240501T1000Z_x.json.gz");
    write_damaged(&file);
    let state = dir.path().join("state");
    let state_arg = state.to_str().unwrap();
    let args = [
        "backfill",
        "in",
        "--es",
        &cluster.url,
        "--index-prefix",
        &p,
        "--state",
        state_arg,
        "--gzip-hold-bytes",
        "100",
    ];
    let first = run_in(dir.path(), &args, &[]);
    first.expect_code(2);
    assert!(first.stderr.contains("40 of them came from the damaged gzip member"), "{}", first.stderr);
    let journal = std::fs::read_to_string(&state).unwrap();
    assert!(journal.contains("\"replace\""), "the re-run must replace: {journal}");
    let search = |name: &str| {
        let body = format!(r#"{{"query":{{"term":{{"eventName":"{name}"}}}}}}"#);
        cluster.post(&format!("/{p}-*/_count"), &body)["count"].as_u64().unwrap()
    };
    cluster.post(&format!("/{p}-*/_refresh"), "");
    assert_eq!(search("Altered"), 40, "the unverified events went in");

    // The repaired file, read again.
    write_gz(&file, &trail("Original"));
    let rerun = run_in(dir.path(), &args, &[]);
    rerun.expect_code(0);
    cluster.post(&format!("/{p}-*/_refresh"), "");
    let (original, altered, total) = (search("Original"), search("Altered"), cluster.count(&p));
    let journal = std::fs::read_to_string(&state).unwrap();
    cluster.clean(&p);
    assert_eq!((original, altered, total), (40, 0, 40), "replaced, not kept and not duplicated");
    assert!(!journal.contains("\"replace\"") && journal.contains("x.json.gz"), "finished: {journal}");
}

#[test]
fn a_damaged_member_small_enough_to_hold_sends_nothing() {
    let (cluster, p, dir) = (Cluster::es(), prefix("replacehold"), tempfile::tempdir().unwrap());
    let file = dir.path().join("in/x.json.gz");
    write_damaged(&file);
    let state = dir.path().join("state");
    let args =
        ["backfill", "in", "--es", &cluster.url, "--index-prefix", &p, "--state", state.to_str().unwrap()];
    let run = run_in(dir.path(), &args, &[]);
    let count = cluster.count(&p);
    cluster.clean(&p);
    run.expect_code(2);
    assert_eq!(count, 0, "held until the checksum, which failed: nothing sent");
    assert!(!std::fs::read_to_string(&state).unwrap_or_default().contains("replace"));
}
