//! Downloading S3 objects for the readers, with bounded concurrency and memory.
//!
//! Most CloudTrail files are small (kilobytes to a few megabytes), so throughput depends on many
//! downloads overlapping. Objects up to [`PREFETCH_MAX`] are downloaded whole by async tasks, within
//! a shared memory budget, and handed to the readers as bytes; a larger object is handed over as
//! its open response stream, read by the reader as it decodes, so memory stays bounded however
//! large an object is; a stream that breaks off is resumed where it stopped (`resume.rs`). Throttling and transient errors on requests are retried by the SDK; a small
//! object whose body breaks off mid-download is fetched again.
//!
//! One queue may be fed by trails in several regions: an object whose notification names its region
//! (`awsRegion`) is fetched with an S3 client for that region (made once per region, from the same
//! AWS configuration), not with the follower's own.

use super::resume::{Resuming, WAITS};
use super::{describe, S3Object};
use crate::errors::chain;
use crate::source::{Location, LogFile};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::Client;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::runtime::Handle;
use tokio::sync::Semaphore;

/// Words for a failed `GetObject` that say what to check: a missing key is not a missing bucket
/// (both are 404s), and a refusal of an SSE-KMS encrypted object is usually a missing
/// `kms:Decrypt` (listing works, reading does not).
fn describe_get(err: &SdkError<GetObjectError>) -> String {
    let status = err.raw_response().map(|r| r.status().as_u16());
    let code = err.code().unwrap_or_default();
    let kms =
        code.starts_with("KMS") || err.message().is_some_and(|m| m.to_ascii_lowercase().contains("kms"));
    match (code, status) {
        ("NoSuchKey", _) => "no such key in the bucket: the object was deleted, or the key is not the one \
                             written (check its spelling and URL-encoding)"
            .into(),
        ("NoSuchBucket", _) => "the bucket does not exist (check the name)".into(),
        ("AccessDenied", _) | (_, Some(403)) if kms => format!(
            "access denied by KMS ({}): the object is encrypted with SSE-KMS and the credentials need \
             kms:Decrypt on its key (the trail's KMS key), besides s3:GetObject",
            if code.is_empty() { "HTTP 403" } else { code }
        ),
        (_, _) if code.starts_with("KMS") => format!(
            "the object's KMS key refused to decrypt it ({code}): check that the key exists, is enabled and \
             allows kms:Decrypt to these credentials"
        ),
        ("AccessDenied", _) | (_, Some(403)) => {
            "access denied: the credentials need s3:GetObject on this object, \
             and, if the trail's logs are encrypted with SSE-KMS (the usual cause when listing works but \
             reading does not), kms:Decrypt on the trail's KMS key (check AWS_PROFILE / --profile)"
                .into()
        }
        ("", Some(404)) => "not found: no such key, or no such bucket".into(),
        _ => describe(err),
    }
}

/// Objects up to this size are downloaded ahead of the readers.
pub const PREFETCH_MAX: u64 = 8 << 20;
/// Memory for downloaded objects waiting to be read, in KiB.
const BUDGET_KIB: usize = 128 << 10;
/// Tries for one download whose body breaks off.
const BODY_TRIES: u32 = 3;

/// Fetches objects from one S3 client.
pub struct Fetcher {
    client: Client,
    runtime: Handle,
    budget: Arc<Semaphore>,
    /// The configuration other regions' clients are made from (`None`: only `client`).
    config: Option<aws_config::SdkConfig>,
    regional: Mutex<HashMap<String, Client>>,
}

impl Fetcher {
    /// A fetcher whose streams are driven by `runtime`.
    pub fn new(client: Client, runtime: Handle) -> Arc<Self> {
        let budget = Arc::new(Semaphore::new(BUDGET_KIB));
        Arc::new(Fetcher { client, runtime, budget, config: None, regional: Mutex::new(HashMap::new()) })
    }

    /// As [`Fetcher::new`], fetching objects of other regions with clients made from `config`.
    pub fn with_regions(config: &aws_config::SdkConfig, runtime: Handle) -> Arc<Self> {
        let budget = Arc::new(Semaphore::new(BUDGET_KIB));
        let client = crate::aws::s3_client(config);
        let (config, regional) = (Some(config.clone()), Mutex::new(HashMap::new()));
        Arc::new(Fetcher { client, runtime, budget, config, regional })
    }

    /// The client for an object in `region` (`None`, or the client's own region: the default client).
    pub fn client_for(&self, region: Option<&str>) -> Client {
        let (Some(region), Some(config)) = (region, &self.config) else { return self.client.clone() };
        if self.client.config().region().is_some_and(|r| r.as_ref() == region) {
            return self.client.clone();
        }
        let mut regional = self.regional.lock().unwrap_or_else(|e| e.into_inner());
        regional
            .entry(region.to_string())
            .or_insert_with(|| {
                let conf = aws_sdk_s3::config::Builder::from(config)
                    .region(aws_config::Region::new(region.to_string()))
                    .force_path_style(crate::aws::endpoint_overridden("S3"))
                    .build();
                Client::from_conf(conf)
            })
            .clone()
    }

    /// Makes an object ready for a reader: a small one is downloaded now, a large one is handed
    /// over as an open stream. The size is taken from the response, so listings and notifications
    /// that do not carry it are handled alike.
    pub async fn ready(self: &Arc<Self>, object: S3Object) -> Result<LogFile, String> {
        let name: Arc<str> = object.url().into();
        let mut last = String::new();
        let client = self.client_for(object.region.as_deref());
        for attempt in 1..=BODY_TRIES {
            let response = client.get_object().bucket(&object.bucket).key(&object.key).send().await;
            let output = response.map_err(|e| format!("cannot download: {}", describe_get(&e)))?;
            let size = output.content_length().unwrap_or(0).max(0) as u64;
            if size > PREFETCH_MAX {
                let place = (object.bucket.as_str(), object.key.as_str());
                let stream = Resuming::new(client, self.runtime.clone(), place, output);
                return Ok(LogFile { name, location: Location::Stream(Box::new(stream)) });
            }
            let kib = (size.div_ceil(1024) as u32).max(1);
            let permit = self
                .budget
                .clone()
                .acquire_many_owned(kib)
                .await
                .map_err(|_| "download budget closed".to_string())?;
            match output.body.collect().await {
                Ok(body) => {
                    return Ok(LogFile { name, location: Location::Memory(body.into_bytes(), permit) })
                }
                Err(e) => last = chain(&e),
            }
            tokio::time::sleep(WAITS.delay(attempt)).await;
        }
        Err(format!("download broke off {BODY_TRIES} times: {last}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::config::http::HttpResponse;
    use aws_sdk_s3::error::ErrorMetadata;
    use aws_sdk_s3::primitives::SdkBody;

    fn refusal(status: u16, code: &str, message: &str) -> SdkError<GetObjectError> {
        let meta = ErrorMetadata::builder().code(code).message(message).build();
        let response = HttpResponse::new(status.try_into().unwrap(), SdkBody::empty());
        SdkError::service_error(GetObjectError::generic(meta), response)
    }

    #[test]
    fn each_refusal_says_what_to_check() {
        let cases = [
            (refusal(404, "NoSuchKey", "The specified key does not exist."), "no such key in the bucket"),
            (refusal(404, "NoSuchBucket", "The specified bucket does not exist"), "the bucket does not exist"),
            (
                refusal(403, "AccessDenied", "User: arn:aws:sts::1:assumed-role/r/s is not authorized to perform: kms:Decrypt"),
                "access denied by KMS (AccessDenied): the object is encrypted with SSE-KMS and the credentials need kms:Decrypt",
            ),
            (refusal(403, "AccessDenied", "Access Denied"), "kms:Decrypt on the trail's KMS key"),
            (refusal(400, "KMS.DisabledException", "key is disabled"), "KMS key refused to decrypt it (KMS.DisabledException)"),
        ];
        for (err, want) in cases {
            let got = describe_get(&err);
            assert!(got.contains(want), "want {want:?}, got {got:?}");
        }
        assert!(
            !describe_get(&cases_first()).contains("bucket does not exist"),
            "a missing key is not a missing bucket"
        );
    }

    fn cases_first() -> SdkError<GetObjectError> {
        refusal(404, "NoSuchKey", "The specified key does not exist.")
    }

    #[tokio::test]
    async fn objects_of_other_regions_get_a_client_for_their_region() {
        let config = aws_config::SdkConfig::builder()
            .region(aws_config::Region::new("us-east-1"))
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        let fetcher = Fetcher::with_regions(&config, Handle::current());
        let region = |c: Client| c.config().region().map(|r| r.to_string());
        assert_eq!(region(fetcher.client_for(None)).as_deref(), Some("us-east-1"));
        assert_eq!(region(fetcher.client_for(Some("us-east-1"))).as_deref(), Some("us-east-1"));
        assert_eq!(region(fetcher.client_for(Some("eu-west-3"))).as_deref(), Some("eu-west-3"));
        assert_eq!(fetcher.regional.lock().unwrap().len(), 1, "one client per other region, reused");
        fetcher.client_for(Some("eu-west-3"));
        assert_eq!(fetcher.regional.lock().unwrap().len(), 1);
    }
}
