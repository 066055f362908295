//! The dead-letter file: where every event that cannot be delivered goes, with its reason.
//!
//! One JSON object per line: when, the source file, the reason, and the event itself (the bulk
//! action and document for events Elasticsearch rejected; the raw record for events that could not
//! be made into documents, or, when redaction is on, its redacted document or only its length). The file is created on first use, appended to, and flushed after every
//! write, so an event is only counted as dead-lettered once it is on disk.

use crate::private_file::{self, How};
use serde::Serialize;
use serde_json::value::RawValue;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// What is wrong with the event, and the event.
#[derive(Serialize)]
pub struct DeadLetter<'a> {
    /// The log file the event came from.
    pub file: &'a str,
    /// Why it could not be delivered.
    pub reason: &'a str,
    /// HTTP status of the rejection, if Elasticsearch rejected it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The bulk action line, when the event got that far.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<&'a RawValue>,
    /// The document (valid JSON) or the raw record text.
    #[serde(flatten)]
    pub event: Payload<'a>,
}

/// The event as it was when it failed.
#[derive(Serialize)]
pub enum Payload<'a> {
    /// A JSON document.
    #[serde(rename = "document")]
    Json(&'a RawValue),
    /// Text that is not valid JSON (or not UTF-8, lossily decoded).
    #[serde(rename = "raw")]
    Text(String),
    /// Nothing of the event: redaction is on and the event could not be redacted (it is not a
    /// valid JSON object), so its text may hold what must not be written anywhere.
    #[serde(rename = "raw_withheld")]
    Withheld {
        /// Why the event is not here.
        note: &'static str,
        /// How long it was, in bytes.
        bytes: usize,
    },
}

impl<'a> Payload<'a> {
    /// A record whose text is withheld because redaction is on.
    pub fn withheld(bytes: usize) -> Self {
        Payload::Withheld { note: "raw text not written: redaction is on and this record is not a valid JSON object, so it could not be redacted", bytes }
    }

    /// JSON if the bytes parse as JSON, text otherwise.
    pub fn from_bytes(bytes: &'a [u8]) -> Self {
        match std::str::from_utf8(bytes).ok().and_then(|s| serde_json::from_str(s).ok()) {
            Some(raw) => Payload::Json(raw),
            None => Payload::Text(String::from_utf8_lossy(bytes).into_owned()),
        }
    }
}

/// The dead-letter file, shared by all stages.
pub struct DeadLetters {
    path: PathBuf,
    out: Mutex<Option<BufWriter<File>>>,
}

#[derive(Serialize)]
struct Line<'a> {
    at: String,
    #[serde(flatten)]
    letter: &'a DeadLetter<'a>,
}

impl DeadLetters {
    /// Dead letters will be appended to `path` (created when the first one arrives).
    pub fn new(path: PathBuf) -> Self {
        DeadLetters { path, out: Mutex::new(None) }
    }

    /// Where the dead letters go.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends the letters and flushes; on error none of them may be counted as written.
    pub fn write_all<'a>(&self, letters: impl IntoIterator<Item = DeadLetter<'a>>) -> io::Result<()> {
        let mut guard = self.out.lock().map_err(|_| io::Error::other("dead-letter lock poisoned"))?;
        if guard.is_none() {
            let file = private_file::open(&self.path, How::Append)?;
            *guard = Some(BufWriter::new(file));
        }
        let Some(out) = guard.as_mut() else { unreachable!("opened above") };
        let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        for letter in letters {
            serde_json::to_writer(&mut *out, &Line { at: at.clone(), letter: &letter })?;
            out.write_all(b"\n")?;
        }
        out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_are_json_lines_with_reason_and_event() {
        let dir = tempfile::tempdir().unwrap();
        let dl = DeadLetters::new(dir.path().join("dl.ndjson"));
        let action: &RawValue = serde_json::from_str(r#"{"create":{"_id":"1"}}"#).unwrap();
        dl.write_all([
            DeadLetter {
                file: "a.json.gz",
                reason: "mapper_parsing_exception: x",
                status: Some(400),
                action: Some(action),
                event: Payload::from_bytes(br#"{"eventID":"1"}"#),
            },
            DeadLetter {
                file: "b",
                reason: "bad",
                status: None,
                action: None,
                event: Payload::from_bytes(b"{nope"),
            },
        ])
        .unwrap();
        let text = std::fs::read_to_string(dl.path()).unwrap();
        let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines[0]["document"]["eventID"], "1");
        assert_eq!(lines[0]["action"]["create"]["_id"], "1");
        assert_eq!(lines[0]["status"], 400);
        assert_eq!(lines[1]["raw"], "{nope");
        dl.write_all([DeadLetter {
            file: "c",
            reason: "bad",
            status: None,
            action: None,
            event: Payload::withheld(42),
        }])
        .unwrap();
        let text = std::fs::read_to_string(dl.path()).unwrap();
        let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        assert_eq!(last["raw_withheld"]["bytes"], 42);
        assert!(last.get("raw").is_none());
        assert!(lines[1]["at"].as_str().unwrap().ends_with('Z'));
    }
}
