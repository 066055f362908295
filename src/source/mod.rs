//! Sources: where log files come from. A source yields [`LogFile`]s; each is opened as a plain
//! byte stream, and decoding is the next stage's business.
//!
//! Today: local files and folders (`local.rs`). S3 prefixes and SQS notifications slot in as more
//! [`Location`] kinds, feeding the same channel of files.

pub mod local;

use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::Arc;

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
#[derive(Clone, Debug)]
pub enum Location {
    /// A file on this machine.
    Local(PathBuf),
}

/// One log file to ingest.
#[derive(Clone, Debug)]
pub struct LogFile {
    /// How the file is shown to users: its path, or `s3://bucket/key`.
    pub name: Arc<str>,
    /// Where to read it.
    pub location: Location,
}

impl LogFile {
    /// A file on this machine.
    pub fn local(path: PathBuf) -> Self {
        LogFile { name: path.display().to_string().into(), location: Location::Local(path) }
    }

    /// Opens the file's raw bytes.
    pub fn open(&self) -> io::Result<Box<dyn Read + Send>> {
        match &self.location {
            Location::Local(path) => Ok(Box::new(File::open(path)?)),
        }
    }

    /// True for files under `CloudTrail-Digest/`: integrity digests, not logs.
    pub fn is_digest_path(&self) -> bool {
        self.name.contains("CloudTrail-Digest/") || self.name.contains("CloudTrail-Digest\\")
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
        let digest = LogFile::local("AWSLogs/1/CloudTrail-Digest/us-east-1/2024/01/01/x.json.gz".into());
        let insight = LogFile::local("AWSLogs/1/CloudTrail-Insight/us-east-1/2024/01/01/x.json.gz".into());
        assert!(digest.is_digest_path() && !insight.is_digest_path());
    }
}
