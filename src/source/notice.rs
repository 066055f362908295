//! From a notification to files for the readers, for every source that is told about objects
//! rather than finding them (`follow`'s SQS queue, the Lambda function's events): which objects a
//! notification may make this process read, and reading them — each object fetched and handed to
//! the readers with its acknowledgement, whose receipt the caller awaits before it counts the
//! notification as done.
//!
//! A process reads with its own credentials whatever a notification names, so a notification may
//! only point it at the trail: `--allow-bucket` limits the buckets, and keys outside CloudTrail's
//! layout are refused unless `--any-key` says otherwise. Digest files are skipped.

use crate::ack::Receipt;
use crate::source::layout::{classify, is_digest, KeyKind};
use crate::source::s3::fetch::Fetcher;
use crate::source::s3::S3Object;
use crate::source::sqs::notification::ObjectRef;
use crate::source::Unit;
use crate::stats::Stats;
use std::sync::Arc;
use tracing::{debug, error};

/// Which objects notifications may make this process read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectPolicy {
    /// Only objects in these buckets are read (empty: any bucket).
    pub allow_buckets: Vec<String>,
    /// Read keys outside CloudTrail's layout too.
    pub any_key: bool,
}

impl ObjectPolicy {
    /// Why an object must not be read, if it must not.
    pub fn refusal(&self, bucket: &str, key: &str) -> Option<&'static str> {
        refusal(&self.allow_buckets, self.any_key, bucket, key)
    }

    /// The first object of a notification that must not be read, with why: the whole
    /// notification is then refused (left for a dead-letter queue), not read in part.
    pub fn first_refused<'a>(&self, objects: &'a [ObjectRef]) -> Option<(&'a ObjectRef, &'static str)> {
        objects.iter().find_map(|o| Some((o, self.refusal(&o.bucket, &o.key)?)))
    }
}

/// Why an object must not be read: not in `allow_buckets` (when given), or a key outside
/// CloudTrail's layout without `any_key`.
pub fn refusal(allow_buckets: &[String], any_key: bool, bucket: &str, key: &str) -> Option<&'static str> {
    if !allow_buckets.is_empty() && !allow_buckets.iter().any(|b| b == bucket) {
        return Some("the bucket is not in --allow-bucket");
    }
    match classify(key) {
        KeyKind::Log(_) | KeyKind::Digest => None,
        _ if any_key => None,
        _ => Some("the key is not in CloudTrail's layout (AWSLogs/…/CloudTrail*/REGION/YYYY/MM/DD/); --any-key reads it"),
    }
}

/// The objects left once digest files (nothing to index) are taken out.
pub fn without_digests(objects: Vec<ObjectRef>) -> Vec<ObjectRef> {
    objects
        .into_iter()
        .filter(|o| {
            let digest = is_digest(&o.key);
            if digest {
                debug!("s3://{}/{}: digest file, skipped", o.bucket, o.key);
            }
            !digest
        })
        .collect()
}

/// What became of a notification's objects once handed over.
#[derive(Default)]
pub struct Emitted {
    /// One per object handed to the readers (or dropped unread: it then resolves as failed).
    pub receipts: Vec<Receipt>,
    /// Objects that could not be handed over, each with why.
    pub failures: Vec<String>,
}

/// Fetches each object and hands it to the readers through the sender `files` gives at that
/// moment (`None`: the readers are closing, the object is not read).
pub async fn emit(
    objects: Vec<ObjectRef>,
    fetcher: &Arc<Fetcher>,
    files: impl Fn() -> Option<flume::Sender<Unit>>,
    stats: &Stats,
) -> Emitted {
    let mut out = Emitted { receipts: Vec::with_capacity(objects.len()), failures: Vec::new() };
    for o in objects {
        let object = S3Object { bucket: o.bucket, key: o.key, size: 0, region: o.region };
        let url = object.url();
        match fetcher.ready(object).await {
            Ok(file) => {
                let (unit, file_receipt) = Unit::track(file);
                let sent = match files() {
                    Some(tx) => tx.send_async(unit).await.is_ok(),
                    None => false,
                };
                // A unit that was not sent is dropped unread: its receipt resolves as failed.
                out.receipts.push(file_receipt);
                if !sent {
                    out.failures.push(format!("{url}: not read, shutting down"));
                }
            }
            Err(reason) => {
                error!("{url}: {reason}");
                Stats::add(&stats.files_failed, 1);
                out.failures.push(format!("{url}: {reason}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_allowed_buckets_and_layout_keys_are_read() {
        let trail = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/111122223333_CloudTrail_us-east-1_20240501T1000Z_a.json.gz";
        let mut p = ObjectPolicy::default();
        assert_eq!(p.refusal("any", trail), None);
        assert!(p.refusal("any", "secrets/db.json").unwrap().contains("not in CloudTrail's layout"));
        p.allow_buckets = vec!["trail-bucket".into()];
        assert_eq!(p.refusal("trail-bucket", trail), None);
        assert!(p.refusal("other", trail).unwrap().contains("--allow-bucket"));
        p.any_key = true;
        assert_eq!(p.refusal("trail-bucket", "firehose/2024/05/01/x.gz"), None);
        assert!(p.refusal("other", "firehose/x.gz").is_some());
        let objects = [
            ObjectRef { bucket: "trail-bucket".into(), key: trail.into(), region: None },
            ObjectRef { bucket: "other".into(), key: trail.into(), region: None },
        ];
        assert_eq!(p.first_refused(&objects).map(|(o, _)| o.bucket.as_str()), Some("other"));
    }

    #[test]
    fn digests_are_taken_out() {
        let o = |key: &str| ObjectRef { bucket: "b".into(), key: key.into(), region: None };
        let kept = without_digests(vec![
            o("AWSLogs/1/CloudTrail-Digest/us-east-1/2024/01/01/x.json.gz"),
            o("AWSLogs/1/CloudTrail/us-east-1/2024/01/01/x.json.gz"),
        ]);
        assert_eq!(kept, vec![o("AWSLogs/1/CloudTrail/us-east-1/2024/01/01/x.json.gz")]);
    }
}
