//! CloudWatch Logs shapes: subscription payloads, saved Lambda events, export-task files.
//!
//! A trail that delivers to CloudWatch Logs puts each event, as its JSON text, in a log event's
//! `message`. A subscription filter sends batches of them as gzip'd payloads
//! `{"messageType":"DATA_MESSAGE",…,"logEvents":[{"id":…,"timestamp":…,"message":"…"}]}` (Firehose
//! writes them to S3 back to back; `CONTROL_MESSAGE` payloads are health checks, counted and
//! skipped); a Lambda function receives one base64'd in `{"awslogs":{"data":…}}`; an export task
//! writes `TIMESTAMP MESSAGE` lines. Each message is handed on unescaped: the very JSON text the
//! trail file would hold, so the transform makes the same document (same `_id`) of it.
//!
//! CloudWatch Logs writes `messageType` first; should a payload put `logEvents` before it (keys
//! sorted by a tool that re-wrote it), its events are held back until `messageType` says
//! whether they are data (up to `max_event_bytes` of them; past that they are taken as data).

use super::bytes::value_kind;
use super::context::{Ctx, WalkError};
use super::scanner::{Bounded, ScanError, Scanner};
use super::{DecodeError, Format, Part};
use std::io::Read;

/// The kinds of subscription payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageType {
    /// Log events.
    Data,
    /// A health check with no events.
    Control,
}

/// Reads the value of `messageType`.
pub fn message_type<R: Read>(s: &mut Scanner<R>) -> Result<MessageType, WalkError> {
    if s.peek_token()? != Some(b'"') {
        let kind = value_kind(s.ensure(3)?);
        return Err(DecodeError::LogEvents(format!("\"messageType\" is {kind}, not a string")).into());
    }
    let mut text = Vec::new();
    let mut sink = Bounded::new(&mut text, 40, 40);
    s.string_with(&mut sink)?;
    match text.as_slice() {
        b"DATA_MESSAGE" => Ok(MessageType::Data),
        b"CONTROL_MESSAGE" => Ok(MessageType::Control),
        other => Err(DecodeError::MessageType(String::from_utf8_lossy(other).into_owned()).into()),
    }
}

/// Streams `logEvents`: each entry's `message` is a record. A control message's are skipped.
pub fn log_events<R: Read>(
    s: &mut Scanner<R>,
    ctx: &mut Ctx<'_>,
    message_type: Option<MessageType>,
) -> Result<(), WalkError> {
    if message_type == Some(MessageType::Control) {
        return Ok(s.value(None)?);
    }
    match s.peek_token()? {
        Some(b'[') => s.expect(b'[', "'['")?,
        Some(_) => {
            let kind = value_kind(s.ensure(3)?);
            return Err(DecodeError::LogEvents(format!("\"logEvents\" is {kind}, not an array")).into());
        }
        None => return Err(ScanError::Eof(s.offset()).into()),
    }
    if s.peek_token()? == Some(b']') {
        return Ok(s.expect(b']', "']'")?);
    }
    loop {
        log_event(s, ctx)?;
        match s.peek_token()? {
            Some(b',') => s.expect(b',', "','")?,
            Some(b']') => return Ok(s.expect(b']', "']'")?),
            Some(_) => return Err(s.unexpected("',' or ']' in logEvents").into()),
            None => return Err(ScanError::Eof(s.offset()).into()),
        }
    }
}

/// One `{"id":…,"timestamp":…,"message":…}`: its message is the record.
fn log_event<R: Read>(s: &mut Scanner<R>, ctx: &mut Ctx<'_>) -> Result<(), WalkError> {
    let start = s.offset();
    if s.peek_token()? != Some(b'{') {
        let kind = value_kind(s.ensure(3)?);
        return Err(DecodeError::LogEvents(format!("a logEvents entry is {kind}, not an object")).into());
    }
    s.expect(b'{', "'{'")?;
    let mut message = false;
    let mut key = Vec::new();
    if s.peek_token()? == Some(b'}') {
        s.expect(b'}', "'}'")?;
    } else {
        loop {
            let mut sink = Bounded::new(&mut key, 16, 0);
            s.string_with(&mut sink)?;
            s.expect(b':', "':'")?;
            if key == b"message" && !message {
                message = true;
                // A message is a JSON string; one that is a JSON value itself is taken as is.
                let string = s.peek_token()? == Some(b'"');
                ctx.record(s, string)?;
            } else {
                s.value(None)?;
            }
            match s.peek_token()? {
                Some(b',') => s.expect(b',', "','")?,
                Some(b'}') => {
                    s.expect(b'}', "'}'")?;
                    break;
                }
                Some(_) => return Err(s.unexpected("',' or '}' in a log event").into()),
                None => return Err(ScanError::Eof(s.offset()).into()),
            }
        }
    }
    if !message {
        let what = format!("the logEvents entry at byte {start} has no \"message\"");
        return Err(DecodeError::LogEvents(what).into());
    }
    Ok(())
}

/// The walk over a decoded Lambda payload (`records.rs` has it: a payload holds documents).
pub type PayloadWalk = fn(&[u8], &mut Ctx<'_>) -> Result<(), WalkError>;

/// `{"data":"<base64 of a gzip'd payload>"}` of a saved Lambda event; each payload, decoded from
/// base64, goes to `walk_payload` (the walk over a file's documents, which calls back here).
pub fn awslogs<R: Read>(
    s: &mut Scanner<R>,
    ctx: &mut Ctx<'_>,
    walk_payload: PayloadWalk,
) -> Result<(), WalkError> {
    let lambda = |e: DecodeError| WalkError::Decode(DecodeError::Lambda(Box::new(e)));
    if s.peek_token()? != Some(b'{') {
        let kind = value_kind(s.ensure(3)?);
        return Err(DecodeError::Syntax(format!("\"awslogs\" is {kind}, not an object")).into());
    }
    s.expect(b'{', "'{'")?;
    if s.peek_token()? == Some(b'}') {
        return Ok(s.expect(b'}', "'}'")?);
    }
    let mut key = Vec::new();
    loop {
        let mut sink = Bounded::new(&mut key, 16, 0);
        s.string_with(&mut sink)?;
        s.expect(b':', "':'")?;
        if key == b"data" {
            if s.peek_token()? != Some(b'"') {
                let kind = value_kind(s.ensure(3)?);
                return Err(lambda(DecodeError::Syntax(format!("it is {kind}, not a string"))));
            }
            let offset = s.offset();
            let (max, prefix) = (ctx.settings.max_event_bytes, ctx.settings.prefix_bytes);
            let mut sink = Bounded::new(&mut ctx.event, max, prefix);
            s.string_with(&mut sink)?;
            let (size, whole) = (sink.size, sink.whole);
            if whole {
                let payload = base64(&ctx.event).map_err(|e| lambda(DecodeError::Syntax(e)))?;
                walk_payload(&payload, ctx).map_err(|e| match e {
                    WalkError::Decode(DecodeError::Stopped) => e,
                    e => lambda(e.into_decode_error()),
                })?;
            } else {
                ctx.emit_too_large(Part::Value("awslogs.data".into()), size, offset)?;
            }
        } else {
            s.value(None)?;
        }
        match s.peek_token()? {
            Some(b',') => s.expect(b',', "','")?,
            Some(b'}') => return Ok(s.expect(b'}', "'}'")?),
            Some(_) => return Err(s.unexpected("',' or '}' in awslogs").into()),
            None => return Err(ScanError::Eof(s.offset()).into()),
        }
    }
}

/// Standard or URL-safe base64, padding and line breaks allowed.
fn base64(text: &[u8]) -> Result<Vec<u8>, String> {
    use base64::alphabet::{STANDARD, URL_SAFE};
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    use base64::Engine as _;
    let allowed = |c: &u8| c.is_ascii_alphanumeric() || b"+/-_=\r\n \t".contains(c);
    if let Some(i) = text.iter().position(|c| !allowed(c)) {
        return Err(format!("not base64 (byte {i} is {})", super::bytes::describe_byte(text[i])));
    }
    let packed: Vec<u8> = text.iter().copied().filter(|c| !c.is_ascii_whitespace()).collect();
    let alphabet = if packed.iter().any(|c| matches!(c, b'-' | b'_')) { &URL_SAFE } else { &STANDARD };
    let config = GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true);
    GeneralPurpose::new(alphabet, config).decode(&packed).map_err(|e| format!("not base64 ({e})"))
}

/// Whether the text at hand starts like an export-task line: `YYYY-MM-DDT… ` then the event.
pub fn looks_like_export<R: Read>(s: &mut Scanner<R>) -> Result<bool, ScanError> {
    let head = s.ensure(64)?;
    let date = head.len() > 11
        && head[..4].iter().all(u8::is_ascii_digit)
        && head[4] == b'-'
        && head[5..7].iter().all(u8::is_ascii_digit)
        && head[7] == b'-'
        && head[8..10].iter().all(u8::is_ascii_digit)
        && head[10] == b'T';
    Ok(date && head[11..].iter().take_while(|&&b| b != b'\n').any(|&b| b == b' '))
}

/// An export-task file: every line `TIMESTAMP EVENT`, the event's JSON text as is.
pub fn export_lines<R: Read>(s: &mut Scanner<R>, ctx: &mut Ctx<'_>) -> Result<Format, WalkError> {
    let mut stamp = Vec::new();
    loop {
        if s.peek_token()?.is_none() {
            return Ok(Format::Export);
        }
        let line = s.offset();
        let mut sink = Bounded::new(&mut stamp, 64, 0);
        let spaced = s.until(b' ', &mut sink)?;
        if !spaced || !sink.whole || stamp.contains(&b'\n') || !stamp[0].is_ascii_digit() {
            let what = format!("invalid export-task line at byte {line}: expected 'TIMESTAMP EVENT'");
            return Err(DecodeError::Syntax(what).into());
        }
        let offset = s.offset();
        let (max, prefix) = (ctx.settings.max_event_bytes, ctx.settings.prefix_bytes);
        let mut sink = Bounded::new(&mut ctx.event, max, prefix);
        s.until(b'\n', &mut sink)?;
        let (size, whole) = (sink.size, sink.whole);
        if whole {
            if ctx.event.last() == Some(&b'\r') {
                ctx.event.pop();
            }
            ctx.emit_event()?;
        } else {
            ctx.emit_too_large(Part::Record(ctx.index), size, offset)?;
        }
    }
}

#[cfg(test)]
mod tests;
