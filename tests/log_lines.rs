//! Log lines cannot be forged (docs/design/security.md): a file name holding a line break (as an S3 key can,
//! from `%0A` in a notification) is printed escaped, inside its one line, in the text log format and in the
//! errors the binary prints before it exits.

use crate::util::run_in;

const FORGED: &str = "2024-05-01T00:00:00.000000Z ERROR forged: everything is fine";

#[test]
fn a_file_name_with_a_newline_stays_in_one_escaped_log_line() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    std::fs::write(logs.join(format!("broken\n{FORGED}.json")), b"not a log\n").unwrap();
    let run = run_in(dir.path(), &["backfill", logs.to_str().unwrap(), "-o", "out.ndjson"], &[]);
    run.expect_code(2);
    let lines: Vec<&str> = run.stderr.lines().filter(|l| l.contains("forged")).collect();
    assert_eq!(lines.len(), 1, "{}", run.stderr);
    assert!(lines[0].contains(&format!("broken\\n{FORGED}.json")), "{}", run.stderr);
    assert!(run.stderr.lines().all(|l| !l.starts_with(FORGED)), "{}", run.stderr);
}

#[test]
fn an_error_printed_at_exit_stays_on_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join(format!("missing\n{FORGED}"));
    let run = run_in(dir.path(), &["backfill", missing.to_str().unwrap(), "-o", "out.ndjson"], &[]);
    run.expect_code(1);
    assert!(run.stderr.contains(&format!("missing\\n{FORGED}")), "{}", run.stderr);
    assert!(run.stderr.lines().all(|l| !l.starts_with(FORGED)), "{}", run.stderr);
}

/// `--help` shows which environment variable a flag reads, never its value: a URL in the
/// environment may carry a password.
#[test]
fn help_never_shows_a_secret_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "help-s3cret-7731";
    let env = [
        ("ELASTICSEARCH_URL", format!("https://u:{secret}@es:9200")),
        ("KIBANA_URL", format!("https://u:{secret}@kibana:5601")),
        ("ELASTICSEARCH_PASSWORD", secret.to_string()),
        ("ELASTICSEARCH_API_KEY", secret.to_string()),
        ("KIBANA_PASSWORD", secret.to_string()),
        ("CLOUDTRAIL_ES_REDACT_KEY", secret.to_string()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    for command in ["backfill", "follow", "setup"] {
        let run = run_in(dir.path(), &[command, "--help"], &env);
        run.expect_code(0);
        assert!(run.stdout.contains("--es"), "{command} --help printed its flags: {}", run.stdout);
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret),
            "{command} --help: {}",
            run.stdout
        );
    }
}
