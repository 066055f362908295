//! The dead-letter file can always be read back and replayed (docs/design/reliability.md): a 100,000-deep
//! record is kept as raw text that Python and jq read, invalid UTF-8 keeps its bytes, an over-long record is
//! bounded, and a write that fails (the file size limit standing in for a full disk) leaves only whole
//! letters, exactly as many as the summary counts.

use crate::util::{run_in, write_gz};
use serde_json::Value;
use std::path::Path;
use std::process::Stdio;

fn letters(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.is_empty() || text.ends_with('\n'));
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:.300}"))).collect()
}

/// Runs `program ARGS < path` and fails the test unless it succeeds.
fn reads(path: &Path, program: &str, args: &[&str]) {
    let out = std::process::Command::new(program)
        .args(args)
        .stdin(std::fs::File::open(path).unwrap())
        .stdout(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} cannot read the dead letters: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn decode_base64(text: &str) -> Vec<u8> {
    let out = std::process::Command::new("python3")
        .args(["-c", "import base64,sys; sys.stdout.buffer.write(base64.b64decode(sys.argv[1]))", text])
        .output()
        .unwrap();
    out.stdout
}

#[test]
fn deep_invalid_and_huge_records_are_kept_readable_and_exact() {
    let dir = tempfile::tempdir().unwrap();
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let not_utf8 = b"{\"eventTime\":\"2024-05-01T00:00:00Z\",\"k\":\"\xff\xfe latin-1\"}".to_vec();
    let huge = format!(r#"{{"eventName":"NoTime","pad":"{}"}}"#, "x".repeat(3 << 20));
    let mut doc = b"{\"Records\":[".to_vec();
    for (i, record) in [deep.as_bytes(), &not_utf8, huge.as_bytes()].iter().enumerate() {
        if i > 0 {
            doc.push(b',');
        }
        doc.extend_from_slice(record);
    }
    doc.extend_from_slice(b"]}");
    write_gz(&dir.path().join("in/x.json.gz"), &doc);
    let run = run_in(dir.path(), &["backfill", "in", "-o", "out.ndjson"], &[]);
    run.expect_code(2);
    let path = dir.path().join("cloudtrail-es-dead-letters.ndjson");
    reads(&path, "python3", &["-c", "import json,sys\nfor l in sys.stdin: json.loads(l)"]);
    reads(&path, "jq", &["-c", "."]);
    let letters = letters(&path);
    assert_eq!(letters.len(), 3, "{}", run.stderr);
    assert_eq!(letters[0]["raw"].as_str(), Some(deep.as_str()), "the deep record, as text, exactly");
    assert_eq!(decode_base64(letters[1]["raw_base64"].as_str().unwrap()), not_utf8, "its bytes, exactly");
    assert_eq!(letters[2]["truncated"]["bytes"].as_u64(), Some(huge.len() as u64));
    assert!(std::fs::metadata(&path).unwrap().len() < 2 << 20, "bounded");
}

#[test]
fn a_failing_write_leaves_whole_letters_only_and_counts_them_right() {
    let dir = tempfile::tempdir().unwrap();
    // Letters of many sizes, so that after a refused big one a small one fits again.
    let records: Vec<String> = (0..300)
        .map(|i| format!(r#"{{"eventName":"NoTime{i}","pad":"{}"}}"#, "y".repeat((i * 7919) % 20_000)))
        .collect();
    write_gz(&dir.path().join("in/x.json.gz"), format!("{{\"Records\":[{}]}}", records.join(",")).as_bytes());
    let bin = env!("CARGO_BIN_EXE_cloudtrail-es");
    // The file size limit makes writes fail as a full disk does (SIGXFSZ ignored: an error instead).
    let script = format!("trap '' XFSZ; ulimit -f 512; exec '{bin}' backfill in -o - --readers 1");
    let run = std::process::Command::new("sh")
        .args(["-c", &script])
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    let letters = letters(&dir.path().join("cloudtrail-es-dead-letters.ndjson"));
    let count = |what: &str| -> usize {
        let line = stderr.lines().find(|l| l.starts_with("events:")).unwrap_or_else(|| panic!("{stderr}"));
        let before = line.split(&format!(" {what}")).next().unwrap();
        before.rsplit(' ').next().unwrap().parse().unwrap_or_else(|_| panic!("{line}"))
    };
    assert!(stderr.contains("cannot write dead letter"), "some writes failed: {stderr}");
    assert_eq!(letters.len(), count("dead-lettered"), "every letter counted is in the file, whole");
    assert_eq!(letters.len() + count("failed"), 300, "{stderr}");
    assert!(letters.len() > 10 && count("failed") > 10, "{} written", letters.len());
    let names: std::collections::HashSet<&str> =
        letters.iter().map(|l| l["document"]["eventName"].as_str().unwrap()).collect();
    assert_eq!(names.len(), letters.len(), "no letter written twice");
}

#[test]
fn dead_letter_max_bytes_sets_what_a_letter_keeps_whole() {
    let dir = tempfile::tempdir().unwrap();
    let record = format!(r#"{{"eventName":"NoTime","pad":"{}"}}"#, "x".repeat(20_000));
    write_gz(&dir.path().join("in/x.json.gz"), format!(r#"{{"Records":[{record}]}}"#).as_bytes());
    for (flags, whole) in [(&["--dead-letter-max-bytes", "8192"][..], false), (&[][..], true)] {
        let path = dir.path().join(format!("dl-{whole}.ndjson"));
        let mut args = vec!["backfill", "in", "-o", "out.ndjson", "--dead-letter", path.to_str().unwrap()];
        args.extend(flags);
        run_in(dir.path(), &args, &[]).expect_code(2);
        let letter = &letters(&path)[0];
        if whole {
            assert_eq!(letter["document"], serde_json::from_str::<Value>(&record).unwrap(), "kept whole");
        } else {
            assert_eq!(letter["truncated"]["bytes"].as_u64(), Some(record.len() as u64), "{letter}");
            assert!(letter.get("document").is_none(), "{letter}");
        }
    }
}
