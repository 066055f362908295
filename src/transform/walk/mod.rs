//! The event walker: one pass over an event's bytes that validates it, notes the values the
//! encoder and filters need, applies redaction, and writes the compact document.
//!
//! Why not `serde_json::Value`: building a tree for every event and printing it again costs
//! several times what the rest of the pipeline does. The walker instead copies the event's own
//! bytes in as few pieces as possible: a compact event with nothing to redact is one copy.
//! Whitespace outside strings is dropped (a pretty-printed event comes out on one line), and
//! redacted values are cut out or replaced while copying.
//!
//! Validation accepts exactly what `serde_json` accepts for a JSON object (tested against it in
//! `walk/tests.rs`): UTF-8 only, no control characters in strings, valid escapes with paired
//! surrogates, JSON numbers that are finite as f64, no trailing commas or trailing data, at most
//! 127 levels of nesting. Errors say where and what, never quote the event (it may hold secrets).
//!
//! Paths are tracked with the [`Matcher`]: one state per open object or array; a dotted key steps
//! through the keys it spells ([`Matcher::member`]), as Elasticsearch reads it. Where no rule can
//! match (state [`DEAD`]) the walker switches to [`Walk::skip_value`], a tight loop that only
//! validates and copies.
//!
//! A key that rules or captures name, repeated in one object, is noted in [`Found::duplicate`]
//! (the walk goes on, so a dead letter still gets the redacted document; see `capture.rs`).
//!
//! Removing a field must keep the JSON valid: the walker writes separators lazily (the comma
//! before a member is copied with it, and taken back or skipped when the member is removed).

use super::capture::{key_text, unescape, Duplicate, Found};
use super::matcher::{Matcher, StateId, DEAD, ROOT};
use super::redact::{RedactMode, Redactor};
pub use super::token::WalkError;
use super::token::{self, is_ws};
use super::top::TopLevel;
use crate::decode::value_kind;
use std::borrow::Cow;

mod plan;
pub use plan::{compile, Accept};

mod skip;

/// `serde_json` refuses deeper nesting (its recursion limit), so the walker does too.
pub const MAX_DEPTH: usize = 127;

/// Walks the object in `src`, appending the rewritten document to `out` and noting captured values
/// in `found`. On error `out` may hold a partial document: the caller truncates it.
pub fn rewrite(
    src: &[u8],
    matcher: &Matcher<Accept>,
    redactor: &Redactor,
    out: &mut Vec<u8>,
    found: &mut Found,
) -> Result<(), WalkError> {
    rewrite_noting(src, matcher, redactor, out, found, None)
}

/// [`rewrite`], noting where each top-level member is in `top` when given (`top.rs`).
pub fn rewrite_noting(
    src: &[u8],
    matcher: &Matcher<Accept>,
    redactor: &Redactor,
    out: &mut Vec<u8>,
    found: &mut Found,
    top: Option<&mut TopLevel>,
) -> Result<(), WalkError> {
    walk(src, matcher, redactor, out, found, top, 0).map(|_| ())
}

/// [`rewrite`] without writing the document: the same validation and captures, for a reader of
/// the captured values alone (nothing is copied). Returns the event as the text it was checked to
/// be.
pub fn check<'s>(
    src: &'s [u8],
    matcher: &Matcher<Accept>,
    redactor: &Redactor,
    found: &mut Found,
) -> Result<&'s str, WalkError> {
    // Quiet from the start: nothing is ever written to the (empty) output.
    walk(src, matcher, redactor, &mut Vec::new(), found, None, 1)
}

fn walk<'s>(
    src: &'s [u8],
    matcher: &Matcher<Accept>,
    redactor: &Redactor,
    out: &mut Vec<u8>,
    found: &mut Found,
    mut top: Option<&mut TopLevel>,
    quiet: u32,
) -> Result<&'s str, WalkError> {
    if let Some(top) = top.as_deref_mut() {
        top.clear();
    }
    let start = src.iter().position(|&b| !is_ws(b)).unwrap_or(src.len());
    match src.get(start) {
        Some(b'{') => {}
        Some(_) => return Err(WalkError::NotObject(value_kind(&src[start..]))),
        None => return Err(WalkError::NotObject("empty")),
    }
    let text = match std::str::from_utf8(src) {
        Ok(text) => text,
        Err(e) => return Err(WalkError::Syntax { at: e.valid_up_to(), what: "invalid UTF-8" }),
    };
    let doc = out.len();
    let mut walk =
        Walk { src, pos: start, mark: start, quiet, depth: 0, out, matcher, redactor, found, top, doc };
    walk.object(ROOT)?;
    let end = walk.pos;
    walk.flush(end);
    match src[end..].iter().position(|&b| !is_ws(b)) {
        Some(i) => Err(WalkError::Syntax { at: end + i, what: "trailing characters after the object" }),
        None => Ok(text),
    }
}

struct Walk<'s, 'o> {
    src: &'s [u8],
    /// Next byte to read.
    pos: usize,
    /// Bytes before this are written out (or deliberately left out).
    mark: usize,
    /// Above 0 inside a removed or replaced value: nothing is written.
    quiet: u32,
    /// Open objects and arrays.
    depth: usize,
    out: &'o mut Vec<u8>,
    matcher: &'o Matcher<Accept>,
    redactor: &'o Redactor,
    found: &'o mut Found,
    /// Where the top-level members are noted, when asked.
    top: Option<&'o mut TopLevel>,
    /// Where the document starts in `out`.
    doc: usize,
}

impl Walk<'_, '_> {
    fn err(&self, what: &'static str) -> WalkError {
        WalkError::Syntax { at: self.pos, what }
    }

    #[inline]
    fn peek(&self) -> Result<u8, WalkError> {
        self.src
            .get(self.pos)
            .copied()
            .ok_or(WalkError::Syntax { at: self.pos, what: "unexpected end of data" })
    }

    /// Writes the pending input up to `to`.
    #[inline]
    fn flush(&mut self, to: usize) {
        if self.quiet == 0 {
            self.out.extend_from_slice(&self.src[self.mark..to]);
        }
        self.mark = to;
    }

    /// Where the byte at `self.pos` goes in the document (when it is written): what is pending
    /// since `mark` is copied as it is.
    #[inline]
    fn placed(&self) -> usize {
        self.out.len() + (self.pos - self.mark) - self.doc
    }

    /// Skips whitespace, leaving it out of the output.
    #[inline]
    fn ws(&mut self) {
        if self.src.get(self.pos).is_some_and(|&b| is_ws(b)) {
            self.flush(self.pos);
            while self.src.get(self.pos).is_some_and(|&b| is_ws(b)) {
                self.pos += 1;
            }
            self.mark = self.pos;
        }
    }

    fn enter(&mut self) -> Result<(), WalkError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.err("nested more than 127 levels deep"));
        }
        self.depth += 1;
        Ok(())
    }

    /// An object at `self.pos` whose path state is `s` (not dead).
    fn object(&mut self, s: StateId) -> Result<(), WalkError> {
        self.enter()?;
        let conditions = &self.matcher.payload(s).conditions;
        let active = if conditions.is_empty() { Vec::new() } else { self.active(conditions) };
        let base = self.found.keys.open();
        self.pos += 1;
        self.ws();
        if self.peek()? == b'}' {
            self.pos += 1;
            self.depth -= 1;
            return Ok(());
        }
        let (mut kept, mut states) = (0, 0u64);
        loop {
            let item = self.pos;
            if self.peek()? != b'"' {
                return Err(self.err("expected a string key"));
            }
            let (key_start, key_end, escaped) = self.string()?;
            let src = self.src;
            let raw_key = &src[key_start..key_end];
            let key: Cow<[u8]> = if escaped {
                let mut plain = Vec::with_capacity(raw_key.len());
                unescape(raw_key, &mut plain);
                Cow::Owned(plain)
            } else {
                Cow::Borrowed(raw_key)
            };
            let (child, outer) = self.matcher.member(s, &key, |a: &Accept| a.redact.is_some());
            // A dotted key inside an object some rule hides is hidden with it, whatever is below.
            let mut redact = self.matcher.payload(outer.unwrap_or(child)).redact;
            if redact.is_none() {
                redact = active.iter().find_map(|&i| conditions[i].mode_for(&key));
            }
            let tracked = child != DEAD || redact.is_some();
            if tracked && self.found.keys.repeated(src, base, child, key_start..key_end, &mut states) {
                let keys = &self.found.keys;
                let duplicate =
                    Duplicate { key: key_text(raw_key), path: keys.path_text(src), at: key_start - 1 };
                self.found.duplicate.get_or_insert(duplicate);
            }
            // A member to remove goes key and all: decide before anything after the key is copied.
            let removing = redact == Some(RedactMode::Remove);
            if removing {
                self.begin_remove(item, kept);
            }
            self.ws();
            if self.peek()? != b':' {
                return Err(self.err("expected ':'"));
            }
            self.pos += 1;
            self.ws();
            // The path is only read inside an object or array below: a scalar needs no step.
            let container = tracked && matches!(self.src.get(self.pos), Some(b'{' | b'['));
            if container {
                self.found.keys.enter(Some(key_start..key_end));
            }
            let (value, placed) = (self.pos, self.placed());
            let written = self.item(child, redact, item, kept, removing)?;
            if container {
                self.found.keys.leave();
            }
            if self.depth == 1 {
                let end = (written && self.quiet == 0).then(|| self.placed());
                if let Some(top) = self.top.as_deref_mut() {
                    top.push(
                        self.src,
                        key_start..key_end,
                        escaped,
                        value..self.pos,
                        end.map(|end| placed..end),
                    );
                }
            }
            kept += usize::from(written);
            if !self.separator(b'}', written, kept)? {
                break;
            }
        }
        self.found.keys.close(base);
        self.depth -= 1;
        Ok(())
    }

    /// An array at `self.pos` whose path state is `s` (not dead).
    fn array(&mut self, s: StateId) -> Result<(), WalkError> {
        self.enter()?;
        self.pos += 1;
        self.ws();
        if self.peek()? == b']' {
            self.pos += 1;
            self.depth -= 1;
            return Ok(());
        }
        let child = self.matcher.element(s);
        let redact = self.matcher.payload(child).redact;
        let mut kept = 0;
        self.found.keys.enter(None);
        loop {
            let item = self.pos;
            let written = self.item(child, redact, item, kept, false)?;
            kept += usize::from(written);
            if !self.separator(b']', written, kept)? {
                break;
            }
        }
        self.found.keys.leave();
        self.depth -= 1;
        Ok(())
    }

    /// After an item: `,` (true: another item follows) or `close` (false). A comma after a removed
    /// item that had nothing written before it is left out, so the next item comes first.
    fn separator(&mut self, close: u8, written: bool, kept: usize) -> Result<bool, WalkError> {
        self.ws();
        match self.peek()? {
            b',' => {
                if !written && kept == 0 {
                    self.flush(self.pos);
                    self.mark = self.pos + 1;
                }
                self.pos += 1;
                self.ws();
                Ok(true)
            }
            b if b == close => {
                self.pos += 1;
                Ok(false)
            }
            _ if close == b'}' => Err(self.err("expected ',' or '}'")),
            _ => Err(self.err("expected ',' or ']'")),
        }
    }

    /// One member value or array element at state `s`, hidden by `redact`; `item` is where the
    /// member (its key) or element starts, `kept` how many items of the container were written
    /// before it, `removing` whether the caller already began removing it. Returns whether the item
    /// is in the output.
    fn item(
        &mut self,
        s: StateId,
        redact: Option<RedactMode>,
        item: usize,
        kept: usize,
        removing: bool,
    ) -> Result<bool, WalkError> {
        if s == DEAD && redact.is_none() {
            self.skip_value()?;
            return Ok(true);
        }
        let matcher = self.matcher;
        let accept = matcher.payload(s);
        let start = self.pos;
        let written = match redact {
            None => {
                self.value(s)?;
                true
            }
            Some(RedactMode::Remove) => {
                if !removing {
                    self.begin_remove(item, kept);
                }
                let result = self.value(s);
                self.end_quiet();
                result?;
                false
            }
            Some(mode) => {
                self.flush(start);
                self.quiet += 1;
                let result = self.value(s);
                self.end_quiet();
                result?;
                if self.quiet == 0 {
                    self.redactor.write(mode, &self.src[start..self.pos], self.out);
                }
                true
            }
        };
        for &slot in accept.captures.iter() {
            self.found.push(slot, start..self.pos);
        }
        Ok(written)
    }

    /// Starts removing the item that begins at `item`: what came before it is written, the comma
    /// that separated it from a previous written item is taken back, and nothing more is written
    /// until [`Walk::end_quiet`].
    fn begin_remove(&mut self, item: usize, kept: usize) {
        self.flush(item);
        if kept > 0 && self.quiet == 0 {
            self.out.pop();
        }
        self.quiet += 1;
    }

    /// Ends a stretch of input that is not written.
    fn end_quiet(&mut self) {
        self.quiet -= 1;
        self.mark = self.pos;
    }

    /// Any value at state `s`: objects and arrays are walked with their paths where a rule could
    /// still match below, skipped otherwise.
    fn value(&mut self, s: StateId) -> Result<(), WalkError> {
        if !self.matcher.descends(s) {
            return self.skip_value();
        }
        match self.peek()? {
            b'{' => self.object(s),
            b'[' => self.array(s),
            _ => self.skip_value(),
        }
    }

    fn literal(&mut self, word: &'static [u8]) -> Result<(), WalkError> {
        self.pos = token::literal(self.src, self.pos, word)?;
        Ok(())
    }

    fn number(&mut self) -> Result<(), WalkError> {
        self.pos = token::number(self.src, self.pos)?;
        Ok(())
    }

    /// A string at `self.pos`; returns the range of its contents and whether they hold escapes.
    #[inline]
    fn string(&mut self) -> Result<(usize, usize, bool), WalkError> {
        let (end, escaped) = token::string(self.src, self.pos)?;
        let start = self.pos + 1;
        self.pos = end + 1;
        Ok((start, end, escaped))
    }
}

#[cfg(test)]
mod tests;

/// Walks `event` capturing `slots`, for tests of what reads captures (filters, the console rule).
#[cfg(test)]
pub(crate) fn capture_for_tests(slots: &super::capture::Slots, event: &str) -> (Vec<u8>, Found) {
    let matcher = super::plan_matcher(&[], slots).unwrap();
    let (mut out, mut found) = (Vec::new(), Found::default());
    rewrite(event.as_bytes(), &matcher, &Default::default(), &mut out, &mut found).unwrap();
    (event.as_bytes().to_vec(), found)
}
