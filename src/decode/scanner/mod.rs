//! A streaming byte scanner over JSON text.
//!
//! CloudTrail log files can be large, so they are never loaded whole. The scanner walks the
//! decompressed stream through a fixed-size buffer and knows just enough JSON structure to find
//! where one value ends: strings (with escapes), nesting of `{}`/`[]`, and scalars. It does not
//! validate values; the transform validates each event it is handed.
//!
//! What a scan keeps goes to a [`Sink`]: nothing (skipping), a `Vec`, or a [`Bounded`] buffer that
//! stops growing at a limit and from then on only counts, so that a gigabyte-long record costs
//! the time to read it, never the memory. Strings can also be read unescaped ([`Scanner::string_with`]),
//! for CloudWatch Logs payloads, which carry each event as a JSON string.

use super::bytes::{describe_start, skip_ws};
use super::reuse;
use std::io::{self, Read};
use std::ops::Range;

/// How much decompressed data is read at a time.
const CHUNK: usize = 64 * 1024;

/// What went wrong while scanning. Offsets count bytes of decompressed text.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The underlying reader (file, gzip decoder, network) failed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The text ended inside a value.
    #[error("unexpected end of data at byte {0} (truncated file?)")]
    Eof(u64),
    /// A byte that cannot appear here in JSON.
    #[error("invalid JSON at byte {offset}: expected {expected}, found {found}")]
    Unexpected {
        /// Byte offset of the offending byte.
        offset: u64,
        /// What the grammar allows here.
        expected: &'static str,
        /// A printable rendering of what was found.
        found: String,
    },
}

/// Where the bytes of a scanned value go.
pub trait Sink {
    /// Takes the next piece of the value.
    fn push(&mut self, bytes: &[u8]);
}

impl Sink for () {
    fn push(&mut self, _: &[u8]) {}
}

impl Sink for Vec<u8> {
    fn push(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// A buffer that keeps a value whole up to `max` bytes; past that it keeps only the first
/// `prefix` bytes and counts the rest.
pub struct Bounded<'a> {
    out: &'a mut Vec<u8>,
    max: usize,
    prefix: usize,
    /// Bytes pushed so far.
    pub size: u64,
    /// Whether `out` holds all of them.
    pub whole: bool,
}

impl<'a> Bounded<'a> {
    /// Clears `out` and fills it from the next scan.
    pub fn new(out: &'a mut Vec<u8>, max: usize, prefix: usize) -> Self {
        out.clear();
        Bounded { out, max, prefix, size: 0, whole: true }
    }
}

impl Sink for Bounded<'_> {
    fn push(&mut self, bytes: &[u8]) {
        self.size += bytes.len() as u64;
        if !self.whole {
            return;
        }
        if self.out.len() + bytes.len() <= self.max {
            self.out.extend_from_slice(bytes);
            return;
        }
        self.whole = false;
        if self.out.len() > self.prefix {
            self.out.truncate(self.prefix);
        } else {
            let take = (self.prefix - self.out.len()).min(bytes.len());
            self.out.extend_from_slice(&bytes[..take]);
        }
    }
}

/// A buffered reader that scans JSON structure.
pub struct Scanner<R> {
    inner: R,
    /// `CHUNK` bytes long, kept by the thread for its next file (`reuse.rs`).
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    /// Bytes of the stream that came before `buf[0]`.
    base: u64,
}

impl<R> Drop for Scanner<R> {
    fn drop(&mut self) {
        reuse::give(std::mem::take(&mut self.buf));
    }
}

impl<R: Read> Scanner<R> {
    /// Wraps a reader of (already decompressed) JSON text.
    pub fn new(inner: R) -> Self {
        Scanner { inner, buf: reuse::take_filled(CHUNK), pos: 0, end: 0, base: 0 }
    }

    /// Offset of the next unread byte in the stream.
    pub fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Makes at least one byte available; `false` at end of stream.
    fn fill(&mut self) -> io::Result<bool> {
        if self.pos < self.end {
            return Ok(true);
        }
        self.base += self.end as u64;
        self.pos = 0;
        self.end = 0;
        Ok(self.read_more()? > 0)
    }

    /// Reads into the free end of the buffer; 0 at end of stream.
    fn read_more(&mut self) -> io::Result<usize> {
        loop {
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(n) => {
                    self.end += n;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// The unread bytes at hand, at least `n` of them unless the stream ends first (`n` at most
    /// the buffer size).
    pub fn ensure(&mut self, n: usize) -> Result<&[u8], ScanError> {
        if self.end - self.pos < n {
            self.buf.copy_within(self.pos..self.end, 0);
            self.base += self.pos as u64;
            self.end -= self.pos;
            self.pos = 0;
            while self.end < n.min(CHUNK) && self.read_more()? > 0 {}
        }
        Ok(&self.buf[self.pos..self.end])
    }

    /// The next byte, without consuming it; `None` at end of stream.
    pub fn peek(&mut self) -> Result<Option<u8>, ScanError> {
        Ok(if self.fill()? { Some(self.buf[self.pos]) } else { None })
    }

    /// Consumes the next byte; end of stream is an error.
    fn next_byte(&mut self) -> Result<u8, ScanError> {
        match self.peek()? {
            Some(b) => {
                self.pos += 1;
                Ok(b)
            }
            None => Err(ScanError::Eof(self.offset())),
        }
    }

    /// Skips JSON whitespace (in bulk) and returns the next byte without consuming it.
    pub fn peek_token(&mut self) -> Result<Option<u8>, ScanError> {
        loop {
            if !self.fill()? {
                return Ok(None);
            }
            self.pos += skip_ws(&self.buf[self.pos..self.end]);
            if self.pos < self.end {
                return Ok(Some(self.buf[self.pos]));
            }
        }
    }

    /// Consumes a UTF-8 byte-order mark if the stream starts with one.
    pub fn skip_bom(&mut self) -> Result<(), ScanError> {
        if self.ensure(3)?.starts_with(b"\xEF\xBB\xBF") {
            self.pos += 3;
        }
        Ok(())
    }

    /// Consumes `want` (after whitespace) or fails naming `expected`.
    pub fn expect(&mut self, want: u8, expected: &'static str) -> Result<(), ScanError> {
        match self.peek_token()? {
            Some(b) if b == want => {
                self.pos += 1;
                Ok(())
            }
            Some(_) => Err(self.unexpected(expected)),
            None => Err(ScanError::Eof(self.offset())),
        }
    }

    /// Builds the error for what starts at the current position.
    pub fn unexpected(&mut self, expected: &'static str) -> ScanError {
        let offset = self.offset();
        match self.ensure(3) {
            Ok(rest) => ScanError::Unexpected { offset, expected, found: describe_start(rest) },
            Err(e) => e,
        }
    }

    /// Consumes the value that starts at the next token, appending its bytes to `out` when given.
    pub fn value(&mut self, out: Option<&mut Vec<u8>>) -> Result<(), ScanError> {
        match out {
            Some(out) => self.value_with(out),
            None => self.value_with(&mut ()),
        }
    }

    /// Consumes the value that starts at the next token, handing its bytes to `sink`.
    pub fn value_with<S: Sink + ?Sized>(&mut self, sink: &mut S) -> Result<(), ScanError> {
        let first = self.peek_token()?.ok_or(ScanError::Eof(self.offset()))?;
        let mut state = match first {
            b'{' | b'[' | b'"' => State::Nested { depth: 0 },
            b'-' | b'0'..=b'9' | b't' | b'f' | b'n' => State::Scalar,
            _ => return Err(self.unexpected("a value")),
        };
        let mut in_string = false;
        let mut escaped = false;
        loop {
            if !self.fill()? {
                return match state {
                    State::Scalar => Ok(()),
                    State::Nested { .. } => Err(ScanError::Eof(self.offset())),
                };
            }
            let start = self.pos;
            let done =
                scan_chunk(&self.buf[..self.end], &mut self.pos, &mut state, &mut in_string, &mut escaped);
            sink.push(&self.buf[start..self.pos]);
            if done {
                return Ok(());
            }
        }
    }

    /// The object or array at the next token, when it ends inside the buffer within `max` bytes:
    /// consumes it and returns where it lies in the buffer ([`Scanner::held`]), so that it can be
    /// handed on without a copy. `None`, with nothing consumed, when it runs past the buffer's end
    /// (or `max`), or is not an object or array: then [`Scanner::value_with`] reads it.
    pub fn value_in_buffer(&mut self, max: usize) -> Result<Option<Range<usize>>, ScanError> {
        if !matches!(self.peek_token()?, Some(b'{' | b'[')) {
            return Ok(None);
        }
        let start = self.pos;
        let limit = self.end.min(start.saturating_add(max));
        let (mut pos, mut state, mut in_string, mut escaped) =
            (start, State::Nested { depth: 0 }, false, false);
        if scan_chunk(&self.buf[..limit], &mut pos, &mut state, &mut in_string, &mut escaped) {
            self.pos = pos;
            return Ok(Some(start..pos));
        }
        Ok(None)
    }

    /// Bytes of the buffer, as [`Scanner::value_in_buffer`] said where.
    pub fn held(&self, range: Range<usize>) -> &[u8] {
        &self.buf[range]
    }

    /// Moves the unread bytes to the front of the buffer and reads once into the rest, so that a
    /// value that ran past the buffer's end may now lie within it. Once, as reading that value on
    /// would: reading ahead could meet the end of a streamed gzip member, and its failed checksum,
    /// before the records read so far are handed on.
    pub fn refill(&mut self) -> Result<(), ScanError> {
        self.buf.copy_within(self.pos..self.end, 0);
        self.base += self.pos as u64;
        self.end -= self.pos;
        self.pos = 0;
        if self.end < CHUNK {
            self.read_more()?;
        }
        Ok(())
    }

    /// Consumes the JSON string at the next token, handing `sink` its text unescaped. Escapes
    /// that JSON does not define are passed on as written, and unpaired surrogates as their
    /// three-byte (not valid UTF-8) form, so that the text ends where [`Scanner::value`] says
    /// and a bad event is refused by the transform, which names it, rather than here.
    pub fn string_with<S: Sink + ?Sized>(&mut self, sink: &mut S) -> Result<(), ScanError> {
        self.expect(b'"', "a string")?;
        loop {
            if !self.fill()? {
                return Err(ScanError::Eof(self.offset()));
            }
            let rest = &self.buf[self.pos..self.end];
            match memchr::memchr2(b'"', b'\\', rest) {
                None => {
                    sink.push(rest);
                    self.pos = self.end;
                }
                Some(i) => {
                    let quote = rest[i] == b'"';
                    sink.push(&rest[..i]);
                    self.pos += i + 1;
                    if quote {
                        return Ok(());
                    }
                    self.escape(sink)?;
                }
            }
        }
    }

    /// Consumes bytes up to and including `stop`, handing `sink` those before it; `false` when
    /// the stream ended first.
    pub fn until<S: Sink + ?Sized>(&mut self, stop: u8, sink: &mut S) -> Result<bool, ScanError> {
        loop {
            if !self.fill()? {
                return Ok(false);
            }
            let rest = &self.buf[self.pos..self.end];
            match memchr::memchr(stop, rest) {
                None => {
                    sink.push(rest);
                    self.pos = self.end;
                }
                Some(i) => {
                    sink.push(&rest[..i]);
                    self.pos += i + 1;
                    return Ok(true);
                }
            }
        }
    }
}

mod strings;
mod structure;

use structure::{scan_chunk, State};

#[cfg(test)]
mod tests;
