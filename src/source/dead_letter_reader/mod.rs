//! Reading a dead-letter file back, for `replay`: the source of letters, as `local.rs` is of log
//! files.
//!
//! The file is read line by line with a bound on each line ([`LineReader`]): a line longer than the
//! bound is skipped while it streams, never held whole. Each line is parsed into a [`Letter`]
//! (the format is documented at the top of `output/dead_letter/`): what is wrong with a line
//! that is not a letter is said in words that never quote it ([`NotALetter`]), since a letter
//! holds an event. Keys this reader does not know are ignored, as the format asks.

use serde_json::value::RawValue;
use std::collections::HashMap;
use std::io::{self, BufRead};

/// One dead letter, as written by `output/dead_letter/`.
#[derive(Debug)]
pub struct Letter {
    /// The log file the event came from.
    pub file: String,
    /// Why it was not delivered the first time.
    pub reason: String,
    /// The HTTP status of the cluster's refusal, if it refused it.
    pub status: Option<u16>,
    /// The bulk action line sent, if it got that far.
    pub action: Option<Box<RawValue>>,
    /// The `_index` that action line names.
    pub index: Option<String>,
    /// The event as it was kept.
    pub event: Kept,
}

/// The event, as the letter keeps it.
#[derive(Debug)]
pub enum Kept {
    /// `document`: a JSON object (redacted already when redaction was on).
    Document(Box<RawValue>),
    /// `raw` (its text) or `raw_base64` (decoded): the record's exact bytes.
    Raw(Vec<u8>),
    /// `raw_withheld`: nothing of the event was written.
    Withheld,
    /// `truncated`: only its size, hash and prefix were written.
    Truncated,
}

/// What replay does with a letter.
#[derive(Debug)]
pub enum Replay<'a> {
    /// Send `action` and `document` again, as they are.
    Resend {
        /// The bulk action line.
        action: &'a RawValue,
        /// The index it names.
        index: &'a str,
        /// The document, as sent.
        document: &'a RawValue,
    },
    /// Run these record bytes through the transform again, as backfill would.
    Encode(&'a [u8]),
    /// Nothing to send: the letter does not hold the event (`raw_withheld`, `truncated`).
    NotReplayable(&'static str),
}

impl Letter {
    /// What to do with it: a document that was sent (it has its action line) is sent again as it
    /// is; a record, or a document refused before it was sent, is encoded again.
    pub fn replay(&self) -> Replay<'_> {
        match (&self.event, &self.action, &self.index) {
            (Kept::Document(document), Some(action), Some(index)) => {
                Replay::Resend { action, index, document }
            }
            (Kept::Document(document), _, _) => Replay::Encode(document.get().as_bytes()),
            (Kept::Raw(bytes), _, _) => Replay::Encode(bytes),
            (Kept::Withheld, _, _) => Replay::NotReplayable("raw_withheld"),
            (Kept::Truncated, _, _) => Replay::NotReplayable("truncated"),
        }
    }
}

/// Why a line is not a dead letter, in words that never quote the line.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotALetter {
    /// Not JSON at all.
    #[error("not valid JSON (at column {0})")]
    NotJson(usize),
    /// JSON, but not an object.
    #[error("not a JSON object")]
    NotObject,
    /// A key every letter has is missing, or has the wrong type.
    #[error("`{0}` is missing or not {1}")]
    Key(&'static str, &'static str),
    /// None of the event keys.
    #[error("none of document, raw, raw_base64, raw_withheld, truncated")]
    NoEvent,
    /// More than one event key.
    #[error("more than one of document, raw, raw_base64, raw_withheld, truncated")]
    TwoEvents,
    /// `raw_base64` does not decode.
    #[error("`raw_base64` is not valid base64")]
    BadBase64,
    /// `action` is not a bulk action line.
    #[error("`action` is not a bulk action line ({{\"create\"|\"index\":{{\"_index\":…}}}})")]
    BadAction,
    /// The line is longer than the limit (it was skipped unread).
    #[error("longer than {limit} bytes ({bytes} bytes): skipped")]
    TooLong {
        /// Its length.
        bytes: u64,
        /// The limit.
        limit: usize,
    },
}

/// The keys of a bulk action line that replay needs.
#[derive(serde::Deserialize)]
struct ActionTarget<'a> {
    #[serde(rename = "_index", borrow)]
    _index: std::borrow::Cow<'a, str>,
}

/// Parses one line (without its newline) as a dead letter.
pub fn parse(line: &[u8]) -> Result<Letter, NotALetter> {
    let keys: HashMap<String, Box<RawValue>> =
        serde_json::from_slice(line).map_err(|e| match e.classify() {
            serde_json::error::Category::Data => NotALetter::NotObject,
            _ => NotALetter::NotJson(e.column()),
        })?;
    let string = |key: &'static str| -> Result<String, NotALetter> {
        let raw = keys.get(key).ok_or(NotALetter::Key(key, "a string"))?;
        serde_json::from_str(raw.get()).map_err(|_| NotALetter::Key(key, "a string"))
    };
    let file = string("file")?;
    let reason = string("reason")?;
    let status = match keys.get("status") {
        None => None,
        Some(raw) if raw.get() == "null" => None,
        Some(raw) => {
            Some(serde_json::from_str(raw.get()).map_err(|_| NotALetter::Key("status", "an HTTP status"))?)
        }
    };
    let action = keys.get("action").filter(|raw| raw.get() != "null").cloned();
    let index = action.as_deref().map(index_of).transpose()?;
    let present: Vec<&str> = ["document", "raw", "raw_base64", "raw_withheld", "truncated"]
        .into_iter()
        .filter(|k| keys.contains_key(*k))
        .collect();
    let event = match present[..] {
        [] => return Err(NotALetter::NoEvent),
        ["document"] => {
            let document = keys["document"].clone();
            if !document.get().starts_with('{') {
                return Err(NotALetter::Key("document", "a JSON object"));
            }
            Kept::Document(document)
        }
        ["raw"] => Kept::Raw(string("raw")?.into_bytes()),
        ["raw_base64"] => Kept::Raw(decode_base64(&string("raw_base64")?).ok_or(NotALetter::BadBase64)?),
        ["raw_withheld"] => Kept::Withheld,
        ["truncated"] => Kept::Truncated,
        _ => return Err(NotALetter::TwoEvents),
    };
    Ok(Letter { file, reason, status, action, index, event })
}

/// The `_index` of a bulk action line: `{"create":{"_index":"…",…}}` or `{"index":{…}}`, one key,
/// naming a string `_index`.
fn index_of(action: &RawValue) -> Result<String, NotALetter> {
    let map: HashMap<String, &RawValue> =
        serde_json::from_str(action.get()).map_err(|_| NotALetter::BadAction)?;
    match map.iter().next() {
        Some((op, target)) if map.len() == 1 && (op == "create" || op == "index") => {
            let target =
                serde_json::from_str::<ActionTarget>(target.get()).map_err(|_| NotALetter::BadAction)?;
            Ok(target._index.into_owned())
        }
        _ => Err(NotALetter::BadAction),
    }
}

/// Standard base64 with padding (as `output/dead_letter/` writes it); `None` if it is not.
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

/// One line of the file.
#[derive(Debug, PartialEq, Eq)]
pub enum Line<'a> {
    /// Its bytes, without the newline.
    Text(&'a [u8]),
    /// It was longer than the limit, this long: skipped, not held.
    TooLong(u64),
}

/// Reads lines of at most `limit` bytes; longer ones are skipped as they stream.
pub struct LineReader<R> {
    inner: R,
    limit: usize,
    line: Vec<u8>,
    number: u64,
}

impl<R: BufRead> LineReader<R> {
    /// Lines from `inner`, each at most `limit` bytes.
    pub fn new(inner: R, limit: usize) -> Self {
        LineReader { inner, limit, line: Vec::new(), number: 0 }
    }

    /// The next line and its number (from 1), or `None` at the end. A last line without a
    /// newline is a line.
    pub fn next_line(&mut self) -> io::Result<Option<(u64, Line<'_>)>> {
        self.line.clear();
        let (mut total, mut over, mut any) = (0u64, false, false);
        loop {
            let buf = self.inner.fill_buf()?;
            if buf.is_empty() {
                if !any {
                    return Ok(None);
                }
                break;
            }
            any = true;
            let (part, ends) = match memchr::memchr(b'\n', buf) {
                Some(i) => (&buf[..i], Some(i + 1)),
                None => (buf, None),
            };
            total += part.len() as u64;
            if !over && self.line.len() + part.len() > self.limit {
                over = true;
                self.line = Vec::new();
            }
            if !over {
                self.line.extend_from_slice(part);
            }
            let used = ends.unwrap_or(part.len());
            self.inner.consume(used);
            if ends.is_some() {
                break;
            }
        }
        self.number += 1;
        let line = if over { Line::TooLong(total) } else { Line::Text(&self.line) };
        Ok(Some((self.number, line)))
    }
}

#[cfg(test)]
mod tests;
