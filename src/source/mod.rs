//! Sources: where log files come from. A source emits each file as a [`Unit`]: the
//! [`LogFile`] (opened as a plain byte stream; decoding is the next stage's business) and the
//! [`FileAck`] its reader settles, while the source keeps the matching receipt and awaits it.
//!
//! Local files and folders (`local.rs`) and S3 prefixes (`s3/`) feed the same channel of files.
//! `layout.rs` knows CloudTrail's folder layout; `admit.rs` decides which files this run takes
//! (not already done according to `--state`, in this machine's `--shard`).
//! `dead_letter_reader/` reads a dead-letter file back, letter by letter, for `replay`.
//! `notice.rs` turns a notification into files for `lambda` (`follow`'s consumer keeps its own loop);
//! `lambda.rs` reads what a Lambda function is invoked with.

pub mod admit;
pub mod dead_letter_reader;
pub mod feed;
pub mod lambda;
pub mod layout;
pub mod local;
pub mod notice;
pub mod s3;
pub mod sqs;

use crate::ack::{FileAck, Receipt};
use bytes::Bytes;
use std::fs::File;
use std::io::{self, Cursor, Read};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::OwnedSemaphorePermit;

/// A SOURCE argument, as given on the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceSpec {
    /// A file or a folder, read recursively.
    Local(PathBuf),
    /// `s3://bucket/prefix`.
    S3 {
        /// Bucket name.
        bucket: String,
        /// Key prefix (may be empty).
        prefix: String,
    },
}

impl SourceSpec {
    /// Reads a SOURCE argument.
    pub fn parse(arg: &str) -> Self {
        match arg.strip_prefix("s3://") {
            Some(rest) => {
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                SourceSpec::S3 { bucket: bucket.into(), prefix: prefix.into() }
            }
            None => SourceSpec::Local(PathBuf::from(arg)),
        }
    }
}

/// Where a log file's bytes are.
pub enum Location {
    /// A file on this machine.
    Local(PathBuf),
    /// Downloaded already; the permit holds its share of the download memory budget.
    Memory(Bytes, OwnedSemaphorePermit),
    /// An open stream (a large S3 object's response body), read as it is decoded.
    Stream(Box<dyn Read + Send>),
}

/// One log file to ingest.
pub struct LogFile {
    /// How the file is shown to users: its path, or `s3://bucket/key`. Also its name in `--state`.
    pub name: Arc<str>,
    /// Where to read it.
    pub location: Location,
}

/// One file for the readers, with the acknowledgement they settle.
pub struct Unit {
    /// The file.
    pub file: LogFile,
    /// Settled by the reader and the output; its source holds the receipt.
    pub ack: FileAck,
}

impl Unit {
    /// Starts tracking `file`: the unit for the readers, and the receipt for its source.
    pub fn track(file: LogFile) -> (Unit, Receipt) {
        let (ack, receipt) = FileAck::new(file.name.clone());
        (Unit { file, ack }, receipt)
    }
}

impl LogFile {
    /// A file on this machine.
    pub fn local(path: PathBuf) -> Self {
        LogFile { name: path.display().to_string().into(), location: Location::Local(path) }
    }

    /// Bytes already in memory (a payload that came with a Lambda invocation), under `name`.
    pub fn in_memory(name: Arc<str>, bytes: Bytes) -> Self {
        LogFile { name, location: Location::Stream(Box::new(Cursor::new(bytes))) }
    }

    /// Opens the file's raw bytes.
    pub fn open(self) -> io::Result<Box<dyn Read + Send>> {
        match self.location {
            Location::Local(path) => Ok(Box::new(File::open(path)?)),
            Location::Memory(bytes, permit) => {
                Ok(Box::new(Held { inner: Cursor::new(bytes), _permit: permit }))
            }
            Location::Stream(stream) => Ok(stream),
        }
    }
}

/// A reader that keeps a memory-budget permit until it is dropped.
struct Held<R> {
    inner: R,
    _permit: OwnedSemaphorePermit,
}

impl<R: Read> Read for Held<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_told_apart() {
        assert_eq!(SourceSpec::parse("logs/"), SourceSpec::Local("logs/".into()));
        assert_eq!(
            SourceSpec::parse("s3://b/AWSLogs/1/"),
            SourceSpec::S3 { bucket: "b".into(), prefix: "AWSLogs/1/".into() }
        );
        assert_eq!(SourceSpec::parse("s3://b"), SourceSpec::S3 { bucket: "b".into(), prefix: "".into() });
    }

    #[test]
    fn digest_paths_are_recognised() {
        use layout::is_digest;
        assert!(is_digest("AWSLogs/1/CloudTrail-Digest/us-east-1/2024/01/01/x.json.gz"));
        assert!(
            is_digest("/tmp/logs/CloudTrail-Digest/x.json.gz") && is_digest("C:\\l\\CloudTrail-Digest\\x")
        );
        assert!(!is_digest("AWSLogs/1/CloudTrail-Insight/us-east-1/2024/01/01/x.json.gz"));
    }
}
