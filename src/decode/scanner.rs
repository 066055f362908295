//! A streaming byte scanner over JSON text.
//!
//! CloudTrail log files can be large, so they are never loaded whole. The scanner walks the
//! decompressed stream through a fixed-size buffer and knows just enough JSON structure to find
//! where one value ends: strings (with escapes), nesting of `{}`/`[]`, and scalars. It does not
//! validate values; `records.rs` hands each captured event to `serde_json`, which does.

use std::io::{self, Read};

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

/// Renders a byte for an error message.
pub fn describe_byte(b: u8) -> String {
    match b {
        b' '..=b'~' => format!("'{}'", b as char),
        _ => format!("byte 0x{b:02x}"),
    }
}

/// A buffered reader that scans JSON structure.
pub struct Scanner<R> {
    inner: R,
    buf: Box<[u8]>,
    pos: usize,
    end: usize,
    /// Bytes of the stream that came before `buf[0]`.
    base: u64,
}

impl<R: Read> Scanner<R> {
    /// Wraps a reader of (already decompressed) JSON text.
    pub fn new(inner: R) -> Self {
        Scanner { inner, buf: vec![0; CHUNK].into_boxed_slice(), pos: 0, end: 0, base: 0 }
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
        loop {
            match self.inner.read(&mut self.buf) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    self.end = n;
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// The next byte, without consuming it; `None` at end of stream.
    pub fn peek(&mut self) -> Result<Option<u8>, ScanError> {
        Ok(if self.fill()? { Some(self.buf[self.pos]) } else { None })
    }

    /// Skips JSON whitespace and returns the next byte without consuming it.
    pub fn peek_token(&mut self) -> Result<Option<u8>, ScanError> {
        while let Some(b) = self.peek()? {
            if !is_ws(b) {
                return Ok(Some(b));
            }
            self.pos += 1;
        }
        Ok(None)
    }

    /// Consumes a UTF-8 byte-order mark if the stream starts with one.
    pub fn skip_bom(&mut self) -> Result<(), ScanError> {
        // A BOM is 3 bytes; the first read of a stream practically always has them all.
        if self.peek()?.is_some() && self.buf[self.pos..self.end].starts_with(b"\xEF\xBB\xBF") {
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
            Some(b) => Err(self.unexpected(expected, b)),
            None => Err(ScanError::Eof(self.offset())),
        }
    }

    /// Builds the error for an unexpected byte at the current position.
    pub fn unexpected(&self, expected: &'static str, found: u8) -> ScanError {
        ScanError::Unexpected { offset: self.offset(), expected, found: describe_byte(found) }
    }

    /// Consumes the value that starts at the next token, appending its bytes to `out` when given.
    pub fn value(&mut self, mut out: Option<&mut Vec<u8>>) -> Result<(), ScanError> {
        let first = self.peek_token()?.ok_or(ScanError::Eof(self.offset()))?;
        let mut state = match first {
            b'{' | b'[' => State::Nested { depth: 0 },
            b'"' => State::Nested { depth: 0 },
            b',' | b':' | b']' | b'}' => return Err(self.unexpected("a value", first)),
            _ => State::Scalar,
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
            if let Some(out) = out.as_deref_mut() {
                out.extend_from_slice(&self.buf[start..self.pos]);
            }
            if done {
                return Ok(());
            }
        }
    }

    /// Reads a JSON string (used for object keys), unescaping it.
    pub fn string(&mut self, scratch: &mut Vec<u8>) -> Result<String, ScanError> {
        scratch.clear();
        let offset = self.offset();
        match self.peek_token()? {
            Some(b'"') => {}
            Some(b) => return Err(self.unexpected("a string", b)),
            None => return Err(ScanError::Eof(offset)),
        }
        self.value(Some(scratch))?;
        serde_json::from_slice(scratch).map_err(|e| ScanError::Unexpected {
            offset,
            expected: "a valid string",
            found: e.to_string(),
        })
    }
}

/// Where a value scan stands between chunks.
enum State {
    /// Inside objects, arrays or a string; `depth` counts open brackets.
    Nested { depth: usize },
    /// A number, `true`, `false` or `null`: ends before a delimiter.
    Scalar,
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Advances `pos` through `buf`; returns true once the value is complete.
fn scan_chunk(
    buf: &[u8],
    pos: &mut usize,
    state: &mut State,
    in_string: &mut bool,
    escaped: &mut bool,
) -> bool {
    let depth = match state {
        State::Scalar => {
            while *pos < buf.len() {
                if matches!(buf[*pos], b',' | b']' | b'}' | b':') || is_ws(buf[*pos]) {
                    return true;
                }
                *pos += 1;
            }
            return false;
        }
        State::Nested { depth } => depth,
    };
    while *pos < buf.len() {
        if *in_string {
            if *escaped {
                *escaped = false;
                *pos += 1;
                continue;
            }
            // Jump to the next quote or backslash: most of an event is string content.
            match memchr::memchr2(b'"', b'\\', &buf[*pos..]) {
                None => {
                    *pos = buf.len();
                    return false;
                }
                Some(i) => {
                    *pos += i + 1;
                    if buf[*pos - 1] == b'\\' {
                        *escaped = true;
                    } else {
                        *in_string = false;
                        if *depth == 0 {
                            return true;
                        }
                    }
                }
            }
            continue;
        }
        let b = buf[*pos];
        *pos += 1;
        match b {
            b'"' => *in_string = true,
            b'{' | b'[' => *depth += 1,
            b'}' | b']' => {
                *depth = depth.saturating_sub(1);
                if *depth == 0 {
                    return true;
                }
            }
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capture(text: &str) -> (String, u64) {
        let mut s = Scanner::new(text.as_bytes());
        let mut out = Vec::new();
        s.value(Some(&mut out)).unwrap();
        (String::from_utf8(out).unwrap(), s.offset())
    }

    #[test]
    fn captures_each_kind_of_value() {
        assert_eq!(capture(r#" {"a":[1,{"b":"}"}]} , 2"#).0, r#"{"a":[1,{"b":"}"}]}"#);
        assert_eq!(capture(r#""x\"y\\" rest"#).0, r#""x\"y\\""#);
        assert_eq!(capture("12.5e3,").0, "12.5e3");
        assert_eq!(capture("true]").0, "true");
        assert_eq!(capture("null").0, "null");
    }

    #[test]
    fn values_spanning_chunks_are_whole() {
        let long = "x".repeat(CHUNK * 2 + 17);
        let text = format!(r#"{{"k":"{long}","n":[{{}}]}}"#);
        let (got, offset) = capture(&text);
        assert_eq!(got, text);
        assert_eq!(offset, text.len() as u64);
    }

    #[test]
    fn unterminated_value_is_eof() {
        let mut s = Scanner::new(&br#"{"a":"b"#[..]);
        assert!(matches!(s.value(None), Err(ScanError::Eof(_))));
    }

    #[test]
    fn strings_are_unescaped() {
        let mut s = Scanner::new(&br#"  "Rec\u006frds" "#[..]);
        assert_eq!(s.string(&mut Vec::new()).unwrap(), "Records");
    }

    #[test]
    fn bom_is_skipped_once() {
        let mut s = Scanner::new(&b"\xEF\xBB\xBF{}"[..]);
        s.skip_bom().unwrap();
        assert_eq!(s.peek_token().unwrap(), Some(b'{'));
    }
}
