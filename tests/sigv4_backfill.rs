//! `backfill` and `setup` into Amazon OpenSearch Service and Serverless, as far as this machine can
//! have them: the real OpenSearch behind tests/fixtures/sigv4-proxy.py, which forwards only correctly signed
//! requests (checked with botocore, not with the tool's signer). Static keys, `--compress`, session
//! credentials from moto's STS, a wrong key; Serverless with a search and a time-series collection.
//! Every run is checked to land each event exactly once (a second run adds nothing).

use crate::util::aws::{moto_env, new_bucket, runtime, s3, upload_dir};
use crate::util::sigv4::{moto_assume_role, Creds, Mode, Sigv4Proxy, ACCESS_KEY, REGION, SECRET};
use crate::util::{command, event_counts, event_ids, generate, prefix, Cluster, Run};
use std::path::Path;

/// The binary's environment for `creds` (moto as the S3/SQS endpoint, no instance metadata).
pub fn aws_env(creds: &Creds) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> =
        moto_env().iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    env.retain(|(k, _)| !k.starts_with("AWS_ACCESS_KEY_ID") && !k.starts_with("AWS_SECRET"));
    env.push(("AWS_ACCESS_KEY_ID".into(), creds.access_key.clone()));
    env.push(("AWS_SECRET_ACCESS_KEY".into(), creds.secret.clone()));
    env.push(("AWS_REGION".into(), REGION.into()));
    if let Some(token) = &creds.token {
        env.push(("AWS_SESSION_TOKEN".into(), token.clone()));
    }
    env
}

/// Runs the binary with `env` only from the AWS side (no profile, no inherited keys).
pub fn run_with(cwd: &Path, args: &[&str], env: &[(String, String)]) -> Run {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut cmd = command(cwd, args, &env);
    if !env.iter().any(|(k, _)| *k == "AWS_SESSION_TOKEN") {
        cmd.env_remove("AWS_SESSION_TOKEN");
    }
    cmd.env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", cwd.join("no-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", cwd.join("no-credentials"));
    let out = cmd.output().expect("running cloudtrail-es");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Backfills `source` through `proxy` twice: the first run indexes `expected` events, the second
/// nothing; OpenSearch then holds exactly `expected` documents. Returns the first run.
fn backfill_twice(proxy: &Sigv4Proxy, creds: &Creds, source: &str, expected: u64, extra: &[&str]) -> Run {
    let os = Cluster::os();
    let p = prefix("sigv4");
    let dir = tempfile::tempdir().unwrap();
    let args =
        [&["backfill", source, "--es", &proxy.url, "--index-prefix", &p, "--aws-sigv4"], extra].concat();
    let env = aws_env(creds);
    let first = run_with(dir.path(), &args, &env);
    first.expect_code(0);
    let (indexed, present, dead) = event_counts(&first);
    assert_eq!((indexed + present, dead), (expected, 0), "{}", first.stderr);
    let second = run_with(dir.path(), &args, &env);
    second.expect_code(0);
    assert_eq!(event_counts(&second).0, 0, "a re-run adds nothing: {}", second.stderr);
    assert_eq!(os.count(&p), expected, "each event exactly once");
    for secret in [creds.secret.as_str(), "Signature=", creds.token.as_deref().unwrap_or(&creds.secret)] {
        assert!(!first.stderr.contains(secret), "a secret in the log:\n{}", first.stderr);
    }
    assert_eq!(proxy.stat("InvalidSignatureException"), 0, "{}", proxy.log());
    assert!(proxy.stat("forwarded") > 0);
    os.clean(&p);
    first
}

#[test]
fn backfill_from_s3_with_static_keys_and_compress_lands_once() {
    let data = tempfile::tempdir().unwrap();
    generate(data.path(), &["--events", "1500", "--accounts", "1", "--days", "1", "--seed", "12"]);
    let expected = event_ids(data.path()).len() as u64;
    let bucket = runtime().block_on(async {
        let s3 = s3().await;
        let bucket = new_bucket(&s3, "sigv4-s3").await;
        upload_dir(&s3, &bucket, data.path(), "").await;
        bucket
    });
    let proxy = Sigv4Proxy::start(Mode::Domain, &[Creds::test()]);
    let source = format!("s3://{bucket}/");
    let run =
        backfill_twice(&proxy, &Creds::test(), &source, expected, &["--compress", "--batch-events", "200"]);
    assert!(run.stderr.contains("SigV4"), "the log says requests are signed:\n{}", run.stderr);
}

#[test]
fn session_credentials_from_sts_are_signed_with_their_token() {
    let data = tempfile::tempdir().unwrap();
    generate(data.path(), &["--events", "300", "--accounts", "1", "--days", "1", "--seed", "13"]);
    let expected = event_ids(data.path()).len() as u64;
    let session = moto_assume_role("sigv4-backfill");
    let proxy = Sigv4Proxy::start(Mode::Domain, std::slice::from_ref(&session));
    backfill_twice(&proxy, &session, data.path().to_str().unwrap(), expected, &[]);
    // Without the token the same keys are refused: the token was signed and sent.
    let dir = tempfile::tempdir().unwrap();
    let p = prefix("sigv4-notoken");
    let keys = Creds::new(&session.access_key, &session.secret);
    let args =
        ["backfill", data.path().to_str().unwrap(), "--es", &proxy.url, "--index-prefix", &p, "--aws-sigv4"];
    run_with(dir.path(), &args, &aws_env(&keys)).expect_code(1);
}

#[test]
fn a_wrong_key_exits_1_naming_sigv4_and_nothing_is_sent() {
    let data = tempfile::tempdir().unwrap();
    generate(data.path(), &["--events", "50", "--accounts", "1", "--days", "1", "--seed", "14"]);
    let proxy = Sigv4Proxy::start(Mode::Domain, &[Creds::test()]);
    let wrong = Creds::new(ACCESS_KEY, "a-wrong-secret-key-value");
    let dir = tempfile::tempdir().unwrap();
    let p = prefix("sigv4-wrong");
    let args =
        ["backfill", data.path().to_str().unwrap(), "--es", &proxy.url, "--index-prefix", &p, "--aws-sigv4"];
    let run = run_with(dir.path(), &args, &aws_env(&wrong));
    run.expect_code(1);
    assert!(run.stderr.contains("refused our SigV4-signed request (HTTP 403)"), "{}", run.stderr);
    assert!(run.stderr.contains("signature we calculated does not match"), "{}", run.stderr);
    assert!(!run.stderr.contains("a-wrong-secret-key-value") && !run.stderr.contains(SECRET));
    assert_eq!(proxy.stat("forwarded"), 0);
    // Unsigned (the flag left out), the proxy refuses as AWS does: the signing is what lets us in.
    let unsigned = ["backfill", data.path().to_str().unwrap(), "--es", &proxy.url, "--index-prefix", &p];
    run_with(dir.path(), &unsigned, &aws_env(&Creds::test())).expect_code(1);
    assert_eq!(proxy.stat("forwarded"), 0);
}

#[test]
fn serverless_search_collection_setup_and_backfill_land_once() {
    let data = tempfile::tempdir().unwrap();
    generate(data.path(), &["--events", "400", "--accounts", "1", "--days", "1", "--seed", "15"]);
    let expected = event_ids(data.path()).len() as u64;
    let proxy = Sigv4Proxy::start(Mode::ServerlessSearch, &[Creds::test()]);
    let os = Cluster::os();
    let p = prefix("sigv4-aoss");
    let dir = tempfile::tempdir().unwrap();
    let env = aws_env(&Creds::test());
    let setup =
        ["setup", "--es", &proxy.url, "--flavor", "aoss", "--index-prefix", &p, "--retention-days", "7"];
    let run = run_with(dir.path(), &setup, &env);
    run.expect_code(0);
    assert!(run.stdout.contains("OpenSearch Serverless collection"), "{}", run.stdout);
    assert!(run.stdout.contains("no ISM"), "the lifecycle is skipped, saying why: {}", run.stdout);
    // The proxy answers 404 to ISM as Serverless does (and counts it): setup did not even ask.
    assert_eq!(proxy.stat("serverless_404"), 0, "setup asked for what Serverless lacks: {}", proxy.log());
    assert_eq!(os.status(&format!("/_component_template/{p}@lifecycle")), 404, "no lifecycle component");
    assert_eq!(os.status(&format!("/_index_template/{p}")), 200, "{}", run.stdout);
    let args = [
        "backfill",
        data.path().to_str().unwrap(),
        "--es",
        &proxy.url,
        "--aws-sigv4-service",
        "aoss",
        "--aws-sigv4",
        "--index-prefix",
        &p,
        "--compress",
    ];
    let first = run_with(dir.path(), &args, &env);
    first.expect_code(0);
    let (indexed, present, dead) = event_counts(&first);
    assert_eq!((indexed + present, dead), (expected, 0), "{}", first.stderr);
    run_with(dir.path(), &args, &env).expect_code(0);
    assert_eq!(os.count(&p), expected, "each event exactly once");
    assert_eq!(proxy.stat("serverless_404"), 0, "no endpoint Serverless lacks was asked: {}", proxy.log());
    assert_eq!(os.status(&format!("/{p}-id-check")), 404, "the scratch index of the _id check is gone");
    os.clean(&p);
}

#[test]
fn serverless_time_series_refuses_at_start_unless_duplicates_are_allowed() {
    let data = tempfile::tempdir().unwrap();
    generate(data.path(), &["--events", "200", "--accounts", "1", "--days", "1", "--seed", "16"]);
    let expected = event_ids(data.path()).len() as u64;
    let proxy = Sigv4Proxy::start(Mode::ServerlessTimeSeries, &[Creds::test()]);
    let os = Cluster::os();
    let p = prefix("sigv4-ts");
    let dir = tempfile::tempdir().unwrap();
    let env = aws_env(&Creds::test());
    let args = [
        "backfill",
        data.path().to_str().unwrap(),
        "--es",
        &proxy.url,
        "--flavor",
        "aoss",
        "--index-prefix",
        &p,
    ];
    let refused = run_with(dir.path(), &args, &env);
    refused.expect_code(1);
    for needed in
        ["refuses documents with their own _id", "search collection", "--allow-duplicates", "copies"]
    {
        assert!(refused.stderr.contains(needed), "{needed:?} in\n{}", refused.stderr);
    }
    assert_eq!(os.count(&p), 0, "nothing was sent");
    let allowed = run_with(dir.path(), &[&args[..], &["--allow-duplicates"]].concat(), &env);
    allowed.expect_code(0);
    let (indexed, _, dead) = event_counts(&allowed);
    assert_eq!((indexed, dead), (expected, 0), "{}", allowed.stderr);
    assert_eq!(os.count(&p), expected);
    os.clean(&p);
}
