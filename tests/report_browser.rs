//! The report page in a real browser (docs/guides/report.md): headless Chromium (Debian's `chromium`, which
//! scripts/test.sh installs) loads it through the DevTools protocol (scripts/dev/check-report-page.py)
//! with no console error and no request but the page's own file; planted markup in event values
//! is text in the DOM, never an element; and a screenshot of the console operations charts is
//! made (docs/images/report-console-operations.png is one).

use crate::report::report;
use crate::util::corpus;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// Loads `page` in Chromium; `args` are check-report-page.py's flags.
fn load(page: &Path, args: &[&str]) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/dev/check-report-page.py");
    let out = Command::new("python3").arg(script).arg(page).args(args).output().expect("python3");
    assert!(
        out.status.success(),
        "check-report-page.py failed (is Debian's `chromium` installed? scripts/test.sh installs it):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

fn assert_quiet(seen: &Value) {
    let requests: Vec<&str> = seen["requests"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(
        !requests.is_empty() && requests.iter().all(|u| u.starts_with("file://")),
        "requests: {requests:?}"
    );
    assert_eq!(seen["console_errors"].as_array().unwrap().len(), 0, "console: {}", seen["console_errors"]);
    for (tag, n) in seen["elements"].as_object().unwrap() {
        assert_eq!(n.as_u64(), Some(0), "{tag} elements in the page");
    }
}

#[test]
fn chromium_shows_the_page_offline_and_the_console_charts() {
    let dir = tempfile::tempdir().unwrap();
    report(dir.path(), &[corpus().to_str().unwrap()], 0);
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-console-operations.png");
    let _ = std::fs::remove_file(&shot);
    let seen = load(
        &dir.path().join("r.html"),
        &["--screenshot", "console-charts", shot.to_str().unwrap(), "--text", "DescribeEventAggregates"],
    );
    assert_quiet(&seen);
    assert_eq!(seen["text_has"]["DescribeEventAggregates"], true);
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "a screenshot of the charts ({} bytes)",
        png.len()
    );
}

#[test]
fn chromium_shows_planted_markup_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let evil = r#"<script>alert(1)</script>"><img src=x onerror=alert(2)>"#;
    crate::report::planted(dir.path());
    report(dir.path(), &["logs"], 0);
    let seen = load(&dir.path().join("r.html"), &["--text", evil]);
    assert_quiet(&seen);
    assert_eq!(seen["text_has"][evil], true, "the value shows as it is");
}
