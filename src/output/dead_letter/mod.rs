//! The dead-letter file: where every event that cannot be delivered goes, with its reason, so that
//! it can be looked at and sent again once the cause is fixed.
//!
//! # Line format
//!
//! UTF-8, one JSON object per line ending in `\n`, appended (nothing else is ever in the file).
//! Every letter has these keys, in this order:
//!
//! | key | present | what |
//! |---|---|---|
//! | `at` | always | when it was written: RFC 3339, UTC, milliseconds (`2024-05-01T10:00:00.123Z`) |
//! | `file` | always | the log file the event came from (a path, or `s3://bucket/key`) |
//! | `reason` | always | why it was not delivered: one line, never a value of the event |
//! | `status` | refused by the cluster | the HTTP status of the refusal |
//! | `action` | refused by the cluster | the bulk action line sent, `{"create":{"_index":…,"_id":…}}` |
//!
//! and exactly one of:
//!
//! | key | what | replay |
//! |---|---|---|
//! | `document` | the document, JSON, exactly as sent (redacted when redaction was on) | send `action` + `document` again |
//! | `raw` | the record's exact text, when it is not a JSON document: not JSON, or nested deeper than 126 levels | encode the text again |
//! | `raw_base64` | the record's exact bytes, standard base64 with padding, when they are not UTF-8 or are mostly control bytes | decode, encode again |
//! | `raw_withheld` | `{"note": TEXT, "bytes": N}`: redaction was on and the record is not a JSON object, so it could not be redacted and is not written | not replayable |
//! | `truncated` | `{"bytes": N, "sha256": HEX, "prefix": TEXT}` (no `sha256` for a record skipped while reading, as over `--max-event-bytes`; no prefix with redaction on): the document or record was over the limit (default 1 MiB, [`DEFAULT_MAX_DOCUMENT`]): its size, the SHA-256 of all of it, and its first 4 KiB as text (invalid UTF-8 replaced) | not replayable |
//!
//! A letter is at most 127 levels deep (a `document` at most 126), so every JSON reader reads it:
//! `serde_json` (127 levels), Python's `json` (about 1,000), jq 1.6 (256).
//! Readers should ignore keys they do not know.
//!
//! # Writing
//!
//! The letters of one call are rendered in memory, appended with one write, flushed and synced to
//! disk before [`DeadLetters::write_all`] returns `Ok`: only then may they be counted. If the write
//! fails (a full disk), the file is cut back to its length before it, so no fragment is ever glued
//! to the next letter; if even that fails, the file is reopened for the next call. On opening, a
//! torn last line (a crash mid-write) is cut off. One process writes one file. It is created on first
//! use, readable by its owner only (`private_file.rs`).

use crate::ack::Delivery;
use crate::output::batch::ActionLine;
use crate::private_file::{self, How};
use crate::stats::Stats;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The default limit on the document or record kept in one letter, in bytes.
pub const DEFAULT_MAX_DOCUMENT: usize = 1 << 20;
/// The bytes of an over-long document kept as its prefix.
const PREFIX_BYTES: usize = 4096;
/// Deeper documents are kept as `raw` text, so every JSON reader can read the letter.
const MAX_JSON_DEPTH: usize = 126;

/// What is wrong with the event, and the event.
pub struct DeadLetter<'a> {
    /// The log file the event came from.
    pub file: &'a str,
    /// Why it could not be delivered.
    pub reason: &'a str,
    /// HTTP status of the rejection, if Elasticsearch rejected it.
    pub status: Option<u16>,
    /// The bulk action line, when the event got that far.
    pub action: Option<ActionLine<'a>>,
    /// The document or the raw record.
    pub event: Payload<'a>,
}

/// The event as it was when it failed.
pub enum Payload<'a> {
    /// A JSON document (at most `MAX_JSON_DEPTH`, 126, levels deep): `document`.
    Json(&'a RawValue),
    /// A record that is not one, byte for byte: `raw` or `raw_base64`.
    Raw(&'a [u8]),
    /// Nothing of the event: redaction is on and the event could not be redacted (it is not a
    /// valid JSON object), so its text may hold what must not be written anywhere.
    Withheld {
        /// How long it was, in bytes.
        bytes: usize,
    },
    /// A record too big to read, skipped while streaming: its size and, unless redaction is on,
    /// its first bytes (`truncated`, without `sha256`: the whole was never held).
    Skipped {
        /// Its whole size, in bytes.
        bytes: u64,
        /// Its first bytes (empty when redaction is on).
        prefix: &'a [u8],
    },
}

impl<'a> Payload<'a> {
    /// A record whose text is withheld because redaction is on.
    pub fn withheld(bytes: usize) -> Self {
        Payload::Withheld { bytes }
    }

    /// A document if the bytes are JSON no deeper than 126 levels, the raw record otherwise.
    pub fn from_bytes(bytes: &'a [u8]) -> Self {
        let json = std::str::from_utf8(bytes)
            .ok()
            .filter(|_| json_depth(bytes) <= MAX_JSON_DEPTH)
            .and_then(|s| serde_json::from_str(s).ok());
        match json {
            Some(raw) => Payload::Json(raw),
            None => Payload::Raw(bytes),
        }
    }

    fn len(&self) -> usize {
        match self {
            Payload::Json(raw) => raw.get().len(),
            Payload::Raw(bytes) => bytes.len(),
            Payload::Withheld { .. } | Payload::Skipped { .. } => 0,
        }
    }

    fn bytes(&self) -> &[u8] {
        match self {
            Payload::Json(raw) => raw.get().as_bytes(),
            Payload::Raw(bytes) => bytes,
            Payload::Withheld { .. } | Payload::Skipped { .. } => &[],
        }
    }
}

/// The dead-letter file, shared by all stages.
pub struct DeadLetters {
    path: PathBuf,
    max_document: usize,
    out: Mutex<Option<File>>,
}

impl DeadLetters {
    /// Dead letters will be appended to `path` (created when the first one arrives), each keeping
    /// up to [`DEFAULT_MAX_DOCUMENT`] bytes of its event.
    pub fn new(path: PathBuf) -> Self {
        DeadLetters::with_limit(path, DEFAULT_MAX_DOCUMENT)
    }

    /// The same with another limit on the event kept in a letter.
    pub fn with_limit(path: PathBuf, max_document: usize) -> Self {
        DeadLetters { path, max_document, out: Mutex::new(None) }
    }

    /// Where the dead letters go.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes one letter and counts it: [`Delivery::DeadLettered`] once it is durable, else
    /// [`Delivery::Failed`] (logged, counted as failed): what the caller settles its ack with.
    pub fn write_counted(&self, letter: DeadLetter<'_>, stats: &Stats) -> Delivery {
        match self.write_all([letter]) {
            Ok(()) => {
                Stats::add(&stats.events_dead, 1);
                Delivery::DeadLettered
            }
            Err(e) => {
                tracing::error!("cannot write dead letter to {}: {e}", self.path().display());
                Stats::add(&stats.events_failed, 1);
                Delivery::Failed
            }
        }
    }

    /// Appends the letters, whole, and syncs them to disk; on error none of them is in the file
    /// and none may be counted as written.
    pub fn write_all<'a>(&self, letters: impl IntoIterator<Item = DeadLetter<'a>>) -> io::Result<()> {
        let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut text = Vec::new();
        for letter in letters {
            self.render(&at, &letter, &mut text)?;
        }
        let mut guard = self.out.lock().map_err(|_| io::Error::other("dead-letter lock poisoned"))?;
        if guard.is_none() {
            let mut file = private_file::open(&self.path, How::ReadAppend)?;
            cut_torn_line(&mut file)?;
            *guard = Some(file);
        }
        let Some(file) = guard.as_mut() else { unreachable!("opened above") };
        let start = file.metadata()?.len();
        let written = file.write_all(&text).and_then(|()| file.flush()).and_then(|()| file.sync_data());
        if let Err(e) = written {
            if file.set_len(start).is_err() {
                *guard = None;
            }
            return Err(e);
        }
        Ok(())
    }

    /// One letter as a line of JSON (see the module docs).
    fn render(&self, at: &str, letter: &DeadLetter, out: &mut Vec<u8>) -> io::Result<()> {
        let string = |out: &mut Vec<u8>, key: &str, value: &str| -> io::Result<()> {
            out.extend_from_slice(format!(",\"{key}\":").as_bytes());
            serde_json::to_writer(&mut *out, value).map_err(io::Error::from)
        };
        out.push(b'{');
        out.extend_from_slice(b"\"at\":");
        serde_json::to_writer(&mut *out, at)?;
        string(out, "file", letter.file)?;
        string(out, "reason", letter.reason)?;
        if let Some(status) = letter.status {
            out.extend_from_slice(format!(",\"status\":{status}").as_bytes());
        }
        if let Some(action) = &letter.action {
            out.extend_from_slice(b",\"action\":");
            action.write(out);
        }
        let event = &letter.event;
        match event {
            Payload::Withheld { bytes } => {
                let note = "raw text not written: redaction is on and this record is not a valid JSON object, so it could not be redacted";
                let value = serde_json::json!({"note": note, "bytes": bytes});
                out.extend_from_slice(format!(",\"raw_withheld\":{value}").as_bytes());
            }
            Payload::Skipped { bytes, prefix } => {
                let prefix = String::from_utf8_lossy(&prefix[..PREFIX_BYTES.min(prefix.len())]);
                let value = serde_json::json!({"bytes": bytes, "prefix": prefix});
                out.extend_from_slice(format!(",\"truncated\":{value}").as_bytes());
            }
            _ if event.len() > self.max_document => {
                let bytes = event.bytes();
                let prefix = String::from_utf8_lossy(&bytes[..PREFIX_BYTES.min(bytes.len())]);
                let sha256: String = Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect();
                let value = serde_json::json!({"bytes": bytes.len(), "sha256": sha256, "prefix": prefix});
                out.extend_from_slice(format!(",\"truncated\":{value}").as_bytes());
            }
            Payload::Json(raw) => {
                out.extend_from_slice(b",\"document\":");
                out.extend_from_slice(compact_line(raw.get()).as_bytes());
            }
            Payload::Raw(bytes) => match std::str::from_utf8(bytes) {
                Ok(text) if bytes.iter().filter(|&&b| b < 0x20).count() * 8 <= bytes.len() => {
                    string(out, "raw", text)?
                }
                _ => string(out, "raw_base64", &base64(bytes))?,
            },
        }
        out.extend_from_slice(b"}\n");
        Ok(())
    }
}

/// A JSON text on one line: a pretty-printed record's line breaks are whitespace outside strings
/// (inside them JSON has none), so they become spaces.
fn compact_line(json: &str) -> std::borrow::Cow<'_, str> {
    if json.contains(['\n', '\r']) {
        json.replace(['\n', '\r'], " ").into()
    } else {
        json.into()
    }
}

/// How deep the arrays and objects of a JSON text go (strings skipped); stops counting past
/// [`MAX_JSON_DEPTH`].
fn json_depth(text: &[u8]) -> usize {
    let (mut depth, mut max, mut strings) = (0usize, 0usize, crate::decode::Strings::default());
    for &b in text {
        if !strings.outside(b) {
            continue;
        }
        match b {
            b'{' | b'[' => {
                depth += 1;
                max = max.max(depth);
                if max > MAX_JSON_DEPTH {
                    return max;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// Standard base64 with padding.
fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Cuts a torn last line (a crash mid-write) off the file, so the next letter starts a line.
fn cut_torn_line(file: &mut File) -> io::Result<()> {
    let len = file.metadata()?.len();
    let mut end = len;
    let mut chunk = vec![0u8; 64 << 10];
    while end > 0 {
        let start = end.saturating_sub(chunk.len() as u64);
        let part = &mut chunk[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(part)?;
        if let Some(i) = part.iter().rposition(|&b| b == b'\n') {
            end = start + i as u64 + 1;
            break;
        }
        end = start;
    }
    if end < len {
        file.set_len(end)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
