//! Decode: from the bytes of a log file to its events.
//!
//! A CloudTrail log file is `{"Records":[event, ...]}`, usually gzip'd. This stage detects the
//! compression by its magic bytes (never by the file name), then streams the `Records` array one
//! event at a time (`records.rs`), so memory does not depend on the size of the file. What is wrong
//! with a file is a [`DecodeError`] whose message says so in words a user can act on.

mod records;
mod scanner;

pub use records::{json_kind, read_records, FileKind};

use flate2::read::MultiGzDecoder;
use std::io::{self, BufRead, BufReader, Read};

/// Why a file could not be read (completely) as a CloudTrail log file.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The file has no bytes, or only whitespace.
    #[error("empty file")]
    Empty,
    /// The first byte is neither gzip's magic nor the start of a JSON object.
    #[error("not a CloudTrail log file: neither gzip nor a JSON object (starts with {0})")]
    NotJson(String),
    /// Reading or decompressing failed part-way.
    #[error("{context}: {source}")]
    Read {
        /// What was being read: "truncated or corrupt gzip data" or "read error".
        context: &'static str,
        /// The I/O error.
        source: io::Error,
    },
    /// The JSON text is malformed.
    #[error("{0}")]
    Syntax(String),
    /// A JSON object without a `Records` key.
    #[error("no \"Records\" array: not a CloudTrail log file")]
    NoRecords,
    /// `Records` holds something other than an array.
    #[error("\"Records\" is {0}, not an array")]
    RecordsNotArray(String),
    /// The consumer of events asked to stop (shutdown).
    #[error("stopped before the end of the file")]
    Stopped,
}

/// The compression found at the start of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// gzip, possibly several members back to back.
    Gzip,
    /// Plain text.
    None,
}

/// Wraps `raw` in the decompressor its first bytes call for.
pub fn decompress<'a, R: Read + 'a>(raw: R) -> io::Result<(Compression, Box<dyn Read + 'a>)> {
    let mut raw = BufReader::with_capacity(64 * 1024, raw);
    let head = raw.fill_buf()?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok((Compression::Gzip, Box::new(MultiGzDecoder::new(raw))))
    } else {
        Ok((Compression::None, Box::new(raw)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{write::GzEncoder, Compression as Level};
    use std::io::Write;

    pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Level::default());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    fn read_all(bytes: &[u8]) -> (Compression, Vec<u8>) {
        let (c, mut r) = decompress(bytes).unwrap();
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        (c, out)
    }

    #[test]
    fn gzip_is_detected_by_magic_not_name() {
        assert_eq!(read_all(&gzip(b"{}")), (Compression::Gzip, b"{}".to_vec()));
        assert_eq!(read_all(b"{}"), (Compression::None, b"{}".to_vec()));
    }

    #[test]
    fn multi_member_gzip_is_read_whole() {
        let mut both = gzip(b"{\"Records\":[");
        both.extend(gzip(b"{}]}"));
        assert_eq!(read_all(&both).1, b"{\"Records\":[{}]}".to_vec());
    }
}
