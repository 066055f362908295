//! Values the walker noted on its way through an event, and how to read them as text.
//!
//! The encoder needs `eventID`, `eventTime` and `@timestamp`; filters and the console rule need
//! their fields. Rather than building a tree, the walker records where each wanted value sits in
//! the event's bytes ([`Found`]), always the value as CloudTrail wrote it, before any redaction.
//! Reading them back ([`scalars`]) happens only for the few values a decision needs.
//!
//! Everything here works on JSON the walker has already validated; malformed input never panics,
//! it just reads as something harmless (U+FFFD, or nothing).

use super::path::FieldPath;
use std::borrow::Cow;
use std::ops::Range;

/// The fields whose values are captured; a field's slot is its index here.
#[derive(Debug, Default)]
pub struct Slots {
    paths: Vec<FieldPath>,
}

impl Slots {
    /// The slot of `path`, added if new (the same path always gets the same slot).
    pub fn slot(&mut self, path: &FieldPath) -> u16 {
        match self.paths.iter().position(|p| p == path) {
            Some(i) => i as u16,
            None => {
                self.paths.push(path.clone());
                (self.paths.len() - 1) as u16
            }
        }
    }

    /// The slot of a path written as text (for the built-in paths, which always parse).
    pub fn named(&mut self, path: &str) -> u16 {
        match path.parse::<FieldPath>() {
            Ok(p) => self.slot(&p),
            Err(_) => u16::MAX,
        }
    }

    /// The captured paths, by slot.
    pub fn paths(&self) -> &[FieldPath] {
        &self.paths
    }
}

/// Captures kept without allocating; an event rarely has more.
const INLINE: usize = 12;

/// Where the wanted values of one event are: `(slot, byte range of the JSON value)`; and the first
/// key repeated in an object the walker tracked.
pub struct Found {
    inline: [(u16, usize, usize); INLINE],
    len: usize,
    spill: Vec<(u16, usize, usize)>,
    /// A key some rule or capture names, repeated in one object.
    pub duplicate: Option<Duplicate>,
    /// The walker's record of the keys of the objects it tracks.
    pub(super) keys: Keys,
}

impl Default for Found {
    fn default() -> Self {
        Found {
            inline: [(0, 0, 0); INLINE],
            len: 0,
            spill: Vec::new(),
            duplicate: None,
            keys: Keys::default(),
        }
    }
}

/// A key repeated in one object. Elasticsearch and OpenSearch refuse such a document whole (their
/// JSON parser detects duplicates), and redaction would make the copies differ from what the rule
/// promises (two masked copies of one secret), so the event is a dead letter with this reason,
/// whatever the mode. Keys are named, values never.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Duplicate {
    /// The key, as the event writes it (JSON escapes kept), at most 64 characters.
    pub key: String,
    /// The object's path from the top (`userIdentity`, `resources.*`), empty at the top.
    pub path: String,
    /// Byte offset of the second occurrence in the record.
    pub at: usize,
}

impl std::fmt::Display for Duplicate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let place =
            if self.path.is_empty() { "at the top of the event".into() } else { format!("in {}", self.path) };
        write!(
            f,
            "duplicate field `{}` {place} (byte {}): Elasticsearch and OpenSearch refuse a document that repeats a key in one object",
            self.key, self.at
        )
    }
}

/// The keys of the open objects the walker tracks (one stack for all of them), and the path to
/// where it is, so that a repeated key is found and named. Only keys a rule or capture names are
/// tracked (the others are skipped unread; the cluster's own message names those).
#[derive(Default)]
pub(super) struct Keys {
    /// `(state, start, end)`: a key's matcher state and the range of its text in the record.
    seen: Vec<(u32, usize, usize)>,
    /// Ranges of the keys from the top to here; `(usize::MAX, 0)` for an array element.
    path: Vec<(usize, usize)>,
}

/// An array element in [`Keys`]' path.
const ELEMENT: (usize, usize) = (usize::MAX, 0);

impl Keys {
    /// Where the keys of a new object start.
    pub fn open(&self) -> usize {
        self.seen.len()
    }

    /// Forgets the keys of the object opened at `base`.
    pub fn close(&mut self, base: usize) {
        self.seen.truncate(base);
    }

    /// Notes the key at `range` (inside its quotes) of the object opened at `base`, whose value
    /// has matcher state `state`; true when the object already had it. `states` is the object's
    /// own record of the states its keys had (bit `state % 64`, empty at first): a key whose bit
    /// is not set is surely new there (the same key always has the same state), which spares
    /// comparing it with the object's other keys.
    pub fn repeated(
        &mut self,
        src: &[u8],
        base: usize,
        state: u32,
        range: Range<usize>,
        states: &mut u64,
    ) -> bool {
        let bit = 1u64 << (state % 64);
        let maybe = *states & bit != 0;
        *states |= bit;
        let key = &src[range.clone()];
        let same = |&&(s, a, b): &&(u32, usize, usize)| {
            let other = &src[a..b];
            s == state
                && (other == key
                    || ((other.contains(&b'\\') || key.contains(&b'\\')) && {
                        let (mut x, mut y) = (Vec::new(), Vec::new());
                        unescape(other, &mut x);
                        unescape(key, &mut y);
                        x == y
                    }))
        };
        let repeated = maybe && self.seen[base..].iter().any(|e| same(&e));
        self.seen.push((state, range.start, range.end));
        repeated
    }

    /// Steps into the value of the key at `range`, or into an array's elements (`None`).
    pub fn enter(&mut self, range: Option<Range<usize>>) {
        self.path.push(range.map_or(ELEMENT, |r| (r.start, r.end)));
    }

    /// Steps back out.
    pub fn leave(&mut self) {
        self.path.pop();
    }

    /// The path from the top to here, in path syntax (array elements are `*`).
    pub fn path_text(&self, src: &[u8]) -> String {
        let steps: Vec<String> = self
            .path
            .iter()
            .map(|&(a, b)| if (a, b) == ELEMENT { "*".into() } else { key_text(&src[a..b]) })
            .collect();
        steps.join(".")
    }
}

/// A key's text as the record writes it, for messages: at most 64 characters.
pub(super) fn key_text(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    match text.char_indices().nth(64) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.into_owned(),
    }
}

impl Found {
    /// Empties it for the next event, keeping its buffers (no allocation per event when an event
    /// has more than the inline captures, as a report's have).
    pub fn clear(&mut self) {
        self.len = 0;
        self.spill.clear();
        self.duplicate = None;
        self.keys.seen.clear();
        self.keys.path.clear();
    }

    /// Notes that the value at `range` belongs to `slot`.
    #[inline]
    pub fn push(&mut self, slot: u16, range: Range<usize>) {
        if self.len < INLINE {
            self.inline[self.len] = (slot, range.start, range.end);
            self.len += 1;
        } else {
            self.spill.push((slot, range.start, range.end));
        }
    }

    /// The raw JSON texts captured for `slot`, in event order.
    pub fn values<'a, 's: 'a>(&'a self, src: &'s [u8], slot: u16) -> impl Iterator<Item = &'s [u8]> + 'a {
        self.inline[..self.len]
            .iter()
            .chain(&self.spill)
            .filter(move |c| c.0 == slot)
            .filter_map(move |&(_, start, end)| src.get(start..end))
    }

    /// Every value captured, with its slot, in the order captured.
    pub fn all<'a, 's: 'a>(&'a self, src: &'s [u8]) -> impl Iterator<Item = (u16, &'s [u8])> + 'a {
        self.inline[..self.len]
            .iter()
            .chain(&self.spill)
            .filter_map(move |&(slot, start, end)| Some((slot, src.get(start..end)?)))
    }

    /// Every capture, as its slot and the byte range of its value, in the order captured.
    pub fn ranges(&self) -> impl Iterator<Item = (u16, Range<usize>)> + '_ {
        self.inline[..self.len].iter().chain(&self.spill).map(|&(slot, start, end)| (slot, start..end))
    }

    /// The first value captured for `slot`, and whether there was more than one.
    pub fn single<'s>(&self, src: &'s [u8], slot: u16) -> (Option<&'s [u8]>, bool) {
        let mut values = self.values(src, slot);
        let first = values.next();
        (first, values.next().is_some())
    }
}

/// The kind of a JSON value, from its first byte, as error messages name it.
pub fn kind(raw: &[u8]) -> &'static str {
    match raw.first() {
        Some(b'"') => "a string",
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        Some(_) => "a number",
        None => "empty",
    }
}

/// Whether `bytes` hold a `\\`: eight bytes at a time, in line (the values read are short, where a
/// call to a vectorised search costs more than the search itself).
#[inline]
pub fn has_backslash(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        // A byte of `x` is zero where the chunk has a backslash.
        let x = u64::from_le_bytes(word) ^ (ONES * u64::from(b'\\'));
        if x.wrapping_sub(ONES) & !x & HIGH != 0 {
            return true;
        }
    }
    chunks.remainder().contains(&b'\\')
}

/// A JSON string literal (with its quotes) as text.
pub fn string_text(raw: &[u8]) -> Cow<'_, str> {
    let inner = raw.get(1..raw.len().saturating_sub(1)).unwrap_or_default();
    if !has_backslash(inner) {
        // Valid UTF-8 is the rule: checked first the fast way, the lossy way only when it is not.
        return match std::str::from_utf8(inner) {
            Ok(text) => Cow::Borrowed(text),
            Err(_) => String::from_utf8_lossy(inner),
        };
    }
    let mut out = Vec::with_capacity(inner.len());
    unescape(inner, &mut out);
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// Calls `f` with every scalar of a captured value until it returns true; returns whether it did.
/// Strings give their text, numbers/booleans/null their JSON text (`true`, `null`, `1.5`); an
/// array gives the scalars inside it, at any depth; an object gives nothing.
pub fn any_scalar(raw: &[u8], f: &mut dyn FnMut(&str) -> bool) -> bool {
    match raw.first() {
        Some(b'"') => f(&string_text(raw)),
        Some(b'[') => elements(raw).any(|e| any_scalar(e, f)),
        Some(b'{') | None => false,
        Some(_) => f(std::str::from_utf8(raw).unwrap_or_default()),
    }
}

/// [`any_scalar`] of a value known to be UTF-8 (the walk checked it): a string without escapes
/// is passed as it is, not checked again.
pub fn any_scalar_text(raw: &str, f: &mut dyn FnMut(&str) -> bool) -> bool {
    match raw.as_bytes().first() {
        Some(b'"') => match raw.get(1..raw.len().saturating_sub(1)) {
            Some(inner) if !has_backslash(inner.as_bytes()) => f(inner),
            _ => f(&string_text(raw.as_bytes())),
        },
        Some(b'[') => any_scalar(raw.as_bytes(), f),
        Some(b'{') | None => false,
        Some(_) => f(raw),
    }
}

/// The elements of a (valid) JSON array, as raw texts.
fn elements(raw: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut pos = 1;
    std::iter::from_fn(move || {
        pos = skip_ws(raw, pos);
        if raw.get(pos) == Some(&b',') {
            pos = skip_ws(raw, pos + 1);
        }
        match raw.get(pos) {
            None | Some(b']') => None,
            Some(_) => {
                let start = pos;
                pos = value_end(raw, pos);
                Some(&raw[start..pos])
            }
        }
    })
}

fn skip_ws(raw: &[u8], mut pos: usize) -> usize {
    while matches!(raw.get(pos), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        pos += 1;
    }
    pos
}

/// Where the (valid) JSON value starting at `pos` ends.
fn value_end(raw: &[u8], mut pos: usize) -> usize {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    while let Some(&b) = raw.get(pos) {
        pos += 1;
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' if depth == 0 => return pos,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' if depth == 0 => return pos - 1,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return pos;
                }
            }
            b',' | b' ' | b'\t' | b'\n' | b'\r' if depth == 0 => return pos - 1,
            _ => {}
        }
    }
    pos
}

/// Decodes the inside of a JSON string (no quotes) into UTF-8.
pub fn unescape(inner: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while let Some(&b) = inner.get(i) {
        if b != b'\\' {
            let run = memchr::memchr(b'\\', &inner[i..]).map_or(inner.len(), |n| i + n);
            out.extend_from_slice(&inner[i..run]);
            i = run;
            continue;
        }
        let simple = match inner.get(i + 1) {
            Some(b'"') => Some(b'"'),
            Some(b'\\') => Some(b'\\'),
            Some(b'/') => Some(b'/'),
            Some(b'b') => Some(0x08),
            Some(b'f') => Some(0x0c),
            Some(b'n') => Some(b'\n'),
            Some(b'r') => Some(b'\r'),
            Some(b't') => Some(b'\t'),
            _ => None,
        };
        if let Some(c) = simple {
            out.push(c);
            i += 2;
            continue;
        }
        let unit = |at: usize| {
            let hex = std::str::from_utf8(inner.get(at..at + 4)?).ok()?;
            u32::from_str_radix(hex, 16).ok()
        };
        let (c, used) = match (unit(i + 2), inner.get(i + 6..i + 8), unit(i + 8)) {
            (Some(hi @ 0xD800..=0xDBFF), Some(b"\\u"), Some(lo @ 0xDC00..=0xDFFF)) => {
                (char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)), 12)
            }
            (Some(n), _, _) => (char::from_u32(n), 6),
            (None, _, _) => (None, 2),
        };
        let c = c.unwrap_or(char::REPLACEMENT_CHARACTER);
        out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
        i += used;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_beyond_the_inline_ones_are_kept_in_order() {
        let mut found = Found::default();
        let src: Vec<u8> = (0..40u8).collect();
        for i in 0..30 {
            found.push((i % 3) as u16, i..i + 1);
        }
        let ones: Vec<u8> = found.values(&src, 1).map(|v| v[0]).collect();
        assert_eq!(ones, (0..30).filter(|i| i % 3 == 1).collect::<Vec<u8>>());
        assert_eq!(found.single(&src, 2), (Some(&[2u8][..]), true));
        assert_eq!(found.single(&src, 7), (None, false));
    }

    #[test]
    fn backslashes_are_found_wherever_they_are() {
        for len in 0..40 {
            assert!(!has_backslash(&vec![b'a'; len]));
            for at in 0..len {
                let mut bytes = vec![0xffu8; len];
                bytes[at] = b'\\';
                assert!(has_backslash(&bytes), "{len} {at}");
                bytes[at] = b'\\' + 0x80;
                assert!(!has_backslash(&bytes), "{len} {at}");
            }
        }
    }

    #[test]
    fn strings_are_decoded() {
        assert_eq!(string_text(br#""plain""#), "plain");
        assert_eq!(string_text(br#""a\"b\\c\/d\n\u00e9\ud83d\ude00""#), "a\"b\\c/d\né😀");
        assert_eq!(string_text(br#""lone \udc00""#), "lone \u{fffd}");
    }

    #[test]
    fn scalars_of_arrays_at_any_depth() {
        let mut seen = Vec::new();
        let raw = br#"[ "a", 1, [true, null, "x\"y"], {"k":"v"}, -2.5e3 ]"#;
        assert!(any_scalar(b"[1,[2]]", &mut |s| s == "2"));
        assert!(any_scalar(b"[1]", &mut |s| s == "1"), "a scalar right before `]`");
        assert!(!any_scalar(raw, &mut |s| {
            seen.push(s.to_string());
            false
        }));
        assert_eq!(seen, ["a", "1", "true", "null", "x\"y", "-2.5e3"]);
        assert!(any_scalar(raw, &mut |s| s == "null"));
        assert!(!any_scalar(br#"{"a":"b"}"#, &mut |_| true), "objects have no scalar");
        assert!(!any_scalar(b"[]", &mut |_| true));
    }
}
