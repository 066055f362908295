//! `report`'s memory bound (docs/guides/report.md, "Bounds"): on a million events, each with its own
//! principal, source address and access key, the report's peak RSS stays under 200 MB and every
//! distinct count is still exact. The input is the bench's (`scripts/gen/distinct.py`); the bench
//! (`scripts/bench/run.sh report-page`) measures a release build, this the test build (a little
//! more: 125 MB against 108). Half a minute, so in the full run only (`--features servers`), though
//! it needs no server.

use crate::util::command;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};

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
    let args = ["-q", "report", input, "--html", html, "--json", json];
    // Reaped by `wait4` below, which std's `wait` would not let us read the peak of.
    #[allow(clippy::zombie_processes)]
    let child = command(dir.path(), &args, &[]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let (code, peak_mb) = wait_with_peak_rss(child.id());
    assert_eq!(code, Some(0), "report failed");
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

/// Waits for child `pid` and returns its exit code and its own peak RSS in MB (`wait4`: the
/// resources of that child alone, not of every child the test process ran).
fn wait_with_peak_rss(pid: u32) -> (Option<i32>, i64) {
    let (mut status, mut usage) = (0, unsafe { std::mem::zeroed::<libc::rusage>() });
    // SAFETY: plain system call on our own child, with pointers to locals.
    let waited = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid as libc::pid_t, "wait4: {}", std::io::Error::last_os_error());
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    // Linux gives ru_maxrss in KB.
    (code, usage.ru_maxrss / 1024)
}
