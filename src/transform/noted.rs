//! Noting: the values of a few named fields of each kept document, read by a consumer that
//! summarises events instead of writing them (`report/`), without parsing the document again.
//!
//! The walk that validates and redacts an event already notes where the values it was asked for
//! sit (`capture.rs`); noting adds the consumer's fields to that list. Those positions are in the
//! event as CloudTrail wrote it, so when redaction is on, the finished document is walked once
//! more (capturing only) and the values are read from it: a consumer sees exactly what an index
//! would hold (a removed field is absent, a masked or hashed one masked or hashed). The console
//! rule (`console.rs`) is judged on the event as written, as `--console-only` is.

use super::capture::{has_backslash, string_text, Found, Slots};
use super::console::Console;
use super::matcher::{Matcher, TooComplex};
use super::redact::Redactor;
use super::walk::{self, Accept};
use std::borrow::Cow;

/// The compiled part: which capture slots hold the noted fields, and the console rule.
pub(super) struct Notes {
    /// The slot of field `i` in the main walk.
    slots: Vec<u16>,
    console: Console,
    /// With redaction: the capture-only walk over the finished document (field `i` is slot `i`).
    document: Option<Matcher<Accept>>,
    /// The capture-only walk of the fields read later, on request ([`Noted::later`]): later
    /// field `i` is slot `i`.
    later: Option<Matcher<Accept>>,
    /// This one's number in the process (from 1), for a [`Noted`] to know whether it was last
    /// filled by it (then its map of the slots holds).
    id: u64,
}

/// The number of the next [`Notes`].
static NEXT_NOTES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl Notes {
    /// Notes `fields` (dotted paths that always parse), capturing through `slots`; `later`
    /// (the same) only when asked, by a walk of their own.
    pub(super) fn new(
        fields: &[&str],
        later: &[&str],
        slots: &mut Slots,
        redacts: bool,
    ) -> Result<Self, TooComplex> {
        let ids = fields.iter().map(|f| slots.named(f)).collect();
        let console = Console::new(slots);
        let own = |fields: &[&str]| -> Result<Matcher<Accept>, TooComplex> {
            let mut own = Slots::default();
            for f in fields {
                own.named(f);
            }
            walk::compile(&[], own.paths())
        };
        let document = if redacts { Some(own(fields)?) } else { None };
        let later = if later.is_empty() { None } else { Some(own(later)?) };
        let id = NEXT_NOTES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(Notes { slots: ids, console, document, later, id })
    }

    /// Fills `into` with the later fields of the event last noted in `noted` (`raw` and `out`
    /// as for [`Noted::text`]): a walk of their own over the event, or over its redacted
    /// document when redaction is on.
    pub(super) fn later<'a>(
        &self,
        raw: &'a [u8],
        out: &'a [u8],
        noted: &mut Noted,
        into: &mut [Option<Cow<'a, str>>],
    ) {
        into.fill(None);
        let Some(matcher) = &self.later else { return };
        let src = if noted.redacted { out.get(noted.start..).unwrap_or_default() } else { raw };
        noted.later.clear();
        // The main walk read this text (or wrote it, redacted): it is valid JSON.
        let Ok(text) = walk::check(src, matcher, &Redactor { key: None }, &mut noted.later) else { return };
        fill_texts(src, Some(text), &noted.later, |slot| slot, into);
    }

    /// Fills `noted` for the event `raw`, whose finished document is `out[start..]`, from the
    /// main walk's `found`.
    /// `event` is `raw` as the text the walk checked, when the caller has it.
    pub(super) fn note(&self, raw: &[u8], event: Option<&str>, out: &[u8], start: usize, noted: &mut Noted) {
        noted.console = self.console.matches_text(raw, event, &noted.found);
        noted.start = start;
        noted.redacted = false;
        if noted.notes != self.id {
            noted.notes = self.id;
            noted.slots.clone_from(&self.slots);
            // Which field each slot of the main walk holds (the fields' paths differ, so their
            // slots do).
            let size = self.slots.iter().map(|s| usize::from(*s) + 1).max().unwrap_or(0);
            noted.field_of = vec![NONE; size];
            for (i, slot) in self.slots.iter().enumerate() {
                noted.field_of[usize::from(*slot)] = u16::try_from(i).unwrap_or(NONE);
            }
        }
        if let Some(matcher) = &self.document {
            noted.redacted = true;
            noted.document.clear();
            noted.scratch.clear();
            let doc = &out[start..];
            // The walker wrote this document itself: it is valid JSON.
            if walk::rewrite(doc, matcher, &Redactor { key: None }, &mut noted.scratch, &mut noted.document)
                .is_err()
            {
                noted.document.clear();
            }
        }
    }
}

/// The noted values of the last event encoded with [`super::Transform::encode_noted`]; reusable
/// from one event to the next (it keeps its buffers).
#[derive(Default)]
pub struct Noted {
    pub(super) found: Found,
    document: Found,
    scratch: Vec<u8>,
    start: usize,
    redacted: bool,
    console: bool,
    /// The [`Notes`] that last filled it (0: none).
    notes: u64,
    /// The captures of the later fields ([`Notes::later`]).
    later: Found,
    /// The slots of the fields in the main walk, by index.
    slots: Vec<u16>,
    /// By slot of the main walk: the index of the field it holds, or [`NONE`].
    field_of: Vec<u16>,
}

/// No field.
const NONE: u16 = u16::MAX;

impl Noted {
    /// Whether the event is a console operation (the `--console-only` rule).
    pub fn console(&self) -> bool {
        self.console
    }

    /// The value of noted field `i` as text: a string's text, a number's or boolean's JSON text;
    /// `None` when absent, `null`, an object or an array. `raw` is the event, `out` the buffer
    /// the document was appended to.
    pub fn text<'a>(&self, raw: &'a [u8], out: &'a [u8], i: usize) -> Option<Cow<'a, str>> {
        let (src, found) =
            if self.redacted { (out.get(self.start..)?, &self.document) } else { (raw, &self.found) };
        let slot = if self.redacted { u16::try_from(i).ok()? } else { *self.slots.get(i)? };
        Noted::value_text(found.values(src, slot).next()?)
    }

    /// The raw JSON values of noted fields `0..into.len()` (the first of each, `None` when
    /// absent), read in one pass over what the walk captured; [`Noted::value_text`] reads one as
    /// [`Noted::text`] does. `raw` and `out` as for [`Noted::text`].
    pub fn values<'a>(&self, raw: &'a [u8], out: &'a [u8], into: &mut [Option<&'a [u8]>]) {
        into.fill(None);
        let (src, found) = if self.redacted {
            (out.get(self.start..).unwrap_or_default(), &self.document)
        } else {
            (raw, &self.found)
        };
        for (slot, value) in found.all(src) {
            // Redacted: field `i` is slot `i` of the document's walk.
            let field = if self.redacted {
                slot
            } else {
                self.field_of.get(usize::from(slot)).copied().unwrap_or(NONE)
            };
            if let Some(v @ None) = into.get_mut(usize::from(field)) {
                *v = Some(value);
            }
        }
    }

    /// The noted fields `0..into.len()` as text, as [`Noted::values`] and [`Noted::value_text`]
    /// give them (the first value of each; `None` when absent, `null`, an object or an array),
    /// with the document's UTF-8 checked once rather than once per value, or not at all when
    /// `event` is `raw` as the text the walk checked ([`super::Noting::Kept`]). `raw` and `out`
    /// as for [`Noted::text`]. At most 64 fields.
    pub fn texts<'a>(
        &self,
        raw: &'a [u8],
        event: Option<&'a str>,
        out: &'a [u8],
        into: &mut [Option<Cow<'a, str>>],
    ) {
        into.fill(None);
        let (src, found) = if self.redacted {
            (out.get(self.start..).unwrap_or_default(), &self.document)
        } else {
            (raw, &self.found)
        };
        // The walk checked this text (or wrote it, redacted): valid UTF-8 is the rule; if not,
        // each value is read as `value_text` reads it.
        let text = match event {
            Some(event) if !self.redacted && std::ptr::eq(event.as_bytes(), raw) => Some(event),
            _ => std::str::from_utf8(src).ok(),
        };
        let field_of = |slot: u16| {
            // Redacted: field `i` is slot `i` of the document's walk.
            if self.redacted {
                slot
            } else {
                self.field_of.get(usize::from(slot)).copied().unwrap_or(NONE)
            }
        };
        fill_texts(src, text, found, field_of, into);
    }

    /// A value given by [`Noted::values`] as text: a string's text, a number's or boolean's JSON
    /// text; `None` for `null`, an object or an array.
    pub fn value_text(value: &[u8]) -> Option<Cow<'_, str>> {
        match value.first()? {
            b'"' => Some(string_text(value)),
            b'{' | b'[' | b'n' => None,
            _ => std::str::from_utf8(value).ok().map(Cow::Borrowed),
        }
    }
}

/// Fills `into[field]` with the first value captured in `found` for each field (`field_of` a
/// slot) as text, read from `text` when it is `src` as text (else each value as
/// [`Noted::value_text`] reads it). At most 64 fields.
fn fill_texts<'a>(
    src: &'a [u8],
    text: Option<&'a str>,
    found: &Found,
    field_of: impl Fn(u16) -> u16,
    into: &mut [Option<Cow<'a, str>>],
) {
    let mut seen = 0u64;
    for (slot, range) in found.ranges() {
        let field = usize::from(field_of(slot));
        if field >= into.len().min(64) || seen & (1 << field) != 0 {
            continue;
        }
        seen |= 1 << field;
        into[field] = match text {
            Some(text) => text.get(range).and_then(str_value_text),
            None => src.get(range).and_then(Noted::value_text),
        };
    }
}

/// [`Noted::value_text`] of a value already known to be UTF-8: a string without escapes is
/// borrowed as it is, not checked again.
fn str_value_text(value: &str) -> Option<Cow<'_, str>> {
    match value.as_bytes().first()? {
        b'"' => {
            let inner = value.get(1..value.len().saturating_sub(1)).unwrap_or_default();
            if !has_backslash(inner.as_bytes()) {
                Some(Cow::Borrowed(inner))
            } else {
                Some(string_text(value.as_bytes()))
            }
        }
        b'{' | b'[' | b'n' => None,
        _ => Some(Cow::Borrowed(value)),
    }
}

#[cfg(test)]
mod tests {
    use crate::transform::{Noted, Noting, Transform, TransformSpec};

    fn noted(spec: TransformSpec, event: &str) -> (Vec<Option<String>>, bool) {
        let t =
            Transform::noting(spec, &["eventName", "userIdentity.accessKeyId", "readOnly", "missing"], &[])
                .unwrap();
        let (mut out, mut noted) = (b"prefix".to_vec(), Noted::default());
        let r = t.encode_noted(event.as_bytes(), &mut out, &mut noted).unwrap();
        assert!(matches!(r, Noting::Kept { .. }));
        let texts: Vec<Option<String>> =
            (0..4).map(|i| noted.text(event.as_bytes(), &out, i).map(|t| t.into_owned())).collect();
        // Read in one pass, the values are the same.
        let mut raw = [None; 4];
        noted.values(event.as_bytes(), &out, &mut raw);
        let texts_of_values: Vec<Option<String>> =
            raw.iter().map(|v| v.and_then(Noted::value_text).map(|t| t.into_owned())).collect();
        assert_eq!(texts_of_values, texts);
        // Read as text in one pass, the same again.
        let mut direct = [None, None, None, None];
        noted.texts(event.as_bytes(), None, &out, &mut direct);
        assert_eq!(direct.clone().map(|t| t.map(|t| t.into_owned())), *texts);
        // Given the event's checked text, the same.
        let checked = match r {
            Noting::Kept { event, .. } => event,
            Noting::Filtered => None,
        };
        noted.texts(event.as_bytes(), checked, &out, &mut direct);
        let direct: Vec<Option<String>> = direct.into_iter().map(|t| t.map(|t| t.into_owned())).collect();
        assert_eq!(direct, texts);
        (texts, noted.console())
    }

    const EVENT: &str = r#"{"eventTime":"2024-05-01T10:00:00Z","eventName":"Get\"X","readOnly":true,
        "userIdentity":{"accessKeyId":"AKIAABCDEFGHIJKLMNOP"},"userAgent":"Mozilla/5.0"}"#;

    #[test]
    fn values_are_read_as_written_without_redaction() {
        let (texts, console) = noted(TransformSpec::default(), EVENT);
        let want =
            [Some("Get\"X".to_string()), Some("AKIAABCDEFGHIJKLMNOP".into()), Some("true".into()), None];
        assert_eq!(texts, want);
        assert!(console);
    }

    #[test]
    fn values_are_read_from_the_redacted_document() {
        let spec = TransformSpec {
            redact: vec!["userIdentity.accessKeyId=mask".parse().unwrap()],
            ..Default::default()
        };
        let (texts, console) = noted(spec, EVENT);
        assert_eq!(texts[1].as_deref(), Some("****MNOP"));
        assert_eq!(texts[0].as_deref(), Some("Get\"X"));
        let spec = TransformSpec { redact: vec!["userIdentity".parse().unwrap()], ..Default::default() };
        assert_eq!(noted(spec, EVENT).0[1], None, "a removed field is absent");
        assert!(console, "the console rule reads the event as written");
    }

    #[test]
    fn later_fields_are_read_on_request_as_the_others_are() {
        let event = r#"{"eventTime":"2024-05-01T10:00:00Z","eventName":"CreateBucket",
            "requestParameters":{"bucketName":"my-b\u0075cket","acl":"private"},"readOnly":false}"#;
        let later = ["requestParameters.bucketName", "requestParameters.missing", "readOnly"];
        for (spec, bucket) in [
            (TransformSpec::default(), "my-bucket"),
            (
                TransformSpec {
                    redact: vec!["requestParameters.bucketName=mask".parse().unwrap()],
                    ..Default::default()
                },
                "****cket",
            ),
        ] {
            let t = Transform::noting(spec, &["eventName"], &later).unwrap();
            let (mut out, mut noted) = (Vec::new(), Noted::default());
            let checked = match t.encode_noted(event.as_bytes(), &mut out, &mut noted).unwrap() {
                Noting::Kept { event, .. } => event,
                Noting::Filtered => panic!("kept"),
            };
            let mut fields = [None];
            noted.texts(event.as_bytes(), checked, &out, &mut fields);
            assert_eq!(fields[0].as_deref(), Some("CreateBucket"));
            let mut into = [None, None, None];
            t.later_texts(event.as_bytes(), &out, &mut noted, &mut into);
            let into: Vec<Option<&str>> = into.iter().map(|v| v.as_deref()).collect();
            assert_eq!(into, [Some(bucket), None, Some("false")]);
        }
    }
}
