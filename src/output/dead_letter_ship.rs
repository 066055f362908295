//! Dead letters somewhere that lasts when this process's disk does not (a Lambda function's
//! `/tmp` goes with its execution environment): objects under an S3 prefix, or messages on an
//! SQS queue.
//!
//! Letters are first written as always (`dead_letter/`: whole lines, synced) to a spool file of
//! one invocation, then shipped whole before the invocation answers: to S3 as one object
//! (`PREFIX/YYYY/MM/DD/TIME-NAME.ndjson`, a put is all or nothing), to SQS as one message per
//! letter. Until shipping succeeded nothing dead-lettered counts as done: the caller fails the
//! messages whose events went to that spool, so they come back and their letters are written
//! again. A letter may then be in the destination twice; sending letters again (`replay`) is
//! idempotent.

use crate::errors::chain;
use aws_sdk_s3::primitives::ByteStream;
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// An SQS message body is at most 256 KiB on queues made before 2025: a letter's document is kept
/// whole up to this size (twice that with escapes or base64 is still under the limit).
const SQS_MAX_DOCUMENT: usize = 128 << 10;
/// The size of one SendMessageBatch, all messages together (the older limit, as above).
const SQS_BATCH_BYTES: usize = 240 << 10;
/// Messages in one SendMessageBatch, the API's maximum.
const SQS_BATCH: usize = 10;

/// Where dead letters go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    /// A file on this machine, appended to as letters come.
    File(PathBuf),
    /// Objects under `s3://bucket/prefix`.
    S3 {
        /// The bucket.
        bucket: String,
        /// Their keys' start: empty, or ending in `/`.
        prefix: String,
    },
    /// Messages on this SQS queue (its URL).
    Sqs(String),
}

impl Destination {
    /// `s3://BUCKET/PREFIX`, an SQS queue URL (`https://…`), or a file path.
    pub fn parse(text: &str) -> Result<Destination, String> {
        if let Some(rest) = text.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(format!("{text:?} names no bucket: write s3://BUCKET/PREFIX"));
            }
            let mut prefix = prefix.to_string();
            if !prefix.is_empty() && !prefix.ends_with('/') {
                prefix.push('/');
            }
            return Ok(Destination::S3 { bucket: bucket.into(), prefix });
        }
        if text.starts_with("https://") || text.starts_with("http://") {
            return Ok(Destination::Sqs(text.into()));
        }
        Ok(Destination::File(text.into()))
    }

    /// True for a destination this process ships to (not a local file).
    pub fn is_remote(&self) -> bool {
        !matches!(self, Destination::File(_))
    }

    /// The largest document a letter keeps whole, given what was asked for.
    pub fn max_document(&self, asked: usize) -> usize {
        match self {
            Destination::Sqs(_) => asked.min(SQS_MAX_DOCUMENT),
            _ => asked,
        }
    }
}

impl std::fmt::Display for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Destination::File(path) => write!(f, "{}", path.display()),
            Destination::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
            Destination::Sqs(url) => write!(f, "{url}"),
        }
    }
}

/// Ships spooled letters to an S3 prefix or an SQS queue.
pub struct Shipper {
    destination: Destination,
    s3: aws_sdk_s3::Client,
    sqs: aws_sdk_sqs::Client,
}

impl Shipper {
    /// A shipper to `destination` with clients from `aws`.
    pub fn new(destination: Destination, aws: &aws_config::SdkConfig) -> Self {
        let s3 = crate::aws::s3_client(aws);
        Shipper { destination, s3, sqs: aws_sdk_sqs::Client::new(aws) }
    }

    /// Where it ships.
    pub fn destination(&self) -> &Destination {
        &self.destination
    }

    /// Ships the letters in `spool` (nothing if it does not exist) as `name`; the number shipped.
    /// On an error some letters may have gone; none may be counted as shipped.
    pub async fn ship(&self, spool: &Path, name: &str) -> Result<u64, String> {
        let letters = match std::fs::metadata(spool) {
            Ok(m) if m.len() > 0 => count_lines(spool)?,
            _ => return Ok(0),
        };
        match &self.destination {
            Destination::File(_) => Ok(0),
            Destination::S3 { bucket, prefix } => {
                let key =
                    format!("{prefix}{}-{name}.ndjson", chrono::Utc::now().format("%Y/%m/%d/%H%M%S%.3fZ"));
                let body =
                    ByteStream::from_path(spool).await.map_err(|e| format!("cannot read the spool: {e}"))?;
                let put = self.s3.put_object().bucket(bucket).key(&key).content_type("application/x-ndjson");
                put.body(body).send().await.map_err(|e| format!("s3://{bucket}/{key}: {}", describe(&e)))?;
                tracing::info!("{letters} dead letters written to s3://{bucket}/{key}");
                Ok(letters)
            }
            Destination::Sqs(queue) => {
                self.send_lines(queue, spool).await?;
                tracing::info!("{letters} dead letters sent to {queue}");
                Ok(letters)
            }
        }
    }

    /// One message per letter, in batches within the API's limits.
    async fn send_lines(&self, queue: &str, spool: &Path) -> Result<(), String> {
        let file = std::fs::File::open(spool).map_err(|e| format!("cannot read the spool: {e}"))?;
        let mut batch: Vec<String> = Vec::new();
        let mut bytes = 0;
        for line in std::io::BufReader::new(file).lines() {
            let line = line.map_err(|e| format!("cannot read the spool: {e}"))?;
            if !batch.is_empty() && (batch.len() == SQS_BATCH || bytes + line.len() > SQS_BATCH_BYTES) {
                self.send_batch(queue, std::mem::take(&mut batch)).await?;
                bytes = 0;
            }
            bytes += line.len();
            batch.push(line);
        }
        if !batch.is_empty() {
            self.send_batch(queue, batch).await?;
        }
        Ok(())
    }

    async fn send_batch(&self, queue: &str, letters: Vec<String>) -> Result<(), String> {
        use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
        let entries = letters
            .into_iter()
            .enumerate()
            .map(|(i, body)| {
                SendMessageBatchRequestEntry::builder().id(i.to_string()).message_body(body).build()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        let sent = self.sqs.send_message_batch().queue_url(queue).set_entries(Some(entries)).send().await;
        let sent = sent.map_err(|e| format!("{queue}: {}", chain(&e)))?;
        match sent.failed.first() {
            None => Ok(()),
            Some(f) => Err(format!(
                "{queue}: {} letters refused ({}: {})",
                sent.failed.len(),
                f.code,
                f.message.as_deref().unwrap_or_default()
            )),
        }
    }
}

/// An S3 or SQS error with its code first (`AccessDenied`, `NoSuchBucket`), then the chain.
fn describe<E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static>(e: &E) -> String {
    match e.code() {
        Some("AccessDenied") => {
            "access denied: the function's role needs s3:PutObject on the dead-letter prefix".into()
        }
        Some("NoSuchBucket") => "the bucket does not exist".into(),
        Some(code) => format!("{code}: {}", chain(e)),
        None => chain(e),
    }
}

fn count_lines(path: &Path) -> Result<u64, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read the spool: {e}"))?;
    let mut n = 0;
    for line in std::io::BufReader::new(file).split(b'\n') {
        line.map_err(|e| format!("cannot read the spool: {e}"))?;
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_are_told_apart() {
        assert_eq!(
            Destination::parse("s3://dl-bucket/cloudtrail").unwrap(),
            Destination::S3 { bucket: "dl-bucket".into(), prefix: "cloudtrail/".into() }
        );
        assert_eq!(
            Destination::parse("s3://dl-bucket").unwrap(),
            Destination::S3 { bucket: "dl-bucket".into(), prefix: String::new() }
        );
        assert!(Destination::parse("s3:///x").unwrap_err().contains("names no bucket"));
        let q = "https://sqs.us-east-1.amazonaws.com/111122223333/dead";
        assert_eq!(Destination::parse(q).unwrap(), Destination::Sqs(q.into()));
        assert_eq!(
            Destination::parse("/mnt/efs/dl.ndjson").unwrap(),
            Destination::File("/mnt/efs/dl.ndjson".into())
        );
        assert!(!Destination::parse("dl.ndjson").unwrap().is_remote());
        assert_eq!(Destination::Sqs(q.into()).max_document(1 << 20), 128 << 10);
        assert_eq!(Destination::parse("s3://b/p/").unwrap().to_string(), "s3://b/p/");
    }
}
