//! A large S3 object whose download breaks off (docs/design/reliability.md): a TCP proxy in front of moto
//! cuts the connection mid-body. A few breaks are resumed where they stopped and the file is read whole; more
//! than the tool resumes fail the file, which `--state` then does not record, so a re-run reads it again and
//! every event ends indexed exactly once.

use crate::util::aws::{moto_env, moto_url, new_bucket, put, runtime, s3};
use crate::util::proxy::Proxy;
use crate::util::{prefix, run_in, Cluster, Run};
use std::path::Path;

/// Events in the big object; about 1 KB each, so the object is over the 8 MiB prefetch size and
/// is decoded while it streams.
const EVENTS: usize = 9_500;

/// A plain-JSON trail file of `EVENTS` events (plain so that it is large; content tells the format).
fn big_file(tag: &str) -> Vec<u8> {
    let pad = "p".repeat(800);
    let records: Vec<String> = (0..EVENTS)
        .map(|i| {
            format!(
                r#"{{"eventVersion":"1.08","eventID":"{tag}-{i}","eventTime":"2024-05-01T10:{:02}:{:02}Z","eventName":"GetObject","eventSource":"s3.amazonaws.com","awsRegion":"us-east-1","requestParameters":{{"pad":"{pad}"}}}}"#,
                (i / 60) % 60,
                i % 60
            )
        })
        .collect();
    format!(r#"{{"Records":[{}]}}"#, records.join(",")).into_bytes()
}

/// A bucket holding the big object; its URL.
fn bucket_with_big_file(name: &str) -> String {
    let body = big_file(name);
    assert!(body.len() > 9 << 20, "over the prefetch size: {} bytes", body.len());
    runtime().block_on(async {
        let s3 = s3().await;
        let bucket = new_bucket(&s3, name).await;
        let key = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/111122223333_CloudTrail_us-east-1_20240501T1000Z_big.json.gz";
        put(&s3, &bucket, key, body).await;
        format!("s3://{bucket}")
    })
}

/// Backfills `source` through `proxy` into the index prefix `p`.
fn backfill(dir: &Path, proxy: &Proxy, source: &str, p: &str, state: &Path) -> Run {
    let cluster = Cluster::es();
    let mut env = moto_env().to_vec();
    env.retain(|(k, _)| *k != "AWS_ENDPOINT_URL");
    env.push(("AWS_ENDPOINT_URL", &proxy.url));
    let state = state.to_str().unwrap();
    let args = ["backfill", source, "--es", &cluster.url, "--index-prefix", p, "--state", state];
    run_in(dir, &args, &env)
}

fn moto_proxy() -> Proxy {
    Proxy::start(moto_url().trim_start_matches("http://"))
}

#[test]
fn a_download_that_breaks_off_is_resumed_where_it_stopped() {
    let source = bucket_with_big_file("resume-cut");
    let (cluster, p, dir) = (Cluster::es(), prefix("s3cut"), tempfile::tempdir().unwrap());
    let proxy = moto_proxy();
    proxy.cut_replies_after(3 << 20, 2);
    let run = backfill(dir.path(), &proxy, &source, &p, &dir.path().join("state"));
    let count = cluster.count(&p);
    cluster.clean(&p);
    run.expect_code(0);
    assert_eq!(proxy.cuts(), 2, "the proxy cut the download twice");
    assert!(
        run.stderr.contains("the download broke off at byte") && run.stderr.contains("resuming"),
        "{}",
        run.stderr
    );
    assert_eq!(count, EVENTS as u64, "every event indexed once");
}

#[test]
fn a_download_that_keeps_breaking_fails_the_file_and_a_rerun_reads_it_again() {
    let source = bucket_with_big_file("resume-fail");
    let (cluster, p, dir) = (Cluster::es(), prefix("s3cutfail"), tempfile::tempdir().unwrap());
    let state = dir.path().join("state");
    let proxy = moto_proxy();
    proxy.cut_replies_after(256 << 10, 1_000);
    let first = backfill(dir.path(), &proxy, &source, &p, &state);
    first.expect_code(2);
    assert!(first.stderr.contains("times resumed"), "{}", first.stderr);
    let journal = std::fs::read_to_string(&state).unwrap_or_default();
    assert!(!journal.contains("big.json.gz"), "a file read part-way is not recorded: {journal}");
    let partial = cluster.count(&p);

    proxy.cut_replies_after(0, 0);
    let rerun = backfill(dir.path(), &proxy, &source, &p, &state);
    let count = cluster.count(&p);
    cluster.clean(&p);
    rerun.expect_code(0);
    assert!(partial < EVENTS as u64, "the first run stopped part-way ({partial} indexed)");
    assert!(!rerun.stderr.contains("finished by earlier runs"), "{}", rerun.stderr);
    assert_eq!(count, EVENTS as u64, "every event once after the re-run");
    assert!(std::fs::read_to_string(&state).unwrap().contains("big.json.gz"), "recorded once whole");
}
