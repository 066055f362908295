//! The files that hold whole events (docs/design/security.md): `--output`, `--state` and the dead letters are
//! created readable by their owner only, and a symbolic link planted where one of them goes is
//! refused with an error naming the file, its target left untouched.

use crate::util::{run_in, write_gz};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;

fn mode(path: &Path) -> u32 {
    path.metadata().unwrap().permissions().mode() & 0o777
}

/// A log file with one good event and one without a time (a dead letter).
fn logs(dir: &Path) -> String {
    let file = dir.join("in/x.json.gz");
    let records = r#"{"Records":[{"eventID":"a","eventTime":"2024-05-01T00:00:00Z"},{"eventID":"b"}]}"#;
    write_gz(&file, records.as_bytes());
    file.to_string_lossy().into_owned()
}

#[test]
fn output_state_and_dead_letters_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let source = logs(dir.path());
    let run = run_in(dir.path(), &["backfill", &source, "-o", "out.ndjson", "--state", "st"], &[]);
    run.expect_code(2);
    for name in ["out.ndjson", "st", "cloudtrail-es-dead-letters.ndjson"] {
        assert_eq!(mode(&dir.path().join(name)), 0o600, "{name}");
    }
}

#[test]
fn planted_links_are_refused_and_their_targets_kept() {
    let dir = tempfile::tempdir().unwrap();
    let source = logs(dir.path());
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    let plant = |name: &str| {
        let link = dir.path().join(name);
        let _ = std::fs::remove_file(&link);
        symlink(&victim, &link).unwrap();
        link.to_string_lossy().into_owned()
    };

    let out = plant("out.ndjson");
    let run = run_in(dir.path(), &["backfill", &source, "-o", &out], &[]);
    run.expect_code(1);
    assert!(
        run.stderr.contains(&format!("--output {out}")) && run.stderr.contains("symbolic link"),
        "{}",
        run.stderr
    );

    let state = plant("st");
    let run = run_in(dir.path(), &["backfill", &source, "-o", "o2.ndjson", "--state", &state], &[]);
    run.expect_code(1);
    assert!(
        run.stderr.contains(&format!("--state {state}: ")) && run.stderr.contains("symbolic link"),
        "{}",
        run.stderr
    );

    // The temporary name compaction used to write through.
    plant("st2.tmp");
    plant("cloudtrail-es-dead-letters.ndjson");
    let run = run_in(dir.path(), &["backfill", &source, "-o", "o3.ndjson", "--state", "st2"], &[]);
    assert_ne!(run.code, 0);
    let refused = "cannot write dead letter to cloudtrail-es-dead-letters.ndjson: it is a symbolic link";
    assert!(run.stderr.contains(refused), "{}", run.stderr);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("st2")).unwrap_or_default().lines().count(),
        0,
        "the file with a dead letter that could not be written is not finished"
    );

    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n", "no target was written");
}
