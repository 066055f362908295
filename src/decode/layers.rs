//! The layers under the JSON text: the source, then gzip (once, or twice: Firehose with its own
//! compression on wraps CloudWatch Logs' gzip'd payloads in another gzip), chosen by content.
//! The layers also turn an I/O error into words: a failing source (trying again may work), a
//! truncated or a corrupt gzip member, and where.

use super::context::WalkError;
use super::gzip::{GzState, Members, Source, Trailing, MAGIC};
use super::reuse::Buffered;
use super::scanner::ScanError;
use super::DecodeError;
use flate2::bufread::GzDecoder;
use std::cell::Cell;
use std::io::{self, BufRead, BufReader, Read};
use std::rc::Rc;

const BUFFER: usize = 64 * 1024;

/// What the layers under a file's text report.
pub struct Layers {
    /// The gzip layer next to the text (a fresh, quiet state for plain text).
    pub gz: Rc<GzState>,
    /// The outer gzip layer when there are two.
    outer: Option<Rc<GzState>>,
    compressed: bool,
    source_failed: Rc<Cell<bool>>,
}

/// The text to scan.
pub type Text<'a> = Box<dyn Read + 'a>;

/// Opens the layers of `raw`, holding gzip members of up to `hold` bytes (see `gzip.rs`).
pub fn open<'a, R: Read + 'a>(raw: R, hold: usize) -> io::Result<(Text<'a>, Layers)> {
    let source_failed = Rc::new(Cell::new(false));
    let mut raw = Buffered::new(Source::new(raw, source_failed.clone()), BUFFER);
    let gz = Rc::new(GzState::default());
    let head = raw.fill_buf()?;
    if !head.starts_with(&MAGIC) {
        return Ok((Box::new(raw), Layers { gz, outer: None, compressed: false, source_failed }));
    }
    if !starts_gzip_again(head) {
        let text = Box::new(Members::new(raw, hold, gz.clone()));
        return Ok((text, Layers { gz, outer: None, compressed: true, source_failed }));
    }
    // The inner members are what can be held and checked: each is one payload. The outer
    // layer streams; a damaged outer member corrupts inner ones, whose checksums then fail.
    let outer = Rc::new(GzState::default());
    let inner = BufReader::with_capacity(BUFFER, Members::new(raw, 0, outer.clone()));
    let text = Box::new(Members::new(inner, hold, gz.clone()));
    Ok((text, Layers { gz, outer: Some(outer), compressed: true, source_failed }))
}

/// Whether the gzip data at the start of `head` decompresses to gzip data.
fn starts_gzip_again(head: &[u8]) -> bool {
    let mut two = [0u8; 2];
    GzDecoder::new(head).read_exact(&mut two).is_ok() && two == MAGIC
}

impl Layers {
    /// Bytes after the last gzip member, in either layer.
    pub fn trailing(&self) -> Option<Trailing> {
        self.outer.as_ref().and_then(|o| o.trailing.get()).or(self.gz.trailing.get())
    }

    /// Non-padding bytes after the last gzip member.
    pub fn garbage(&self) -> Option<Trailing> {
        self.trailing().filter(|t| !t.padding)
    }

    /// Events handed on from the current member before its checksum was checked.
    pub fn unverified(&self) -> u64 {
        // Only the inner layer counts: in two layers, the outer one streams, and the inner
        // members' checksums check what it passed on.
        if self.gz.unverified.get() {
            self.gz.unverified_events.get()
        } else {
            0
        }
    }

    /// The words for what stopped the walk.
    pub fn error(&self, err: WalkError) -> DecodeError {
        match err {
            WalkError::Decode(e) => e,
            WalkError::Scan(ScanError::Io(e)) if self.source_failed.get() || !self.compressed => {
                DecodeError::Source(e)
            }
            WalkError::Scan(ScanError::Io(e)) => {
                let member = self.gz.member.get().max(1);
                if e.kind() == io::ErrorKind::UnexpectedEof {
                    DecodeError::Truncated { member }
                } else {
                    DecodeError::Corrupt { member, source: e }
                }
            }
            WalkError::Scan(e @ ScanError::Eof(_)) => match self.garbage() {
                Some(t) => DecodeError::TrailingGarbage { bytes: t.bytes, members: t.members },
                None => DecodeError::Syntax(e.to_string()),
            },
            WalkError::Scan(e) => DecodeError::Syntax(e.to_string()),
        }
    }
}
