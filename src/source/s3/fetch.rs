//! Downloading S3 objects for the readers, with bounded concurrency and memory.
//!
//! Most CloudTrail files are small (kilobytes to a few megabytes), so throughput depends on many
//! downloads overlapping. Objects up to [`PREFETCH_MAX`] are downloaded whole by async tasks, within
//! a shared memory budget, and handed to the readers as bytes; a larger object is handed over as
//! its open response stream, read by the reader as it decodes, so memory stays bounded however
//! large an object is. Throttling and transient errors on requests are retried by the SDK; a small
//! object whose body breaks off mid-download is fetched again.

use super::{describe, S3Object};
use crate::errors::chain;
use crate::source::{Location, LogFile};
use aws_sdk_s3::Client;
use std::sync::Arc;
use std::time::Duration;
use tokio::runtime::Handle;
use tokio::sync::Semaphore;
use tokio_util::io::SyncIoBridge;

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
}

impl Fetcher {
    /// A fetcher whose streams are driven by `runtime`.
    pub fn new(client: Client, runtime: Handle) -> Arc<Self> {
        Arc::new(Fetcher { client, runtime, budget: Arc::new(Semaphore::new(BUDGET_KIB)) })
    }

    /// Makes an object ready for a reader: a small one is downloaded now, a large one is handed
    /// over as an open stream. The size is taken from the response, so listings and notifications
    /// that do not carry it are handled alike.
    pub async fn ready(self: &Arc<Self>, object: S3Object) -> Result<LogFile, String> {
        let name: Arc<str> = object.url().into();
        let mut last = String::new();
        for attempt in 1..=BODY_TRIES {
            let response = self.client.get_object().bucket(&object.bucket).key(&object.key).send().await;
            let output = response.map_err(|e| format!("cannot download: {}", describe(&e)))?;
            let size = output.content_length().unwrap_or(0).max(0) as u64;
            if size > PREFETCH_MAX {
                let stream =
                    SyncIoBridge::new_with_handle(output.body.into_async_read(), self.runtime.clone());
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
            tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
        }
        Err(format!("download broke off {BODY_TRIES} times: {last}"))
    }
}
