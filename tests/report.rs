//! `report` from files (docs/guides/report.md), no server: the numbers of the corpus against counts made here
//! from the parsed events, the page self-contained with planted markup shown as text, the flags
//! (filters, redaction, `--with-reads`, `--launch-event`, the config file) and files written 0600.

use crate::util::{corpus, events, run_in, write_gz};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Runs `report ARGS --html DIR/r.html --json DIR/r.json`; returns the JSON and the page.
pub fn report(dir: &Path, args: &[&str], code: i32) -> (Value, String) {
    let (html, json) = (dir.join("r.html"), dir.join("r.json"));
    let mut all: Vec<&str> = vec!["report"];
    all.extend(args);
    all.extend(["--html", html.to_str().unwrap(), "--json", json.to_str().unwrap()]);
    run_in(dir, &all, &[]).expect_code(code);
    let value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    (value, std::fs::read_to_string(&html).unwrap())
}

fn text<'a>(e: &'a Value, path: &str) -> Option<&'a str> {
    path.split('.').try_fold(e, |v, k| v.get(k)).and_then(Value::as_str)
}

#[test]
fn the_corpus_report_counts_what_the_events_hold() {
    let dir = tempfile::tempdir().unwrap();
    let (r, page) = report(dir.path(), &[corpus().to_str().unwrap()], 0);
    let evs = events(&corpus());
    let count = |f: &dyn Fn(&Value) -> bool| evs.iter().filter(|e| f(e)).count() as u64;
    assert_eq!(r["events"], json!(evs.len()));
    assert_eq!(r["counts"]["console"], json!(7_434), "the --console-only rule");
    assert_eq!(r["counts"]["errors"], json!(count(&|e| text(e, "errorCode").is_some())));
    assert_eq!(r["counts"]["sign_ins"], json!(count(&|e| text(e, "eventName") == Some("ConsoleLogin"))));
    let denied = |e: &Value| {
        text(e, "errorCode")
            .is_some_and(|c| c.contains("AccessDenied") || c.contains("UnauthorizedOperation"))
    };
    assert_eq!(r["counts"]["access_denied"], json!(count(&denied)));
    let accounts: BTreeSet<&str> = evs.iter().filter_map(|e| text(e, "recipientAccountId")).collect();
    assert_eq!(r["distinct"]["accounts"], json!({"count": accounts.len(), "exact": true}));
    // The top regions, most frequent first, ties by name; the rest as others.
    let mut regions: BTreeMap<&str, u64> = BTreeMap::new();
    evs.iter().filter_map(|e| text(e, "awsRegion")).for_each(|r| *regions.entry(r).or_default() += 1);
    let mut sorted: Vec<(&str, u64)> = regions.into_iter().collect();
    sorted.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let want: Vec<Value> = sorted.iter().take(10).map(|(k, n)| json!({"key": [k], "count": n})).collect();
    assert_eq!(r["tables"]["regions"]["rows"], json!(want));
    let rest: u64 = sorted.iter().skip(10).map(|(_, n)| n).sum();
    assert_eq!(r["tables"]["regions"]["others"], json!(rest));
    // The console pie adds up to the console operations (events without an ARN are a slice).
    let pie = &r["tables"]["console_users"];
    let sum: u64 = pie["rows"].as_array().unwrap().iter().map(|x| x["count"].as_u64().unwrap()).sum();
    assert_eq!(sum + pie["others"].as_u64().unwrap(), 7_434);
    // Launches: every RunInstances of the corpus is listed, latest first.
    let runs = count(&|e| text(e, "eventName") == Some("RunInstances"));
    let listed = r["launches"].as_array().unwrap();
    assert_eq!(listed.iter().filter(|l| l["action"] == "RunInstances").count() as u64, runs);
    assert!(listed.windows(2).all(|w| w[0]["time"].as_str() >= w[1]["time"].as_str()));
    assert!(page.contains("default-src 'none'") && page.contains("id=\"console-actions\""));
    for external in ["<script", "<link", " src=", "url(", "@import", "href=\"http"] {
        assert!(!page.contains(external), "the page holds {external}");
    }
}

/// A log file whose user agent, bucket and user names are markup.
pub fn planted(dir: &Path) {
    let evil = r#"<script>alert(1)</script>"><img src=x onerror=alert(2)>"#;
    let event = |name: &str, extra: Value| {
        let mut e = json!({
            "eventVersion": "1.08", "eventTime": "2024-05-01T10:00:00Z", "eventSource": "s3.amazonaws.com",
            "eventName": name, "awsRegion": "us-east-1", "sourceIPAddress": "203.0.113.7",
            "userAgent": format!("Mozilla/5.0 {evil}"), "eventID": format!("id-{name}"),
            "readOnly": false, "recipientAccountId": "111122223333",
            "userIdentity": {"type": "IAMUser", "arn": format!("arn:aws:iam::111122223333:user/{evil}"),
                             "userName": evil, "accessKeyId": "AKIAPLANTEDKEY000001"},
            "requestParameters": {"bucketName": evil}
        });
        e.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        e
    };
    let records = json!({"Records": [
        event("CreateBucket", json!({})),
        event("DeleteBucket", json!({"errorCode": evil})),
        event("ConsoleLogin", json!({"eventType": "AwsConsoleSignIn", "readOnly": null,
                                     "responseElements": {"ConsoleLogin": "Failure"}})),
    ]});
    write_gz(&dir.join("logs/planted.json.gz"), records.to_string().as_bytes());
}

#[test]
fn planted_markup_shows_as_text() {
    let dir = tempfile::tempdir().unwrap();
    planted(dir.path());
    let (r, page) = report(dir.path(), &["logs", "--redact", "userIdentity.accessKeyId"], 0);
    assert_eq!(r["events"], json!(3));
    assert_eq!(
        r["launches"][0]["resource"].as_str().unwrap(),
        r#"<script>alert(1)</script>"><img src=x onerror=alert(2)>"#
    );
    assert!(!page.contains("<script") && !page.contains("<img"), "markup from events is escaped");
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src=x onerror=alert(2)&gt;")
    );
    assert!(
        !page.contains("AKIAPLANTEDKEY000001") && r["distinct"]["access_keys"]["count"] == json!(0),
        "redacted"
    );
    let mode = std::fs::metadata(dir.path().join("r.html")).unwrap();
    #[cfg(unix)]
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777, 0o600);
    let _ = mode;
}

#[test]
fn flags_and_the_config_file_choose_what_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    planted(dir.path());
    let (r, _) =
        report(dir.path(), &["logs", "--console-only", "--with-reads", "--launch-event", "DeleteBucket"], 0);
    assert_eq!(r["events"], json!(3), "all three are console operations (a browser's user agent)");
    assert_eq!(r["about"]["launch_events"], json!(["DeleteBucket"]));
    assert_eq!(r["launches"][0]["action"], "DeleteBucket");
    assert_eq!(r["counts"]["activity"], json!(3), "--with-reads: sign-ins count too");
    let (r, _) = report(dir.path(), &["logs", "--exclude", "eventName=Delete*"], 0);
    assert_eq!((r["events"].clone(), r["counts"]["activity"].clone()), (json!(2), json!(1)));
    std::fs::write(
        dir.path().join("c.toml"),
        "[report]\nwith-reads = true\nlaunch-event = [\"ConsoleLogin\"]\n",
    )
    .unwrap();
    let (r, _) = report(dir.path(), &["logs", "--config", "c.toml"], 0);
    assert_eq!(
        (r["about"]["with_reads"].clone(), r["launches"][0]["action"].clone()),
        (json!(true), json!("ConsoleLogin"))
    );
    assert_eq!(r["counts"]["sign_ins_failed"], json!(1));
    // A report from the cluster counts what is indexed: file filters are refused before anything runs.
    let html = dir.path().join("x.html");
    let refused =
        run_in(dir.path(), &["report", "--html", html.to_str().unwrap(), "--include", "eventName=X"], &[]);
    assert!(refused.code == 1 && refused.stderr.contains("apply to files"), "{}", refused.stderr);
    assert!(!html.exists());
}
