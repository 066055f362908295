//! S3 sources: `s3://BUCKET/PREFIX`.
//!
//! `crawl.rs` lists what to read (following CloudTrail's layout so that date, account and region
//! filters list only the matching prefixes); `fetch.rs` downloads objects with bounded concurrency
//! and memory and hands them to the readers like local files. Errors name the bucket and key and
//! say what to check.

pub mod crawl;
pub mod fetch;

use crate::errors::chain;
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

/// What a backfill does with the objects it admits.
pub enum Destination {
    /// Download them for the readers.
    Read(std::sync::Arc<fetch::Fetcher>),
    /// Announce them on a queue for `follow` processes (`--to-queue`).
    Enqueue(std::sync::Arc<crate::source::sqs::enqueue::Enqueuer>),
}

/// Crawls `s3://bucket/prefix` and hands every admitted object to `destination`, `concurrency` at
/// a time. Returns when listing and hand-over are done, or the run stops.
pub async fn feed_prefix(
    crawler: crawl::Crawler,
    destination: &Destination,
    prefix: &str,
    concurrency: usize,
    feed: &crate::source::feed::Feed,
) -> Result<(), S3Error> {
    use crate::source::feed::Decision;
    use crate::stats::Stats;
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
    let handing_over = async {
        match destination {
            Destination::Read(fetcher) => {
                admitted
                    .for_each_concurrent(concurrency.max(1), |object| async move {
                        match fetcher.ready(object.clone()).await {
                            Ok(file) => {
                                feed.send(file).await;
                            }
                            Err(reason) => {
                                tracing::error!("{}: {reason}", object.url());
                                Stats::add(&feed.stats.files_failed, 1);
                            }
                        }
                    })
                    .await
            }
            Destination::Enqueue(queue) => {
                // SQS takes up to ten messages per request.
                admitted
                    .ready_chunks(10)
                    .for_each_concurrent(concurrency.max(1), |objects| queue.send(objects))
                    .await
            }
        }
    };
    tokio::select! {
        (listed, ()) = futures::future::join(listing, handing_over) => listed,
        _ = feed.cancel.cancelled() => Ok(()),
    }
}
