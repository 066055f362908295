//! Where each top-level member of an event is, noted by the walker on its one pass ([`TopLevel`]).
//!
//! Why: the Sigma rules (`detect/`) read a few top-level fields of every event (`eventName`,
//! `userIdentity`…) and a finding copies a dozen of the written document's. The walker already
//! visits every top-level key to validate and copy the event, so it notes, for each member, where
//! its key and value are in the event as CloudTrail wrote it, and where the value went in the
//! document it wrote (`None` when redaction removed it). Readers then find a member by comparing
//! keys, without scanning the event's bytes again.
//!
//! Positions in the document stay right when the encoder adds `@timestamp` in front (noted with
//! [`TopLevel::timestamp_added`]) or appends members at the end; a document rewritten whole
//! (`longValues`) has no positions ([`TopLevel::placed`] is false), and readers scan it instead.

use super::capture::unescape;
use std::borrow::Cow;
use std::ops::Range;

/// One top-level member.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Member {
    /// [`tag`] of the key as written: compared before the key's bytes are.
    tag: u64,
    /// The key, inside its quotes, in the event's bytes.
    key: Range<usize>,
    /// Whether the key holds escapes.
    escaped: bool,
    /// The value, in the event's bytes.
    value: Range<usize>,
    /// The value in the written document (from the document's first byte); `None`: removed.
    written: Option<Range<usize>>,
}

/// The top-level members of the last event walked with it, in order; reusable from one event to
/// the next (it keeps its buffer).
#[derive(Debug, Default)]
pub struct TopLevel {
    members: Vec<Member>,
    /// The `@timestamp` the encoder put in front of the document, when it did.
    timestamp: Option<Range<usize>>,
    /// Whether document positions are known.
    placed: bool,
}

impl TopLevel {
    /// Forgets the last event (the walker calls it as it starts).
    pub(super) fn clear(&mut self) {
        self.members.clear();
        self.timestamp = None;
        self.placed = true;
    }

    /// Notes a member (positions as [`Member`] says).
    pub(super) fn push(
        &mut self,
        raw: &[u8],
        key: Range<usize>,
        escaped: bool,
        value: Range<usize>,
        written: Option<Range<usize>>,
    ) {
        let tag = if escaped { ESCAPED } else { raw.get(key.clone()).map_or(ESCAPED, tag) };
        self.members.push(Member { tag, key, escaped, value, written });
    }

    /// The encoder put `{"@timestamp":VALUE,` in front of the document, `head` bytes in place of its `{`,
    /// where VALUE is `len` bytes long.
    pub(super) fn timestamp_added(&mut self, head: usize, len: usize) {
        for m in &mut self.members {
            if let Some(w) = &mut m.written {
                *w = w.start + head..w.end + head;
            }
        }
        let at = b"{\"@timestamp\":".len();
        self.timestamp = Some(at..at + len);
    }

    /// The document was rewritten after the walk: its positions are unknown.
    pub(super) fn unplaced(&mut self) {
        self.placed = false;
    }

    /// Whether [`TopLevel::written`] can be asked.
    pub fn placed(&self) -> bool {
        self.placed
    }

    /// The value of the first member named `key` (unescaped) in `raw`, the event walked.
    pub fn first<'a>(&self, raw: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
        let wanted = tag(key);
        self.members.iter().find(|m| key_is(raw, m, key, wanted)).and_then(|m| raw.get(m.value.clone()))
    }

    /// Every member of `raw` (the event walked): key (unescaped) and value, in order.
    pub fn all<'a>(&'a self, raw: &'a [u8]) -> impl Iterator<Item = (Cow<'a, [u8]>, &'a [u8])> + 'a {
        self.members.iter().filter_map(move |m| {
            let quoted = raw.get(m.key.clone())?;
            let key = if m.escaped {
                let mut plain = Vec::with_capacity(quoted.len());
                unescape(quoted, &mut plain);
                Cow::Owned(plain)
            } else {
                Cow::Borrowed(quoted)
            };
            Some((key, raw.get(m.value.clone())?))
        })
    }

    /// The value of the last member named `key` in `document` (the document written from `raw`,
    /// from its first byte), as a JSON parser of it keeps; `None` when it has none. Only when
    /// [`TopLevel::placed`].
    pub fn written<'d>(&self, raw: &[u8], document: &'d [u8], key: &[u8]) -> Option<&'d [u8]> {
        if key == b"@timestamp" {
            if let Some(t) = &self.timestamp {
                return document.get(t.clone());
            }
        }
        let wanted = tag(key);
        let m = self.members.iter().rev().find(|m| m.written.is_some() && key_is(raw, m, key, wanted))?;
        document.get(m.written.clone()?)
    }
}

/// A key's length and first seven bytes in one word: two keys of different tags differ. Keys
/// with escapes get [`ESCAPED`] (their bytes are not their text).
fn tag(key: &[u8]) -> u64 {
    let head = match key.get(..8) {
        // Most CloudTrail keys: one load, its eighth byte masked off.
        Some(eight) => <[u8; 8]>::try_from(eight).map_or(0, u64::from_le_bytes) & 0x00ff_ffff_ffff_ffff,
        None => key.iter().rev().fold(0, |word, &b| (word << 8) | u64::from(b)),
    };
    head | ((key.len().min(255) as u64) << 56)
}

/// The tag of every key written with escapes (no real tag has a length byte of 255 and seven
/// bytes of 255, which is not UTF-8).
const ESCAPED: u64 = u64::MAX;

/// Whether member `m` of `raw` is named `key`, whose [`tag`] is `wanted`.
#[inline]
fn key_is(raw: &[u8], m: &Member, key: &[u8], wanted: u64) -> bool {
    if m.tag != wanted && m.tag != ESCAPED {
        return false;
    }
    let Some(quoted) = raw.get(m.key.clone()) else { return false };
    if !m.escaped {
        return quoted == key;
    }
    let mut plain = Vec::with_capacity(quoted.len());
    unescape(quoted, &mut plain);
    plain == key
}

#[cfg(test)]
mod tests {
    use super::super::{Encoded, Transform, TransformSpec};
    use super::*;
    use crate::transform::redact::RedactRule;

    /// Encodes `raw` with `redact` rules; the document and what the walker noted.
    fn walked(raw: &str, redact: &[&str]) -> (Vec<u8>, TopLevel) {
        let rules = redact.iter().map(|r| r.parse::<RedactRule>().unwrap()).collect();
        let t = Transform::new(TransformSpec { redact: rules, ..Default::default() }).unwrap();
        let (mut out, mut top) = (Vec::new(), TopLevel::default());
        let encoded = t.encode_top(raw.as_bytes(), &mut out, &mut top).unwrap();
        assert!(matches!(encoded, Encoded::Document(_)));
        (out, top)
    }

    #[test]
    fn members_of_the_event_and_of_the_document() {
        let raw = r#" { "eventTime" : "2024-05-01T00:00:00Z", "k\u0065y": { "a" : [1, 2] },
            "secret":"s", "gone":{"x":1}, "key":"second", "userIdentity":{"type":"Root","accessKeyId":"AK"}} "#;
        let (doc, top) = walked(raw, &["secret=mask", "gone=remove", "userIdentity.accessKeyId=remove"]);
        let raw = raw.as_bytes();
        assert!(top.placed());
        assert_eq!(top.first(raw, b"key"), Some(&br#"{ "a" : [1, 2] }"#[..]));
        assert_eq!(top.first(raw, b"secret"), Some(&br#""s""#[..]));
        assert_eq!(top.first(raw, b"nope"), None);
        let keys: Vec<Vec<u8>> = top.all(raw).map(|(k, _)| k.into_owned()).collect();
        assert_eq!(keys, [&b"eventTime"[..], b"key", b"secret", b"gone", b"key", b"userIdentity"]);
        // The document's values, as a parser of it reads them (the last of a repeated key).
        let parsed: serde_json::Value = serde_json::from_slice(&doc).unwrap();
        for key in ["@timestamp", "eventTime", "secret", "userIdentity", "key"] {
            let value = top.written(raw, &doc, key.as_bytes()).unwrap();
            assert_eq!(serde_json::from_slice::<serde_json::Value>(value).unwrap(), parsed[key], "{key}");
        }
        assert_eq!(top.written(raw, &doc, b"gone"), None);
        assert_eq!(top.written(raw, &doc, b"userIdentity"), Some(&br#"{"type":"Root"}"#[..]));
    }

    #[test]
    fn an_event_with_its_own_timestamp_keeps_its_positions() {
        let raw = r#"{"@timestamp":"2024-05-01T00:00:00Z","eventName":"X"}"#;
        let (doc, top) = walked(raw, &[]);
        assert_eq!(top.written(raw.as_bytes(), &doc, b"@timestamp"), Some(&br#""2024-05-01T00:00:00Z""#[..]));
        assert_eq!(top.written(raw.as_bytes(), &doc, b"eventName"), Some(&br#""X""#[..]));
    }
}
