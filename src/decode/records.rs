//! The decoder's walk over a file: which shape it holds, and the CloudTrail `Records` array.
//!
//! The top level is walked with the [`Scanner`]: a JSON object's keys say what it is (`Records`:
//! a trail file; `digestStartTime` without `Records`: a digest; `messageType`/`logEvents`: a
//! CloudWatch Logs payload, walked in `cloudwatch.rs`; `awslogs`: a saved Lambda event), and a
//! line starting with a timestamp is an export-task file. Every element of `Records` is captured
//! into one reused, bounded buffer and handed on; keys other than the known ones are skipped
//! without being kept. Only CloudWatch Logs payloads may follow each other in one file: after a
//! CloudTrail document, anything but padding means the file is damaged.

use super::bytes::{describe_start, value_kind};
use super::cloudwatch::{self, MessageType};
use super::gzip::GzState;
use super::layers;
use super::scanner::{Bounded, ScanError, Scanner};
use super::{DecodeError, DecodeSettings, Decoded, Failure, FileKind, Format, Item, Part, TooLarge};
use std::io::Read;
use std::ops::ControlFlow;
use std::rc::Rc;

/// Keys longer than this are none of those the decoder looks for.
const KEY_MAX: usize = 64;

/// Reads one file from `raw` (gzip or plain; any shape the module lists), handing each event and
/// each skipped oversized part to `on`, which may return `Break` to stop (then the result is a
/// [`DecodeError::Stopped`] failure). `Ok` means the file was read to its end.
pub fn decode<R, F>(raw: R, settings: &DecodeSettings, mut on: F) -> Result<Decoded, Failure>
where
    R: Read,
    F: FnMut(Item<'_>) -> ControlFlow<()>,
{
    let (text, layers) = layers::open(raw, settings.hold_bytes).map_err(|e| Failure {
        error: DecodeError::Source(e),
        released: 0,
        unverified: 0,
    })?;
    let mut ctx = Ctx::new(&mut on, settings, layers.gz.clone());
    let mut scanner = Scanner::new(text);
    let walked = walk_file(&mut scanner, &mut ctx);
    let unverified = layers.unverified();
    let fail = |error| Failure { error, released: ctx.events, unverified };
    let format = walked.map_err(|e| fail(layers.error(e)))?;
    let trailing = layers.trailing();
    if let Some(t) = layers.garbage() {
        // After a complete CloudTrail document nothing may follow, so the bytes cannot hide
        // events; between CloudWatch Logs payloads they could be a damaged member.
        if !matches!(format, Format::Trail | Format::Digest) {
            return Err(fail(DecodeError::TrailingGarbage { bytes: t.bytes, members: t.members }));
        }
    }
    Ok(Decoded {
        format,
        events: ctx.events,
        too_large: ctx.too_large,
        control_messages: ctx.control,
        trailing,
    })
}

/// [`decode`] with the default settings, for callers that only take events: a part too big to
/// buffer ends the file with [`DecodeError::TooLarge`] (memory stays bounded; nothing is
/// dead-lettered). Callers that dead-letter such parts use [`decode`].
pub fn read_records<R, F>(raw: R, mut on_event: F) -> Result<FileKind, DecodeError>
where
    R: Read,
    F: FnMut(u64, &[u8]) -> ControlFlow<()>,
{
    let mut too_large = None;
    let result = decode(raw, &DecodeSettings::default(), |item| match item {
        Item::Event { index, bytes } => on_event(index, bytes),
        Item::TooLarge(t) => {
            too_large = Some(t.to_string());
            ControlFlow::Break(())
        }
    });
    match (result, too_large) {
        (Ok(decoded), _) => Ok(decoded.kind()),
        (Err(f), Some(t)) if matches!(f.error, DecodeError::Stopped) => Err(DecodeError::TooLarge(t)),
        (Err(f), _) => Err(f.error),
    }
}

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
    events: u64,
    too_large: u64,
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
    fn new(
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
        self.events += 1;
        if self.gz.unverified.get() {
            self.gz.unverified_events.set(self.gz.unverified_events.get() + 1);
        }
        match (self.on)(Item::Event { index, bytes: &self.event }) {
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
        let offset = s.offset();
        let (max, prefix) = (self.settings.max_event_bytes, self.settings.prefix_bytes);
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

fn walk_file<R: Read>(s: &mut Scanner<R>, ctx: &mut Ctx<'_>) -> Result<Format, WalkError> {
    s.skip_bom()?;
    match s.peek_token()? {
        None => Err(DecodeError::Empty.into()),
        Some(b'{') => documents(s, ctx, true),
        Some(b'0'..=b'9') if cloudwatch::looks_like_export(s)? => cloudwatch::export_lines(s, ctx),
        Some(_) => Err(DecodeError::NotJson(describe_start(s.ensure(3)?)).into()),
    }
}

/// One CloudTrail document, or one or more CloudWatch Logs payloads back to back.
pub fn documents<R: Read>(s: &mut Scanner<R>, ctx: &mut Ctx<'_>, lambda: bool) -> Result<Format, WalkError> {
    let first = document(s, ctx, lambda)?;
    let payloads = matches!(first, Format::Subscription | Format::LambdaEvent);
    loop {
        match s.peek_token()? {
            None => return Ok(first),
            Some(b'{') if payloads => {
                let offset = s.offset();
                if matches!(document(s, ctx, lambda)?, Format::Trail | Format::Digest) {
                    let what =
                        format!("a CloudTrail document at byte {offset}, after CloudWatch Logs payloads");
                    return Err(DecodeError::Syntax(what).into());
                }
            }
            Some(_) if payloads => return Err(s.unexpected("another payload or the end of the file").into()),
            Some(_) => return Err(s.unexpected("end of file after the log document").into()),
        }
    }
}

/// What the keys of a document said.
#[derive(Default)]
struct Seen {
    records: bool,
    digest: bool,
    message: Option<MessageType>,
    log_events: bool,
    awslogs: bool,
}

fn document<R: Read>(s: &mut Scanner<R>, ctx: &mut Ctx<'_>, lambda: bool) -> Result<Format, WalkError> {
    s.expect(b'{', "'{'")?;
    let mut seen = Seen::default();
    if s.peek_token()? == Some(b'}') {
        s.expect(b'}', "'}'")?;
    } else {
        loop {
            let key = ctx.key(s)?;
            s.expect(b':', "':'")?;
            match key.as_deref() {
                Some(b"Records") => {
                    seen.records = true;
                    walk_records(s, ctx)?;
                }
                Some(b"digestStartTime") => {
                    seen.digest = true;
                    ctx.skip(s, "digestStartTime")?;
                }
                Some(b"messageType") => seen.message = Some(cloudwatch::message_type(s)?),
                Some(b"logEvents") => {
                    seen.log_events = true;
                    if seen.message.is_none() {
                        // Keys in another order than CloudWatch Logs writes them (sorted, say):
                        // whether these are events is known only once messageType comes.
                        ctx.defer();
                    }
                    cloudwatch::log_events(s, ctx, seen.message)?;
                }
                Some(b"awslogs") if lambda => {
                    seen.awslogs = true;
                    cloudwatch::awslogs(s, ctx)?;
                }
                Some(other) => ctx.skip(s, &String::from_utf8_lossy(other))?,
                None => ctx.skip(s, "(a long key)")?,
            }
            match s.peek_token()? {
                Some(b',') => s.expect(b',', "','")?,
                Some(b'}') => {
                    s.expect(b'}', "'}'")?;
                    break;
                }
                Some(_) => return Err(s.unexpected("',' or '}'").into()),
                None => return Err(ScanError::Eof(s.offset()).into()),
            }
        }
    }
    ctx.undefer(seen.message != Some(MessageType::Control))?;
    if seen.message == Some(MessageType::Control) {
        ctx.control += 1;
    }
    Ok(match seen {
        Seen { records: true, .. } => Format::Trail,
        Seen { digest: true, .. } => Format::Digest,
        Seen { message: Some(_), .. } | Seen { log_events: true, .. } => Format::Subscription,
        Seen { awslogs: true, .. } => Format::LambdaEvent,
        _ => return Err(DecodeError::NoRecords.into()),
    })
}

/// Streams the elements of the `Records` array.
fn walk_records<R: Read>(s: &mut Scanner<R>, ctx: &mut Ctx<'_>) -> Result<(), WalkError> {
    match s.peek_token()? {
        Some(b'[') => s.expect(b'[', "'['")?,
        Some(_) => {
            let kind = value_kind(s.ensure(3)?).to_string();
            return Err(DecodeError::RecordsNotArray(kind).into());
        }
        None => return Err(ScanError::Eof(s.offset()).into()),
    }
    if s.peek_token()? == Some(b']') {
        return Ok(s.expect(b']', "']'")?);
    }
    loop {
        ctx.record(s, false)?;
        match s.peek_token()? {
            Some(b',') => s.expect(b',', "','")?,
            Some(b']') => return Ok(s.expect(b']', "']'")?),
            Some(_) => return Err(s.unexpected("',' or ']' in Records").into()),
            None => return Err(ScanError::Eof(s.offset()).into()),
        }
    }
}
