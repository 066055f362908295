//! AWS settings shared by the S3 and SQS clients.
//!
//! Credentials and region come from the standard chain (`aws-config`: environment, profile, SSO,
//! instance or container role), optionally pinned by a profile and a region. The standard
//! `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>` variables point the clients at moto, LocalStack
//! or MinIO; S3 then uses path-style addressing, which those servers need.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::config::retry::RetryConfig;

/// How to reach AWS.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AwsSettings {
    /// A named profile from the shared config files.
    pub profile: Option<String>,
    /// The region; otherwise the chain's, otherwise us-east-1.
    pub region: Option<String>,
}

/// Loads the shared SDK configuration.
pub async fn sdk_config(args: &AwsSettings) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        // Throttling and transient errors are retried by the SDK, with backoff.
        .retry_config(RetryConfig::standard().with_max_attempts(8));
    if let Some(profile) = &args.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &args.region {
        loader = loader.region(Region::new(region.clone()));
    }
    let config = loader.load().await;
    if config.region().is_some() {
        return config;
    }
    config.into_builder().region(Region::new("us-east-1")).build()
}

/// True when an endpoint override is set for `service` (e.g. `S3`), by the generic or the
/// service-specific variable.
pub fn endpoint_overridden(service: &str) -> bool {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.is_empty());
    set("AWS_ENDPOINT_URL") || set(&format!("AWS_ENDPOINT_URL_{service}"))
}

/// An S3 client for this configuration.
pub fn s3_client(config: &SdkConfig) -> aws_sdk_s3::Client {
    let s3 = aws_sdk_s3::config::Builder::from(config).force_path_style(endpoint_overridden("S3")).build();
    aws_sdk_s3::Client::from_conf(s3)
}
