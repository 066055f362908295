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
use super::context::{Ctx, WalkError};
use super::layers;
use super::scanner::{ScanError, Scanner};
use super::{DecodeError, DecodeSettings, Decoded, Failure, FileKind, Format, Item};
use std::io::Read;
use std::ops::ControlFlow;

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
                    cloudwatch::awslogs(s, ctx, lambda_payload)?;
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

/// Decodes the gzip'd payload of a Lambda event, its events counted with the file's. It walks
/// the payload as a file's documents, so it lives here and `cloudwatch::awslogs` is handed it.
fn lambda_payload(payload: &[u8], ctx: &mut Ctx<'_>) -> Result<(), WalkError> {
    let (text, layers) = layers::open(payload, ctx.settings.hold_bytes).map_err(DecodeError::Source)?;
    let outer_gz = std::mem::replace(&mut ctx.gz, layers.gz.clone());
    let mut s = Scanner::new(text);
    let walked = match s.peek_token() {
        Ok(Some(b'{')) => documents(&mut s, ctx, false),
        Ok(_) => Err(DecodeError::Syntax("not a gzip'd CloudWatch Logs payload".into()).into()),
        Err(e) => Err(e.into()),
    };
    ctx.gz = outer_gz;
    match walked {
        Ok(Format::Subscription) => Ok(()),
        Ok(_) => Err(DecodeError::Syntax("not a CloudWatch Logs subscription payload".into()).into()),
        Err(WalkError::Decode(DecodeError::Stopped)) => Err(DecodeError::Stopped.into()),
        Err(e) => Err(layers.error(e).into()),
    }
}
