//! moto (S3, SQS, SNS) from the dev stack: clients, fresh buckets, uploads, and the environment
//! that points the binary at it.

use aws_sdk_s3::primitives::ByteStream;
use std::path::Path;

/// moto's address (read once).
pub fn moto_url() -> &'static str {
    static URL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    URL.get_or_init(|| {
        std::env::var("CLOUDTRAIL_ES_TEST_MOTO").unwrap_or_else(|_| "http://127.0.0.1:5000".into())
    })
}

/// Environment for the binary: moto's endpoint and dummy credentials.
pub fn moto_env() -> [(&'static str, &'static str); 5] {
    [
        ("AWS_ENDPOINT_URL", moto_url()),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ]
}

/// A tokio runtime for test-side AWS calls.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// The SDK configuration for moto.
pub async fn sdk_config() -> aws_config::SdkConfig {
    let creds = aws_sdk_s3::config::Credentials::new("testing", "testing", None, None, "tests");
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(moto_url())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(creds)
        .load()
        .await
}

/// An S3 client for moto (path-style).
pub async fn s3() -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::from(&sdk_config().await).force_path_style(true).build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// Creates a bucket with a unique name for one test.
pub async fn new_bucket(s3: &aws_sdk_s3::Client, name: &str) -> String {
    let bucket = super::prefix(name);
    s3.create_bucket().bucket(&bucket).send().await.unwrap_or_else(|e| {
        panic!(
            "cannot create bucket in moto at {}: {e:?} (start it with scripts/dev/dev-stack.sh up)",
            moto_url()
        )
    });
    bucket
}

/// Puts one object.
pub async fn put(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, body: Vec<u8>) {
    s3.put_object().bucket(bucket).key(key).body(ByteStream::from(body)).send().await.unwrap();
}

/// Uploads every file under `dir` to `bucket`, keyed by its path relative to `dir` under `prefix`.
pub async fn upload_dir(s3: &aws_sdk_s3::Client, bucket: &str, dir: &Path, prefix: &str) -> usize {
    let mut n = 0;
    for path in super::walk(dir) {
        let rel = path.strip_prefix(dir).unwrap().to_string_lossy().replace('\\', "/");
        put(s3, bucket, &format!("{prefix}{rel}"), std::fs::read(&path).unwrap()).await;
        n += 1;
    }
    n
}
