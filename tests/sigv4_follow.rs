//! `follow` (moto SQS and S3) into the real OpenSearch behind the SigV4-checking proxy, with credentials
//! that expire mid-run: the follower's credentials come from a `credential_process` in its own AWS config
//! file (the environment's keys cannot change under a running process), which the test rewrites while it
//! runs. The proxy stops accepting the first set when it expires; the follower must have moved to the
//! second by then, and every event of both waves must land exactly once.

use crate::util::aws::{moto_url, new_bucket, put, runtime, s3};
use crate::util::sigv4::{moto_assume_role, Creds, Mode, Sigv4Proxy, REGION};
use crate::util::{command, prefix, write_gz, Cluster};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant, SystemTime};

/// Writes what the `credential_process` prints: `creds`, said to expire at `expires`.
fn write_process_output(path: &Path, creds: &Creds, expires: SystemTime) {
    let expiration =
        chrono::DateTime::<chrono::Utc>::from(expires).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let doc = serde_json::json!({
        "Version": 1,
        "AccessKeyId": creds.access_key,
        "SecretAccessKey": creds.secret,
        "SessionToken": creds.token,
        "Expiration": expiration,
    });
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, doc.to_string()).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// A follower whose only AWS credentials are `cat PROCESS_OUTPUT` (no keys in its environment).
fn spawn_follow(cwd: &Path, process_output: &Path, args: &[&str]) -> Child {
    let config = cwd.join("aws-config");
    std::fs::write(
        &config,
        format!("[default]\nregion = {REGION}\ncredential_process = cat {}\n", process_output.display()),
    )
    .unwrap();
    let mut cmd = command(cwd, &[&["follow"], args].concat(), &[]);
    for name in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"] {
        cmd.env_remove(name);
    }
    cmd.env("AWS_CONFIG_FILE", &config)
        .env("AWS_SHARED_CREDENTIALS_FILE", cwd.join("no-credentials"))
        .env("AWS_ENDPOINT_URL", moto_url())
        .env("AWS_REGION", REGION)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn wait_for(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A log file of `n` events whose ids start with `tag`, and its key.
fn log_file(tag: &str, n: usize) -> (String, Vec<u8>) {
    let events: Vec<String> = (0..n)
        .map(|i| {
            format!(r#"{{"eventID":"{tag}-{i}","eventTime":"2024-05-01T10:00:00Z","eventName":"E{i}"}}"#)
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.json.gz");
    write_gz(&path, format!(r#"{{"Records":[{}]}}"#, events.join(",")).as_bytes());
    let key = format!(
        "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/111122223333_CloudTrail_us-east-1_20240501T1000Z_{tag}.json.gz"
    );
    (key, std::fs::read(path).unwrap())
}

/// A fresh queue that `bucket`'s new objects are announced to; its URL.
async fn notified_queue(s3: &aws_sdk_s3::Client, bucket: &str) -> String {
    let queue = crate::util::follow::new_queue("sigv4-follow", &[]).await;
    crate::util::follow::notify_queue(s3, bucket, &queue.arn).await;
    queue.url
}

#[test]
fn follow_moves_to_new_credentials_before_the_old_ones_expire() {
    let rt = runtime();
    let (s3c, bucket, queue) = rt.block_on(async {
        let s3c = s3().await;
        let bucket = new_bucket(&s3c, "sigv4-follow").await;
        let queue = notified_queue(&s3c, &bucket).await;
        (s3c, bucket, queue)
    });
    let t0 = SystemTime::now();
    // The follower is told the first set lasts 5 min 15 s, so it keeps it for 15 s (it refreshes 5
    // minutes before expiry); the proxy takes it for 17 s only.
    let first = moto_assume_role("sigv4-first");
    let second = moto_assume_role("sigv4-second");
    let revoked = t0 + Duration::from_secs(17);
    let proxy = Sigv4Proxy::start(
        Mode::Domain,
        &[Creds { expires: Some(revoked), ..first.clone() }, Creds { expires: None, ..second.clone() }],
    );
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("credentials.json");
    write_process_output(&output, &first, t0 + Duration::from_secs(5 * 60 + 15));
    let os = Cluster::os();
    let p = prefix("sigv4-follow");
    let args = ["--queue", &queue, "--es", &proxy.url, "--aws-sigv4", "--index-prefix", &p, "--compress"];
    let mut child = spawn_follow(dir.path(), &output, &args);

    let (key, body) = log_file("wave1", 25);
    rt.block_on(put(&s3c, &bucket, &key, body));
    wait_for(Duration::from_secs(15), "the first wave to land", || os.count(&p) == 25);
    assert!(SystemTime::now() < revoked, "the first wave took too long for this test to mean anything");

    write_process_output(&output, &second, t0 + Duration::from_secs(3600));
    wait_for(Duration::from_secs(30), "the first credentials to expire", || SystemTime::now() > revoked);
    let (key, body) = log_file("wave2", 30);
    rt.block_on(put(&s3c, &bucket, &key, body));
    wait_for(Duration::from_secs(30), "the second wave to land", || os.count(&p) == 55);

    std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    wait_for(Duration::from_secs(35), "follow to exit", || child.try_wait().unwrap().is_some());
    let mut stderr = String::new();
    use std::io::Read;
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0), "{stderr}");
    assert_eq!(os.count(&p), 55, "every event exactly once");
    assert_eq!(proxy.stat("ExpiredTokenException"), 0, "signed with expired credentials: {}", proxy.log());
    for secret in [first.secret.as_str(), second.secret.as_str(), "Signature="] {
        assert!(!stderr.contains(secret), "a secret in the log:\n{stderr}");
    }
    os.clean(&p);
}
