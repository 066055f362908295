//! String escapes for [`Scanner::string_with`]: JSON's escapes decoded, surrogate pairs joined.
//! A child of the scanner module, so that it reads the scanner's buffer directly.

use super::{ScanError, Scanner, Sink};
use std::io::Read;

impl<R: Read> Scanner<R> {
    /// After a backslash in a string: one escape.
    pub(super) fn escape<S: Sink + ?Sized>(&mut self, sink: &mut S) -> Result<(), ScanError> {
        let c = self.next_byte()?;
        let plain: &[u8] = match c {
            b'"' => b"\"",
            b'\\' => b"\\",
            b'/' => b"/",
            b'b' => b"\x08",
            b'f' => b"\x0c",
            b'n' => b"\n",
            b'r' => b"\r",
            b't' => b"\t",
            b'u' => return self.unicode_escape(sink),
            _ => {
                sink.push(&[b'\\', c]);
                return Ok(());
            }
        };
        sink.push(plain);
        Ok(())
    }

    /// After `\u`: the code unit, joined with a following low surrogate when it is a high one.
    fn unicode_escape<S: Sink + ?Sized>(&mut self, sink: &mut S) -> Result<(), ScanError> {
        let mut unit = match self.hex4(sink)? {
            Some(unit) => unit,
            None => return Ok(()),
        };
        loop {
            if !(0xD800..0xDC00).contains(&unit) || self.peek()? != Some(b'\\') {
                push_unit(sink, unit);
                return Ok(());
            }
            self.pos += 1;
            if self.peek()? != Some(b'u') {
                push_unit(sink, unit);
                return self.escape(sink);
            }
            self.pos += 1;
            let Some(next) = self.hex4_after(sink, unit)? else { return Ok(()) };
            if (0xDC00..0xE000).contains(&next) {
                let c = 0x10000 + ((u32::from(unit) - 0xD800) << 10) + (u32::from(next) - 0xDC00);
                let c = char::from_u32(c).expect("a surrogate pair is a char");
                sink.push(c.encode_utf8(&mut [0; 4]).as_bytes());
                return Ok(());
            }
            push_unit(sink, unit);
            unit = next;
        }
    }

    /// Four hex digits; when they are not, pushes what was read as written and returns `None`.
    fn hex4<S: Sink + ?Sized>(&mut self, sink: &mut S) -> Result<Option<u16>, ScanError> {
        let (mut unit, mut raw, mut n) = (0u16, [b'\\', b'u', 0, 0, 0, 0], 2);
        while n < 6 {
            match self.peek()?.and_then(|b| (b as char).to_digit(16).map(|d| (b, d))) {
                Some((b, d)) => {
                    self.pos += 1;
                    unit = unit << 4 | d as u16;
                    raw[n] = b;
                    n += 1;
                }
                None => {
                    sink.push(&raw[..n]);
                    return Ok(None);
                }
            }
        }
        Ok(Some(unit))
    }

    /// [`Scanner::hex4`] for the escape after a high surrogate `high`, which is pushed first if
    /// the digits are bad.
    fn hex4_after<S: Sink + ?Sized>(&mut self, sink: &mut S, high: u16) -> Result<Option<u16>, ScanError> {
        let mut held = Vec::new();
        match self.hex4(&mut held)? {
            Some(unit) => Ok(Some(unit)),
            None => {
                push_unit(sink, high);
                sink.push(&held);
                Ok(None)
            }
        }
    }
}

/// A UTF-16 code unit as UTF-8 (three bytes for a surrogate: not valid UTF-8, on purpose).
fn push_unit<S: Sink + ?Sized>(sink: &mut S, unit: u16) {
    let u = u32::from(unit);
    match u {
        0..=0x7F => sink.push(&[u as u8]),
        0x80..=0x7FF => sink.push(&[0xC0 | (u >> 6) as u8, 0x80 | (u & 0x3F) as u8]),
        _ => sink.push(&[0xE0 | (u >> 12) as u8, 0x80 | ((u >> 6) & 0x3F) as u8, 0x80 | (u & 0x3F) as u8]),
    }
}
