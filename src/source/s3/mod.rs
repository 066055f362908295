//! S3 sources: `s3://BUCKET/PREFIX`.
//!
//! `crawl.rs` lists what to read (following CloudTrail's layout so that date, account and region
//! filters list only the matching prefixes); `fetch.rs` downloads objects with bounded concurrency
//! and memory and hands them to the readers like local files. Errors name the bucket and key and
//! say what to check.

pub mod crawl;
pub mod fetch;
pub mod resume;

use crate::errors::chain;
use crate::source::feed::{Decision, Feed};
use crate::stats::Stats;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use std::fmt::Debug;

/// One object to read.
#[derive(Clone, Debug)]
pub struct S3Object {
    /// Bucket name.
    pub bucket: String,
    /// Object key, exactly as stored.
    pub key: String,
    /// Size in bytes, from the listing.
    pub size: u64,
    /// The bucket's region if known to differ from the client's (from a notification); `None`: the
    /// client's own.
    pub region: Option<String>,
}

impl S3Object {
    /// `s3://bucket/key`, as users see it.
    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }
}

/// A problem with S3 that stops a backfill.
#[derive(Debug, thiserror::Error)]
#[error("s3://{bucket}/{prefix}: {reason}")]
pub struct S3Error {
    /// The bucket.
    pub bucket: String,
    /// The prefix being listed.
    pub prefix: String,
    /// What went wrong and what to check.
    pub reason: String,
}

/// Words for an SDK error that tell the user what to check.
pub fn describe<E: ProvideErrorMetadata + Debug + std::error::Error + 'static>(err: &SdkError<E>) -> String {
    let status = err.raw_response().map(|r| r.status().as_u16());
    let code = err.code().unwrap_or_default();
    match (code, status) {
        ("NoSuchBucket", _) | (_, Some(404)) => "bucket does not exist (check the name)".into(),
        ("AccessDenied", _) | ("AllAccessDisabled", _) | (_, Some(403)) => {
            "access denied: the credentials need s3:ListBucket on the bucket and s3:GetObject on its objects \
             (check AWS_PROFILE / --profile)"
                .into()
        }
        ("PermanentRedirect", _) | ("AuthorizationHeaderMalformed", _) | (_, Some(301)) => {
            let region = err
                .raw_response()
                .and_then(|r| r.headers().get("x-amz-bucket-region"))
                .map_or_else(|| "another region".to_string(), |r| format!("region {r}"));
            format!("the bucket is in {region}: pass --aws-region")
        }
        _ => match err {
            SdkError::DispatchFailure(e) if e.is_io() || e.is_timeout() => {
                format!("cannot reach S3: {}", chain(err))
            }
            _ if code.is_empty() => chain(err),
            _ => format!("{code}: {}", err.message().unwrap_or_default()),
        },
    }
}

/// Where a backfill hands the objects it admits: the readers (download them, [`fetch::Fetcher`])
/// or an output that only announces them (`--to-queue`, `output/queue.rs`).
pub trait Handoff: Sync {
    /// Objects per call to [`Handoff::take`].
    const CHUNK: usize;
    /// Takes up to [`Handoff::CHUNK`] admitted objects.
    fn take(&self, objects: Vec<S3Object>, feed: &Feed) -> impl std::future::Future<Output = ()> + Send;
}

impl Handoff for std::sync::Arc<fetch::Fetcher> {
    const CHUNK: usize = 1;

    async fn take(&self, objects: Vec<S3Object>, feed: &Feed) {
        for object in objects {
            match self.ready(object.clone()).await {
                Ok(file) => {
                    feed.send(file).await;
                }
                Err(reason) => {
                    tracing::error!("{}: {reason}", object.url());
                    Stats::add(&feed.stats.files_failed, 1);
                }
            }
        }
    }
}

/// Crawls `s3://bucket/prefix` and hands every admitted object to `handoff`, `concurrency` calls
/// at a time. Returns when listing and hand-over are done, or the run stops.
pub async fn feed_prefix<H: Handoff>(
    crawler: crawl::Crawler,
    handoff: &H,
    prefix: &str,
    concurrency: usize,
    feed: &Feed,
) -> Result<(), S3Error> {
    use futures::StreamExt;

    let (found_tx, found_rx) = tokio::sync::mpsc::channel(1024);
    let listing = async move { crawler.run(prefix, &found_tx).await };
    let admitted = tokio_stream::wrappers::ReceiverStream::new(found_rx).filter_map(|found| async {
        match found {
            crawl::Found::Skipped(why) => {
                tracing::debug!("{why}");
                Stats::add(&feed.stats.files_skipped, 1);
                None
            }
            crawl::Found::Object(object) => (feed.decide(&object.url()) == Decision::Take).then_some(object),
        }
    });
    let handing_over = admitted
        .ready_chunks(H::CHUNK)
        .for_each_concurrent(concurrency.max(1), |objects| handoff.take(objects, feed));
    tokio::select! {
        (listed, ()) = futures::future::join(listing, handing_over) => listed,
        _ = feed.cancel.cancelled() => Ok(()),
    }
}
