//! `report --rules` (docs/guides/report.md), no server: the findings section counts exactly the findings
//! `backfill --rules` writes for the same files (the same evaluator, by rule and level, each rule
//! with its author); markup planted in a matched event or in a rule shows as text; the rules come
//! from the flag or the config file; a rule that cannot be used, or `--rules` with
//! `--console-only` from a cluster, stops the report before anything is written.

use crate::report::report;
use crate::util::{backfill_findings, run_in, write_gz};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn sigma_corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/sigma/events.json")
}

/// The findings `backfill --rules builtin --output FILE` writes for `source`, counted by rule:
/// `[title, level, author, id]` → findings.
fn by_rule(dir: &Path, source: &Path) -> BTreeMap<Vec<String>, u64> {
    let mut found = BTreeMap::new();
    for finding in backfill_findings(dir, source) {
        let key =
            ["title", "level", "author", "id"].map(|k| finding["rule"][k].as_str().unwrap().to_string());
        *found.entry(key.to_vec()).or_default() += 1;
    }
    found
}

#[test]
fn the_findings_section_counts_what_backfill_finds() {
    let dir = tempfile::tempdir().unwrap();
    let source = sigma_corpus();
    let want = by_rule(dir.path(), &source);
    let total: u64 = want.values().sum();
    assert!(want.len() >= 57 && total >= 57, "every bundled rule fires on its event: {want:?}");
    let (r, page) = report(dir.path(), &[source.to_str().unwrap(), "--rules", "builtin"], 0);
    let f = &r["findings"];
    assert_eq!(f["total"], json!(total));
    for level in ["informational", "low", "medium", "high", "critical"] {
        let n: u64 = want.iter().filter(|(k, _)| k[1] == level).map(|(_, n)| n).sum();
        assert_eq!(f["levels"][level], json!(n), "{level}");
    }
    // The rules, most findings first, ties by key; the rest as others.
    let mut sorted: Vec<(&Vec<String>, &u64)> = want.iter().collect();
    sorted.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let rows: Vec<Value> = sorted.iter().take(50).map(|(k, n)| json!({"key": k, "count": n})).collect();
    assert_eq!(f["rules"]["rows"], json!(rows));
    let rest: u64 = sorted.iter().skip(50).map(|(_, n)| **n).sum();
    assert_eq!(f["rules"]["others"], json!(rest));
    assert!(want.keys().all(|k| !k[2].is_empty()), "every bundled rule has its author");
    let by_principal: u64 =
        f["principals"]["rows"].as_array().unwrap().iter().map(|r| r["count"].as_u64().unwrap()).sum();
    assert_eq!(by_principal + f["principals"]["others"].as_u64().unwrap(), total);
    assert!(page.contains("id=\"findings\"") && page.contains("href=\"#findings\""));
    let author = &sorted[0].0[2];
    assert!(page.contains(&author.replace('&', "&amp;").replace('<', "&lt;")), "the author is on the page");

    // Without --rules there is no findings section.
    let (r, page) = report(dir.path(), &[source.to_str().unwrap()], 0);
    assert!(r.get("findings").is_none() && !page.contains("id=\"findings\""));
    // From the config file.
    std::fs::write(dir.path().join("c.toml"), "[report]\nrules = [\"builtin\"]\n").unwrap();
    let (r, _) = report(dir.path(), &[source.to_str().unwrap(), "--config", "c.toml"], 0);
    assert_eq!(r["findings"]["total"], json!(total));
}

#[test]
fn planted_markup_in_findings_shows_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let rule = "title: '<b>Trail</b> stopped <script>alert(3)</script>'\n\
                id: 7c1d9e4b-0000-4000-8000-000000000001\n\
                author: '<img src=x onerror=alert(4)>'\n\
                level: high\n\
                logsource:\n    product: aws\n    service: cloudtrail\n\
                detection:\n    selection:\n        eventName: StopLogging\n    condition: selection\n";
    std::fs::write(dir.path().join("rule.yml"), rule).unwrap();
    let stop = json!({"eventVersion": "1.11", "eventTime": "2024-05-01T10:00:00Z", "eventID": "planted-stop",
        "eventSource": "cloudtrail.amazonaws.com", "eventName": "StopLogging", "awsRegion": "us-east-1",
        "userIdentity": {"type": "IAMUser", "arn": "<script>alert(1)</script>\"><img src=x onerror=alert(2)>"}});
    std::fs::create_dir(dir.path().join("logs")).unwrap();
    write_gz(&dir.path().join("logs/planted.json.gz"), json!({"Records": [stop]}).to_string().as_bytes());
    let (r, page) = report(dir.path(), &["logs", "--rules", "rule.yml"], 0);
    let f = &r["findings"];
    assert_eq!((f["total"].clone(), f["levels"]["high"].clone()), (json!(1), json!(1)));
    assert_eq!(f["rules"]["rows"][0]["key"][2], "<img src=x onerror=alert(4)>", "the author, as written");
    assert_eq!(
        f["principals"]["rows"][0]["key"][1],
        "<script>alert(1)</script>\"><img src=x onerror=alert(2)>"
    );
    assert!(!page.contains("<script") && !page.contains("<img") && !page.contains("<b>Trail"), "escaped");
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src=x onerror=alert(2)&gt;")
    );
    assert!(
        page.contains("&lt;b&gt;Trail&lt;/b&gt; stopped")
            && page.contains("&lt;img src=x onerror=alert(4)&gt;")
    );
}

#[test]
fn rules_that_cannot_be_used_stop_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("r.html");
    let source = sigma_corpus();
    let run = run_in(
        dir.path(),
        &["report", source.to_str().unwrap(), "--rules", "missing.yml", "--html", html.to_str().unwrap()],
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(!html.exists());
    // From a cluster the indexed findings cannot be narrowed to console operations.
    let args = ["report", "--rules", "builtin", "--console-only", "--html", html.to_str().unwrap()];
    let refused = run_in(dir.path(), &args, &[]);
    assert!(refused.code == 1 && refused.stderr.contains("--console-only"), "{}", refused.stderr);
    assert!(!html.exists());
}
