//! Backfill from S3 (moto) into the real Elasticsearch: the layout with several accounts,
//! regions, days and an organization trail, digests, junk and odd key names; filters that list
//! only matching prefixes; resume after kill -9 with --state; --shard splits with no overlap.

use crate::util::aws::{moto_env, new_bucket, put, runtime, s3, upload_dir};
use crate::util::{
    command, event_ids, event_ids_where, generate, output_ids, prefix, run_in, write_gz, Cluster,
};
use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

/// Runs the binary with moto's environment.
fn run_s3(cwd: &Path, args: &[&str]) -> crate::util::Run {
    let env = moto_env();
    run_in(cwd, args, &env)
}

/// A trail bucket: two accounts × two regions × three days, an organization trail, digests,
/// junk keys and a log file under an odd key name. Returns (bucket, local copy, ids).
fn trail_bucket(name: &str, events: &str) -> (String, tempfile::TempDir, Vec<String>) {
    let data = tempfile::tempdir().unwrap();
    generate(
        &data.path().join("plain"),
        &["--events", events, "--accounts", "2", "--days", "3", "--seed", "11"],
    );
    generate(
        &data.path().join("org"),
        &["--events", "300", "--accounts", "1", "--days", "1", "--seed", "12", "--org", "o-abc123defg"],
    );
    let odd = data
        .path()
        .join("odd/AWSLogs/999988887777/CloudTrail/us-east-1/2024/05/02/odd name+plus ü ☃.json.gz");
    write_gz(
        &odd,
        br#"{"Records":[{"eventID":"odd-1","eventTime":"2024-05-02T01:00:00Z","eventName":"Odd"}]}"#,
    );
    let ids: Vec<String> = event_ids(data.path());
    let rt = runtime();
    let bucket = rt.block_on(async {
        let s3 = s3().await;
        let bucket = new_bucket(&s3, name).await;
        upload_dir(&s3, &bucket, &data.path().join("plain"), "").await;
        upload_dir(&s3, &bucket, &data.path().join("org"), "").await;
        upload_dir(&s3, &bucket, &data.path().join("odd"), "").await;
        put(&s3, &bucket, "README.txt", b"not a log".to_vec()).await;
        put(&s3, &bucket, "AWSLogs/111122223333/Config/us-east-1/2024/05/01/config.json.gz", b"{}".to_vec())
            .await;
        put(&s3, &bucket, "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/notes.txt", b"junk".to_vec())
            .await;
        bucket
    });
    (bucket, data, ids)
}

#[test]
fn a_whole_trail_bucket_imports_every_event_exactly_once() {
    let (bucket, _data, ids) = trail_bucket("whole", "1500");
    let cluster = Cluster::es();
    let p = prefix("s3whole");
    let dir = tempfile::tempdir().unwrap();
    let source = format!("s3://{bucket}");
    let run = run_s3(dir.path(), &["backfill", &source, "--es", &cluster.url, "--index-prefix", &p]);
    run.expect_code(0);
    assert_eq!(cluster.count(&p), ids.len() as u64);
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "generated ids are unique");
    assert!(run.stderr.contains(&format!("{} indexed, 0 already present", ids.len())), "{}", run.stderr);
    let odd = cluster.search(&p, serde_json::json!({"query":{"term":{"eventID":"odd-1"}}}));
    assert_eq!(odd["hits"]["total"]["value"], 1, "the odd key was read");
    let again = run_s3(dir.path(), &["backfill", &source, "--es", &cluster.url, "--index-prefix", &p]);
    again.expect_code(0);
    assert_eq!(cluster.count(&p), ids.len() as u64, "a second run adds nothing");
    cluster.clean(&p);
}

#[test]
fn filters_read_exactly_the_matching_files_and_list_only_their_prefixes() {
    let (bucket, data, _) = trail_bucket("filters", "1500");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.ndjson");
    let source = format!("s3://{bucket}/");
    let args = [
        "backfill",
        &source,
        "--output",
        out.to_str().unwrap(),
        "-v",
        "--start",
        "2024-05-02",
        "--end",
        "2024-05-02",
        "--region",
        "eu-west-1",
    ];
    let run = run_s3(dir.path(), &args);
    run.expect_code(0);
    let want: HashSet<String> =
        event_ids_where(data.path(), |p| p.contains("/CloudTrail/eu-west-1/2024/05/02/"))
            .into_iter()
            .collect();
    let got: HashSet<String> = output_ids(&out).into_iter().collect();
    assert!(!want.is_empty());
    assert_eq!(got, want);

    let listed: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("S3 ListObjectsV2"))
        .map(|l| {
            l.split("prefix=").nth(1).unwrap_or("").split_whitespace().next().unwrap_or("").trim_matches('"')
        })
        .collect();
    assert!(!listed.is_empty(), "{}", run.stderr);
    for prefix in &listed {
        let dated = prefix.contains("/2024/");
        assert!(
            !dated || prefix.ends_with("/eu-west-1/2024/05/02/"),
            "listed a day outside the range: {prefix}"
        );
        assert!(!prefix.contains("us-east-1"), "listed a region outside the filter: {prefix}");
        assert!(!prefix.contains("CloudTrail-Digest"), "listed digests: {prefix}");
    }
    let accounts = run_s3(
        dir.path(),
        &[
            "backfill",
            &source,
            "--output",
            out.to_str().unwrap(),
            "--account",
            "999988887777",
            "--since",
            "9999d",
        ],
    );
    accounts.expect_code(0);
    assert_eq!(output_ids(&out), vec!["odd-1".to_string()]);
    let lists = accounts.stderr.lines().filter(|l| l.contains("S3 ListObjectsV2")).count();
    assert!(lists < 200, "a 9999-day range is listed by years and months, not days: {lists} listings");
}

#[test]
fn shards_cover_everything_with_no_overlap() {
    let (bucket, _data, ids) = trail_bucket("shards", "3000");
    let dir = tempfile::tempdir().unwrap();
    let source = format!("s3://{bucket}/AWSLogs/");
    let mut seen: Vec<HashSet<String>> = Vec::new();
    for k in 0..3 {
        let out = dir.path().join(format!("out-{k}.ndjson"));
        let shard = format!("{k}/3");
        run_s3(dir.path(), &["backfill", &source, "--output", out.to_str().unwrap(), "--shard", &shard])
            .expect_code(0);
        seen.push(output_ids(&out).into_iter().collect());
    }
    let all: HashSet<String> = ids.into_iter().collect();
    assert!(seen.iter().all(|s| !s.is_empty()), "every shard has work");
    assert_eq!(seen.iter().map(HashSet::len).sum::<usize>(), all.len(), "no overlap");
    let union: HashSet<String> = seen.into_iter().flatten().collect();
    assert_eq!(union, all, "no gap");
}

#[test]
fn a_run_killed_mid_way_is_finished_by_a_rerun_with_state() {
    interrupted_run_is_finished_by_a_rerun("KILL");
}

#[test]
fn ctrl_c_saves_the_state_prints_the_summary_and_a_rerun_finishes() {
    interrupted_run_is_finished_by_a_rerun("INT");
}

/// Stops a backfill with `signal` once it has recorded some files, then re-runs it with the same
/// --state: every event ends present exactly once and recorded files are not read again.
fn interrupted_run_is_finished_by_a_rerun(signal: &str) {
    let data = tempfile::tempdir().unwrap();
    generate(data.path(), &["--events", "4000", "--events-per-file", "10", "--days", "1", "--seed", "21"]);
    let ids = event_ids(data.path());
    let bucket = runtime().block_on(async {
        let s3 = s3().await;
        let bucket = new_bucket(&s3, "resume").await;
        upload_dir(&s3, &bucket, data.path(), "").await;
        bucket
    });
    let cluster = Cluster::es();
    let p = prefix("resume");
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.jsonl");
    let source = format!("s3://{bucket}");
    let args = [
        "backfill",
        &source,
        "--es",
        &cluster.url,
        "--index-prefix",
        &p,
        "--state",
        state.to_str().unwrap(),
        "--concurrency",
        "1",
        "--readers",
        "1",
        "--batch-events",
        "20",
    ];
    let env = moto_env();
    let mut child = command(dir.path(), &args, &env).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let started = Instant::now();
    while std::fs::read_to_string(&state).unwrap_or_default().lines().count() < 30 {
        assert!(started.elapsed() < Duration::from_secs(60), "the first run recorded nothing");
        assert!(child.try_wait().unwrap().is_none(), "the first run ended before it could be killed");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::process::Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    let stopped = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&stopped.stderr);
    if signal == "INT" {
        assert_eq!(stopped.status.code(), Some(130), "{stderr}");
        assert!(stderr.contains("interrupted") && stderr.contains("files:"), "summary printed: {stderr}");
        let journal = std::fs::read_to_string(&state).unwrap();
        assert!(journal.lines().all(|l| serde_json::from_str::<String>(l).is_ok()), "state saved whole");
    }
    let recorded = std::fs::read_to_string(&state).unwrap().lines().count();
    let files = ids.len() / 10;
    assert!(recorded < files, "killed mid-way ({recorded} of {files} files recorded)");

    let rerun = run_s3(dir.path(), &args);
    rerun.expect_code(0);
    assert!(rerun.stderr.contains("finished by earlier runs"), "{}", rerun.stderr);
    let read_again: usize = rerun
        .stderr
        .lines()
        .find(|l| l.starts_with("files:"))
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert!(read_again <= files - recorded + 1, "finished files were not read again ({read_again} read)");
    assert_eq!(cluster.count(&p), ids.len() as u64, "every event present exactly once");
    cluster.clean(&p);
}

#[test]
fn a_missing_bucket_is_a_clear_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_s3(dir.path(), &["backfill", "s3://no-such-bucket-for-cloudtrail-es", "--output", "-"]);
    run.expect_code(1);
    assert!(
        run.stderr.contains("s3://no-such-bucket-for-cloudtrail-es/: bucket does not exist"),
        "{}",
        run.stderr
    );
}
