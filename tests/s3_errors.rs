//! S3 errors say what is wrong (docs/design/security.md), against moto: a missing key in an existing bucket
//! is not reported as a missing bucket, and a missing bucket still reads as one (from the download path and
//! from a backfill's listing).

use crate::util::aws::{moto_env, new_bucket, put, runtime, s3};
use crate::util::{prefix, run_in};
use cloudtrail_es::source::s3::fetch::Fetcher;
use cloudtrail_es::source::s3::S3Object;

#[test]
fn a_missing_key_and_a_missing_bucket_read_differently() {
    let rt = runtime();
    let (missing_key, missing_bucket, present) = rt.block_on(async {
        let s3 = s3().await;
        let bucket = new_bucket(&s3, "errors").await;
        put(&s3, &bucket, "AWSLogs/present.json", br#"{"Records":[]}"#.to_vec()).await;
        let fetcher = Fetcher::new(s3, tokio::runtime::Handle::current());
        let object = |bucket: &str, key: &str| S3Object {
            bucket: bucket.into(),
            key: key.into(),
            size: 0,
            region: None,
        };
        let missing_key = fetcher.ready(object(&bucket, "AWSLogs/gone.json.gz")).await.err();
        let missing_bucket =
            fetcher.ready(object(&prefix("no-such-bucket"), "AWSLogs/x.json.gz")).await.err();
        let present = fetcher.ready(object(&bucket, "AWSLogs/present.json")).await.is_ok();
        (missing_key.unwrap(), missing_bucket.unwrap(), present)
    });
    assert!(present, "the control object downloads");
    assert!(missing_key.contains("no such key in the bucket"), "{missing_key}");
    assert!(!missing_key.contains("bucket does not exist"), "{missing_key}");
    assert!(missing_bucket.contains("the bucket does not exist"), "{missing_bucket}");

    let dir = tempfile::tempdir().unwrap();
    let url = format!("s3://{}/", prefix("no-such-bucket"));
    let run = run_in(dir.path(), &["backfill", &url, "-o", "out.ndjson"], &moto_env());
    run.expect_code(1);
    assert!(run.stderr.contains("bucket does not exist"), "{}", run.stderr);
}
