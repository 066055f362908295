//! `report`'s memory bound (docs/guides/report.md, "Bounds"): on a million events, each with its own
//! principal, source address and access key, the report's peak RSS stays under 200 MB and every
//! distinct count is still exact. The input is the bench's (`scripts/gen/distinct.py`); the bench
//! (`scripts/bench/run.sh report-page`) measures a release build, this the test build (a little
//! more: 125 MB against 108). Half a minute, so in the full run only (`--features servers`), though
//! it needs no server.

use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// The bound the issue set, in MB.
const BOUND_MB: i64 = 200;
const EVENTS: u64 = 1_000_000;

#[test]
fn a_million_distinct_principals_keys_and_addresses_stay_under_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("distinct");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/gen/distinct.py");
    let gen = Command::new("python3").arg(script).arg(&input).arg(EVENTS.to_string()).output().unwrap();
    assert!(gen.status.success(), "generator failed: {}", String::from_utf8_lossy(&gen.stderr));

    let (html, json) = (dir.path().join("r.html"), dir.path().join("r.json"));
    let (input, html, json) = (input.to_str().unwrap(), html.to_str().unwrap(), json.to_str().unwrap());
    let (code, peak_mb) = peak_rss(&["-q", "report", input, "--html", html, "--json", json]);
    assert_eq!(code, 0, "report failed");
    assert!(
        peak_mb < BOUND_MB,
        "peak RSS {peak_mb} MB on {EVENTS} distinct principals (bound {BOUND_MB} MB)"
    );

    let r: Value = serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    assert_eq!(r["events"], EVENTS);
    for kind in ["principals", "access_keys", "ips"] {
        assert_eq!(r["distinct"][kind]["count"], EVENTS, "{kind}");
        assert_eq!(r["distinct"][kind]["exact"], true, "{kind}");
    }
    // The tables past their bound say so, and still add up.
    let principals = &r["tables"]["principals"];
    assert!(principals["error_bound"].as_u64().unwrap() > 0);
    let shown: u64 =
        principals["rows"].as_array().unwrap().iter().map(|row| row["count"].as_u64().unwrap()).sum();
    assert_eq!(shown + principals["others"].as_u64().unwrap(), EVENTS);
}

/// Runs `cloudtrail-es ARGS` under a small Python parent that prints its exit code and its peak RSS
/// in KB. Not spawned from this test process directly: a child's `ru_maxrss` counts the memory of
/// the process that spawned it, up to its `exec` (Linux records the old address space's high-water
/// mark then), and this one holds the other tests' data: 585 MB were reported so in the full run.
const PEAK_RSS: &str = "import resource, subprocess, sys
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)";

/// The exit code and peak RSS in MB of `cloudtrail-es ARGS` (see [`PEAK_RSS`]).
fn peak_rss(args: &[&str]) -> (i32, i64) {
    let out = Command::new("python3")
        .args(["-c", PEAK_RSS, env!("CARGO_BIN_EXE_cloudtrail-es")])
        .args(args)
        .env_remove("ELASTICSEARCH_URL")
        .output()
        .unwrap();
    assert!(out.status.success(), "python3 failed: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let mut words = text.split_whitespace().map(|w| w.parse::<i64>().unwrap());
    let (code, kb) = (words.next().unwrap(), words.next().unwrap());
    (code as i32, kb / 1024)
}
