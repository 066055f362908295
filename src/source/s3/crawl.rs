//! Listing what a backfill reads from S3.
//!
//! Following the layout (`../layout.rs`), the crawler walks down from the given prefix with
//! delimiter listings (cheap: a handful of folder names per level) to the folders that can hold
//! wanted files, then lists those folders' keys. With `--start/--end` it lists only the dated
//! folders in range (whole years and months as one folder each), with `--account/--region` only
//! those folders, so importing one week of a bucket with years of logs costs a few requests per
//! account and region, not a full listing.
//! At each account one delimiter listing of `ACCOUNT/CloudTrail` names the log kinds that are there
//! (`CloudTrail/`, `CloudTrail-Insight/`, `CloudTrail-NetworkActivity/`, `CloudTrail-Aggregated/`, any
//! new `CloudTrail-*`), so every kind is read, narrowed like the others; `CloudTrail-Digest/` holds
//! no events and is not listed (a digest named directly is counted as skipped, like a local one).
//! Every ListObjectsV2 call is logged at debug level with its prefix.

use super::{describe, S3Error, S3Object};
use crate::source::layout::{classify, is_log_kind, position, KeyKind, LayoutFilter, Position, KIND_STEM};
use aws_sdk_s3::Client;
use futures::{stream, StreamExt, TryStreamExt};
use tokio::sync::mpsc::Sender;
use tracing::{debug, warn};

/// How deep below the given prefix the crawler looks for an `AWSLogs/` folder.
const MAX_TRAIL_PREFIX_DEPTH: usize = 3;
/// Folders listed at once.
const LIST_CONCURRENCY: usize = 8;

/// What the crawler hands on: an object to read, or one it skipped (with why).
#[derive(Debug)]
pub enum Found {
    /// A log file to read.
    Object(S3Object),
    /// Not read: a digest, or not a CloudTrail log key.
    Skipped(String),
}

/// Lists a bucket prefix.
pub struct Crawler {
    /// The S3 client.
    pub client: Client,
    /// The bucket.
    pub bucket: String,
    /// Which history to read.
    pub filter: LayoutFilter,
    /// Read every key under the prefix, ignoring the layout.
    pub any_key: bool,
}

impl Crawler {
    /// Sends every wanted object under `prefix` to `out`.
    pub async fn run(&self, prefix: &str, out: &Sender<Found>) -> Result<(), S3Error> {
        if self.any_key {
            return self.list_keys(prefix, out).await;
        }
        let folders = self.plan(prefix, out).await?;
        if folders.is_empty() {
            warn!(
                "s3://{}/{prefix}: no CloudTrail folders (AWSLogs/…/CloudTrail/) match; \
                 use --any-key to read every object under the prefix",
                self.bucket
            );
        }
        stream::iter(folders.iter().map(|f| self.list_keys(f, out)))
            .buffer_unordered(LIST_CONCURRENCY)
            .try_collect::<()>()
            .await
    }

    /// The folders whose keys must be listed.
    async fn plan(&self, prefix: &str, out: &Sender<Found>) -> Result<Vec<String>, S3Error> {
        let mut todo = vec![(prefix.to_string(), 0usize)];
        let mut folders = Vec::new();
        while let Some((p, depth)) = todo.pop() {
            if !p.is_empty() && !p.ends_with('/') {
                // A partial segment: its completions are the folders (and keys) that start with it.
                let (subfolders, keys) = self.list_level(&p).await?;
                todo.extend(subfolders.into_iter().map(|f| (f, depth)));
                for key in keys {
                    self.offer(key, out).await;
                }
                continue;
            }
            match position(&p) {
                Position::AboveAnchor if depth < MAX_TRAIL_PREFIX_DEPTH => {
                    let (subfolders, _) = self.list_level(&p).await?;
                    todo.extend(subfolders.into_iter().map(|f| (f, depth + 1)));
                }
                Position::AboveAnchor => {}
                Position::Anchor | Position::Org => {
                    let (subfolders, _) = self.list_level(&p).await?;
                    for f in subfolders {
                        let name = last_segment(&f);
                        if name.starts_with("o-") || self.filter.wants_account(name) {
                            todo.push((f, depth));
                        }
                    }
                }
                Position::Account(_) => {
                    // `ACCOUNT/CloudTrail` completes to every kind folder, and to nothing else.
                    let (kinds, _) = self.list_level(&format!("{p}{KIND_STEM}")).await?;
                    for kind in kinds {
                        if is_log_kind(last_segment(&kind)) {
                            todo.push((kind, depth));
                        } else {
                            debug!(bucket = %self.bucket, folder = %kind, "not a log kind, not listed");
                        }
                    }
                }
                Position::Kind if !self.filter.regions.is_empty() => {
                    todo.extend(self.filter.regions.iter().map(|r| (format!("{p}{r}/"), depth)));
                }
                Position::Kind => {
                    let (subfolders, _) = self.list_level(&p).await?;
                    todo.extend(subfolders.into_iter().map(|f| (f, depth)));
                }
                Position::Region => match self.filter.date_folders() {
                    Some(dated) => folders.extend(dated.iter().map(|d| format!("{p}{d}"))),
                    None => folders.push(p),
                },
                Position::Dated => folders.push(p),
            }
        }
        folders.sort();
        Ok(folders)
    }

    /// One delimiter listing: the sub-folders and the keys directly at `prefix`.
    async fn list_level(&self, prefix: &str) -> Result<(Vec<String>, Vec<S3Object>), S3Error> {
        debug!(bucket = %self.bucket, prefix, delimiter = "/", "S3 ListObjectsV2");
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .delimiter("/")
            .into_paginator()
            .send();
        let (mut folders, mut keys) = (Vec::new(), Vec::new());
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.error(prefix, describe(&e)))?;
            folders.extend(page.common_prefixes().iter().filter_map(|c| c.prefix().map(str::to_string)));
            keys.extend(page.contents().iter().filter_map(|o| self.object(o)));
        }
        Ok((folders, keys))
    }

    /// Lists every key under `prefix` (no delimiter), offering each to `out`.
    async fn list_keys(&self, prefix: &str, out: &Sender<Found>) -> Result<(), S3Error> {
        debug!(bucket = %self.bucket, prefix, "S3 ListObjectsV2");
        let mut pages =
            self.client.list_objects_v2().bucket(&self.bucket).prefix(prefix).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.error(prefix, describe(&e)))?;
            for object in page.contents().iter().filter_map(|o| self.object(o)) {
                if self.any_key {
                    let _ = out.send(Found::Object(object)).await;
                } else {
                    self.offer(object, out).await;
                }
            }
        }
        Ok(())
    }

    /// Sends a key on if the layout and the filter want it.
    async fn offer(&self, object: S3Object, out: &Sender<Found>) {
        let found = match classify(&object.key) {
            KeyKind::Log(log) if self.filter.wants(&log) => Found::Object(object),
            KeyKind::Log(_) => return,
            KeyKind::Digest => Found::Skipped(format!("{}: digest file, skipped", object.url())),
            KeyKind::OtherUnderAwsLogs | KeyKind::Outside => {
                Found::Skipped(format!("{}: not a CloudTrail log key, skipped", object.url()))
            }
        };
        let _ = out.send(found).await;
    }

    fn object(&self, o: &aws_sdk_s3::types::Object) -> Option<S3Object> {
        let key = o.key()?.to_string();
        let size = o.size().unwrap_or(0).max(0) as u64;
        // Folder placeholders some tools create ("prefix/") hold nothing.
        (!key.ends_with('/')).then(|| S3Object { bucket: self.bucket.clone(), key, size, region: None })
    }

    fn error(&self, prefix: &str, reason: String) -> S3Error {
        S3Error { bucket: self.bucket.clone(), prefix: prefix.to_string(), reason }
    }
}

/// `a/b/c/` → `c`.
fn last_segment(folder: &str) -> &str {
    folder.trim_end_matches('/').rsplit('/').next().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_segments() {
        assert_eq!(last_segment("AWSLogs/o-abc/"), "o-abc");
        assert_eq!(last_segment("x/"), "x");
    }
}
