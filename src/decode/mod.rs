//! Decode: from the bytes of a log file to its events.
//!
//! What a file holds is told by its content, never by its name: gzip by its magic bytes (several
//! members back to back too, and gzip inside gzip, which Firehose writes when its compression is
//! on), then one of
//! - a CloudTrail log file `{"Records":[event, ...]}` (or a digest file, which has no events);
//! - CloudWatch Logs subscription payloads `{"messageType":"DATA_MESSAGE",…,"logEvents":[…]}`,
//!   one or many back to back, each event a JSON string in `message`; control messages are
//!   counted and skipped; a saved Lambda event `{"awslogs":{"data":"<base64 gzip>"}}` wraps one;
//! - a CloudWatch Logs export-task file: one `TIMESTAMP EVENT-JSON` line per event.
//!
//! Every shape is streamed one event at a time, each handed on as the raw JSON text a trail file
//! would hold, so the transform makes the same document of it. Memory is bounded whatever the
//! input: a record (or a top-level key or value) bigger than [`DecodeSettings::max_event_bytes`]
//! is skipped while it streams, never buffered, and reported as [`Item::TooLarge`]; gzip members
//! are held only up to [`DecodeSettings::hold_bytes`] (see `gzip.rs`). What is wrong with a file is
//! a [`Failure`] that says what, where, and how many events were handed on before it.

mod bytes;
mod cloudwatch;
mod context;
mod gzip;
mod layers;
mod records;
mod reuse;
mod scanner;

pub use bytes::{json_kind, value_kind, Strings};
pub use gzip::Trailing;
pub use records::{decode, read_records};

use std::io;

/// The largest record handed on by default: 16 MiB. CloudTrail caps events at 256 KB (event
/// version 1.05 and later; CloudTrail Lake's "Large" events are 1 MB), so no real event comes
/// near it, while it stays far below the 100 MB a cluster accepts in one request by default
/// (`http.max_content_length`) and bounds what one reader thread buffers.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 16 << 20;

/// How much decompressed text of one gzip member is held back until its checksum holds: 64 MiB.
/// A CloudTrail log file is one member with about five minutes of one region's events, a
/// CloudWatch Logs payload one member of about 1 MB at most: practically every member is held,
/// and a reader thread never holds more than this (plus one record of `max_event_bytes`, and the
/// start of a compressed file too long to read ahead whole: an eighth of this at most).
pub const DEFAULT_HOLD_BYTES: usize = 64 << 20;

/// How much of a skipped record is kept for its report.
pub const DEFAULT_PREFIX_BYTES: usize = 1024;

/// The limits of one decode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeSettings {
    /// A record, top-level key or skipped top-level value bigger than this (in bytes of JSON
    /// text) is not buffered: it is skipped and reported as [`Item::TooLarge`].
    pub max_event_bytes: usize,
    /// A gzip member whose text is no bigger than this is held until its CRC holds, so that no
    /// event of a damaged member is handed on; a bigger one streams (see [`Failure::unverified`]).
    pub hold_bytes: usize,
    /// How many bytes of a skipped record a [`TooLarge`] report keeps.
    pub prefix_bytes: usize,
}

impl Default for DecodeSettings {
    fn default() -> Self {
        DecodeSettings {
            max_event_bytes: DEFAULT_MAX_EVENT_BYTES,
            hold_bytes: DEFAULT_HOLD_BYTES,
            prefix_bytes: DEFAULT_PREFIX_BYTES,
        }
    }
}

/// What the decoder hands to its caller, one at a time.
#[derive(Debug)]
pub enum Item<'a> {
    /// An event: record `index` of the file (counted from 0 across all its payloads) and its
    /// JSON text, unvalidated.
    Event {
        /// The record number in the file.
        index: u64,
        /// The event's JSON text.
        bytes: &'a [u8],
    },
    /// Something too big to buffer, skipped. A record's index is used up, so that the next
    /// event keeps its number.
    TooLarge(TooLarge<'a>),
}

/// Where a skipped piece of a file was.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    /// Record `index` (an event; for CloudWatch Logs, one log event's `message`).
    Record(u64),
    /// A top-level key.
    Key,
    /// The value of the top-level key (or `awslogs.data`) named; cut to 100 bytes.
    Value(String),
}

/// A record, key or value bigger than [`DecodeSettings::max_event_bytes`].
#[derive(Debug)]
pub struct TooLarge<'a> {
    /// What it was.
    pub part: Part,
    /// Its whole size in bytes of JSON text (of unescaped text for a CloudWatch Logs message).
    pub size: u64,
    /// Where it starts, in bytes of decompressed text (of the payload, for a Lambda event).
    pub offset: u64,
    /// Its first bytes (at most [`DecodeSettings::prefix_bytes`]; may end inside a character).
    pub prefix: &'a [u8],
    /// The limit it is over.
    pub limit: usize,
}

impl std::fmt::Display for TooLarge<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.part {
            Part::Record(i) => write!(f, "record {i}")?,
            Part::Key => write!(f, "a top-level key")?,
            Part::Value(key) => write!(f, "the value of {key:?}")?,
        }
        write!(
            f,
            " (at byte {}) is {} bytes, over the limit of {} bytes: skipped",
            self.offset, self.size, self.limit
        )
    }
}

/// What a file turned out to hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A CloudTrail log file (`Records`).
    Trail,
    /// A CloudTrail digest file: nothing to index.
    Digest,
    /// CloudWatch Logs subscription payloads (as Firehose writes them to S3).
    Subscription,
    /// Saved Lambda events carrying a subscription payload (`awslogs.data`).
    LambdaEvent,
    /// A CloudWatch Logs export-task file (`TIMESTAMP EVENT` lines).
    Export,
}

/// A file read to its end: every record in it was handed on, as an event or as too large.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decoded {
    /// What it held.
    pub format: Format,
    /// Events handed on ([`Item::Event`]).
    pub events: u64,
    /// Records, keys and values skipped as too large ([`Item::TooLarge`]).
    pub too_large: u64,
    /// CloudWatch Logs control messages skipped (each has no event).
    pub control_messages: u64,
    /// Bytes after the last gzip member that were ignored: zero padding, or (after a complete
    /// CloudTrail document, where nothing may follow) bytes that are not gzip.
    pub trailing: Option<Trailing>,
}

/// A compact view of a [`Decoded`] for callers that only tell logs from digests.
#[derive(Debug, PartialEq, Eq)]
pub enum FileKind {
    /// A file with events (any format but a digest); the number of records.
    Log(u64),
    /// A CloudTrail digest file: nothing to index.
    Digest,
}

impl Decoded {
    /// Logs or digest, with the number of records.
    pub fn kind(&self) -> FileKind {
        match self.format {
            Format::Digest => FileKind::Digest,
            _ => FileKind::Log(self.events + self.too_large),
        }
    }
}

/// A file that could not be read to its end: the error, and what was handed on before it.
#[derive(Debug, thiserror::Error)]
#[error("{error}{}", released_note(*.released, *.unverified))]
pub struct Failure {
    /// What went wrong.
    pub error: DecodeError,
    /// Events handed on before it ([`Item::Event`]).
    pub released: u64,
    /// Of those, how many came from the damaged gzip member before its checksum could be
    /// checked (it was bigger than [`DecodeSettings::hold_bytes`]): they may be altered, and a
    /// re-run should replace, not keep, what they became. 0 when nothing unchecked was handed on.
    pub unverified: u64,
}

fn released_note(released: u64, unverified: u64) -> String {
    match (released, unverified) {
        (0, _) => " (no event was read before it)".to_string(),
        (n, 0) => format!(" ({n} events before it were read)"),
        (n, u) => format!(
            " ({n} events before it were read; {u} of them came from the damaged gzip member, \
             too big to hold back until its checksum, and may be altered)"
        ),
    }
}

/// Why a file could not be read (completely).
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The file has no bytes, or only whitespace.
    #[error("empty file")]
    Empty,
    /// The first byte is neither gzip's magic nor the start of a JSON object.
    #[error("not a CloudTrail log file: neither gzip nor a JSON object (starts with {0})")]
    NotJson(String),
    /// Reading the file (or the download) failed: trying again may work.
    #[error("read error: {0}")]
    Source(io::Error),
    /// The gzip data ends inside a member.
    #[error("truncated gzip data: the file ends inside gzip member {member}")]
    Truncated {
        /// Which member (from 1).
        member: u64,
    },
    /// A gzip member is damaged (bad deflate data or checksum).
    #[error("corrupt gzip data in member {member}: {source}")]
    Corrupt {
        /// Which member (from 1).
        member: u64,
        /// What flate2 said.
        source: io::Error,
    },
    /// Bytes after the last gzip member that are not gzip, where more payloads could follow:
    /// they may be a damaged member, whose payloads would be lost.
    #[error(
        "{bytes} bytes after gzip member {members} are not gzip data (a damaged member?): \
         the payloads before them were read"
    )]
    TrailingGarbage {
        /// How many bytes.
        bytes: u64,
        /// Members before them.
        members: u64,
    },
    /// The JSON text is malformed.
    #[error("{0}")]
    Syntax(String),
    /// A JSON object that is neither a CloudTrail log file nor a CloudWatch Logs payload.
    #[error("no \"Records\" array: not a CloudTrail log file (nor a CloudWatch Logs payload)")]
    NoRecords,
    /// `Records` holds something other than an array.
    #[error("\"Records\" is {0}, not an array")]
    RecordsNotArray(String),
    /// `logEvents` holds something other than an array, or an entry that is not an object.
    #[error("{0}")]
    LogEvents(String),
    /// A CloudWatch Logs payload of a type other than DATA_MESSAGE and CONTROL_MESSAGE.
    #[error("unknown CloudWatch Logs messageType {0:?}")]
    MessageType(String),
    /// `awslogs.data` of a Lambda event is not a base64 gzip'd payload.
    #[error("awslogs.data: {0}")]
    Lambda(Box<DecodeError>),
    /// Something too big to buffer (only from [`read_records`], which has no way to report it).
    #[error("{0}")]
    TooLarge(String),
    /// The consumer of events asked to stop (shutdown).
    #[error("stopped before the end of the file")]
    Stopped,
}

#[cfg(test)]
mod tests;
