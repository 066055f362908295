//! The state of one decode, shared by the walks over each shape (`records.rs`, `cloudwatch.rs`):
//! the caller's callback, the one reused record buffer, the counts, and why a walk stopped.
//!
//! Every record is captured into `Ctx::event`, bounded by `max_event_bytes`; a part over the limit
//! is reported (with a prefix) instead of buffered, so memory stays bounded on any input.

use super::gzip::GzState;
use super::scanner::{Bounded, ScanError, Scanner};
use super::{DecodeError, DecodeSettings, Item, Part, TooLarge};
use std::io::Read;
use std::ops::ControlFlow;
use std::rc::Rc;

/// Keys longer than this are none of those the decoder looks for.
const KEY_MAX: usize = 64;

/// Why a walk stopped.
#[derive(Debug)]
pub enum WalkError {
    /// The scanner failed (I/O, syntax).
    Scan(ScanError),
    /// A problem in the decoder's own words.
    Decode(DecodeError),
}

impl From<ScanError> for WalkError {
    fn from(e: ScanError) -> Self {
        WalkError::Scan(e)
    }
}

impl From<DecodeError> for WalkError {
    fn from(e: DecodeError) -> Self {
        WalkError::Decode(e)
    }
}

/// The state of one decode: the caller's callback, the reused buffers, the counts.
pub struct Ctx<'f> {
    on: &'f mut dyn FnMut(Item<'_>) -> ControlFlow<()>,
    /// The limits.
    pub settings: &'f DecodeSettings,
    /// The record being captured (or the prefix of one too large).
    pub event: Vec<u8>,
    key: Vec<u8>,
    /// The next record's number.
    pub index: u64,
    /// Events handed on.
    pub events: u64,
    /// Parts skipped as too large.
    pub too_large: u64,
    /// Control messages skipped.
    pub control: u64,
    /// The gzip layer the text comes from (its hold state counts unverified events).
    pub gz: Rc<GzState>,
    /// Events held back until their payload's `messageType` is known, and where each ends.
    deferred: Option<Deferred>,
}

/// Events held back: their text, each one's index and end, and the counts when holding began.
#[derive(Default)]
struct Deferred {
    text: Vec<u8>,
    ends: Vec<(u64, usize)>,
    index: u64,
    too_large: u64,
}

impl<'f> Ctx<'f> {
    /// A decode handing its items to `on`, reading the text of the gzip layer `gz`.
    pub fn new(
        on: &'f mut dyn FnMut(Item<'_>) -> ControlFlow<()>,
        settings: &'f DecodeSettings,
        gz: Rc<GzState>,
    ) -> Self {
        let (event, key) = (Vec::new(), Vec::new());
        Ctx { on, settings, event, key, index: 0, events: 0, too_large: 0, control: 0, gz, deferred: None }
    }

    /// From now on, holds events back (see [`Ctx::undefer`]).
    pub fn defer(&mut self) {
        let (index, too_large) = (self.index, self.too_large);
        self.deferred.get_or_insert(Deferred { index, too_large, ..Deferred::default() });
    }

    /// Hands on (`keep`) or drops the events held back, and stops holding them.
    pub fn undefer(&mut self, keep: bool) -> Result<(), WalkError> {
        let Some(held) = self.deferred.take() else { return Ok(()) };
        if !keep {
            // Dropped (a control message): their numbers are given back, as when a control
            // message's events are skipped, unless a report used a later one.
            if held.too_large == self.too_large {
                self.index = held.index;
            }
            return Ok(());
        }
        let mut start = 0;
        for (index, end) in held.ends {
            self.event.clear();
            self.event.extend_from_slice(&held.text[start..end]);
            self.emit_at(index)?;
            start = end;
        }
        Ok(())
    }

    /// Hands on `self.event`, or holds it back while deferring (up to `max_event_bytes` in all:
    /// a real payload is under 1 MB).
    fn emit_or_defer(&mut self) -> Result<(), WalkError> {
        let Some(held) = self.deferred.as_mut() else { return self.emit_event() };
        held.text.extend_from_slice(&self.event);
        held.ends.push((self.index, held.text.len()));
        self.index += 1;
        if held.text.len() > self.settings.max_event_bytes {
            // Too much to hold: the payload is taken as data.
            self.undefer(true)?;
        }
        Ok(())
    }

    /// Hands on `self.event` as the next record.
    pub fn emit_event(&mut self) -> Result<(), WalkError> {
        self.index += 1;
        self.emit_at(self.index - 1)
    }

    /// Hands on `self.event` as record `index`.
    fn emit_at(&mut self, index: u64) -> Result<(), WalkError> {
        let event = std::mem::take(&mut self.event);
        let emitted = self.emit_bytes(index, &event);
        self.event = event;
        emitted
    }

    /// Hands on `bytes` as record `index`.
    fn emit_bytes(&mut self, index: u64, bytes: &[u8]) -> Result<(), WalkError> {
        self.events += 1;
        if self.gz.unverified.get() {
            self.gz.unverified_events.set(self.gz.unverified_events.get() + 1);
        }
        match (self.on)(Item::Event { index, bytes }) {
            ControlFlow::Continue(()) => Ok(()),
            ControlFlow::Break(()) => Err(DecodeError::Stopped.into()),
        }
    }

    /// Reports a skipped part whose prefix is in `self.event`; a record uses up its index.
    pub fn emit_too_large(&mut self, part: Part, size: u64, offset: u64) -> Result<(), WalkError> {
        if matches!(part, Part::Record(_)) {
            self.index += 1;
        }
        self.too_large += 1;
        let limit = self.settings.max_event_bytes;
        let report = TooLarge { part, size, offset, prefix: &self.event, limit };
        match (self.on)(Item::TooLarge(report)) {
            ControlFlow::Continue(()) => Ok(()),
            ControlFlow::Break(()) => Err(DecodeError::Stopped.into()),
        }
    }

    /// Captures the value at the next token as a record (bounded), and hands it on.
    pub fn record<R: Read>(&mut self, s: &mut Scanner<R>, string: bool) -> Result<(), WalkError> {
        s.peek_token()?;
        let (max, prefix) = (self.settings.max_event_bytes, self.settings.prefix_bytes);
        if !string && self.deferred.is_none() {
            // Most records lie within the scanner's buffer: handed on from there, not copied. One
            // that runs past its end is tried once more after a refill, which moves it to the front.
            let mut held = s.value_in_buffer(max)?;
            if held.is_none() {
                s.refill()?;
                held = s.value_in_buffer(max)?;
            }
            if let Some(range) = held {
                self.index += 1;
                return self.emit_bytes(self.index - 1, s.held(range));
            }
        }
        let offset = s.offset();
        let mut sink = Bounded::new(&mut self.event, max, prefix);
        if string {
            s.string_with(&mut sink)?;
        } else {
            s.value_with(&mut sink)?;
        }
        let (size, whole) = (sink.size, sink.whole);
        if whole {
            self.emit_or_defer()
        } else {
            self.emit_too_large(Part::Record(self.index), size, offset)
        }
    }

    /// Skips the value at the next token, reporting it when it is over the limit.
    pub fn skip<R: Read>(&mut self, s: &mut Scanner<R>, key: &str) -> Result<(), WalkError> {
        s.peek_token()?;
        let offset = s.offset();
        let mut sink = Bounded::new(&mut self.event, 0, self.settings.prefix_bytes);
        s.value_with(&mut sink)?;
        let size = sink.size;
        if size > self.settings.max_event_bytes as u64 {
            let key: String = key.chars().take(100).collect();
            self.emit_too_large(Part::Value(key), size, offset)?;
        }
        Ok(())
    }

    /// Reads an object key; `None` for one too long to be any the decoder knows (reported when
    /// it is over the limit).
    pub fn key<R: Read>(&mut self, s: &mut Scanner<R>) -> Result<Option<Vec<u8>>, WalkError> {
        s.peek_token()?;
        let offset = s.offset();
        let mut sink = Bounded::new(&mut self.key, KEY_MAX, self.settings.prefix_bytes);
        s.string_with(&mut sink)?;
        let (size, whole) = (sink.size, sink.whole);
        if whole {
            return Ok(Some(self.key.clone()));
        }
        if size > self.settings.max_event_bytes as u64 {
            std::mem::swap(&mut self.key, &mut self.event);
            let reported = self.emit_too_large(Part::Key, size, offset);
            std::mem::swap(&mut self.key, &mut self.event);
            reported?;
        }
        Ok(None)
    }
}

impl WalkError {
    /// The walk's error in the decoder's own words.
    pub fn into_decode_error(self) -> DecodeError {
        match self {
            WalkError::Decode(e) => e,
            WalkError::Scan(e) => DecodeError::Syntax(e.to_string()),
        }
    }
}
