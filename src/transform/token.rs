//! JSON's lexical rules, as strict as `serde_json` is when it reads a `Value`: strings (no control
//! characters, valid escapes, paired surrogates), numbers (JSON grammar, finite as an f64) and the
//! three literals. Each function takes the text and where the token starts, and returns where it
//! ends. UTF-8 is checked once for the whole event by the walker, so strings need not be.

/// Why an event could not be walked.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum WalkError {
    /// The record is a string, number, array…
    #[error("record is {0}, not a JSON object")]
    NotObject(&'static str),
    /// Not valid JSON.
    #[error("invalid JSON at byte {at}: {what}")]
    Syntax {
        /// Byte offset in the record.
        at: usize,
        /// What is wrong (never the content).
        what: &'static str,
    },
}

fn bad<T>(at: usize, what: &'static str) -> Result<T, WalkError> {
    Err(WalkError::Syntax { at, what })
}

/// JSON's four whitespace bytes (not form feed, unlike `u8::is_ascii_whitespace`).
#[inline]
pub fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// `true`, `false` or `null` (`word`) at `at`; returns its end.
pub fn literal(src: &[u8], at: usize, word: &'static [u8]) -> Result<usize, WalkError> {
    match src.get(at..) {
        Some(rest) if rest.starts_with(word) => Ok(at + word.len()),
        _ => bad(at, "invalid literal (expected true, false or null)"),
    }
}

/// A number at `at`; returns its end. Like `serde_json`, refuses numbers that overflow an f64.
pub fn number(src: &[u8], at: usize) -> Result<usize, WalkError> {
    let digits = |mut i: usize| {
        while src.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        i
    };
    let mut i = at + usize::from(src.get(at) == Some(&b'-'));
    i = match src.get(i) {
        Some(b'0') => i + 1,
        Some(b'1'..=b'9') => digits(i + 1),
        _ => return bad(i, "invalid number"),
    };
    if src.get(i) == Some(&b'.') {
        let end = digits(i + 1);
        if end == i + 1 {
            return bad(end, "invalid number: no digit after '.'");
        }
        i = end;
    }
    let mut exponent = false;
    if matches!(src.get(i), Some(b'e' | b'E')) {
        exponent = true;
        i += 1;
        if matches!(src.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let end = digits(i);
        if end == i {
            return bad(end, "invalid number: no digit in the exponent");
        }
        i = end;
    }
    // Only exponents and very long numbers can overflow; checking just those keeps this cheap.
    if exponent || i - at > 300 {
        let text = std::str::from_utf8(&src[at..i]).unwrap_or("inf");
        if !text.parse::<f64>().is_ok_and(f64::is_finite) {
            return bad(at, "number out of range");
        }
    }
    Ok(i)
}

/// A string whose opening quote is at `at`; returns the index of its closing quote and whether
/// it holds escapes. Looks at 8 bytes at a time for a quote, a backslash or a control byte.
#[inline]
pub fn string(src: &[u8], at: usize) -> Result<(usize, bool), WalkError> {
    let (mut i, mut escaped) = (at + 1, false);
    loop {
        while let Some(chunk) = src.get(i..).and_then(|rest| rest.first_chunk::<8>()) {
            let hits = special_bytes(u64::from_le_bytes(*chunk));
            if hits != 0 {
                i += (hits.trailing_zeros() / 8) as usize;
                break;
            }
            i += 8;
        }
        match src.get(i) {
            None => return bad(i, "unexpected end of data in a string"),
            Some(b'"') => return Ok((i, escaped)),
            Some(b'\\') => {
                escaped = true;
                i = escape(src, i)?;
            }
            Some(&b) if b < 0x20 => return bad(i, "control character in a string"),
            Some(_) => i += 1,
        }
    }
}

/// Marks (high bit of the byte) the first `"`, `\` or byte below 0x20 in `word` (little-endian:
/// the lowest set bit is the earliest byte). Bytes after the first hit may be marked wrongly; only
/// the first one is used.
#[inline]
fn special_bytes(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let quote = zero_byte(word ^ (ONES * u64::from(b'"')));
    let backslash = zero_byte(word ^ (ONES * u64::from(b'\\')));
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
    quote | backslash | control
}

/// Checks the escape whose backslash is at `i`; returns where the string goes on.
fn escape(src: &[u8], i: usize) -> Result<usize, WalkError> {
    match src.get(i + 1) {
        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => Ok(i + 2),
        Some(b'u') => {
            let unit = hex4(src, i + 2)?;
            match unit {
                0xDC00..=0xDFFF => bad(i, "lone surrogate in a \\u escape"),
                0xD800..=0xDBFF => {
                    if src.get(i + 6..i + 8) == Some(b"\\u")
                        && matches!(hex4(src, i + 8), Ok(0xDC00..=0xDFFF))
                    {
                        Ok(i + 12)
                    } else {
                        bad(i, "lone surrogate in a \\u escape")
                    }
                }
                _ => Ok(i + 6),
            }
        }
        None => bad(i, "unexpected end of data in a string"),
        Some(_) => bad(i, "invalid escape in a string"),
    }
}

fn hex4(src: &[u8], at: usize) -> Result<u32, WalkError> {
    let mut n = 0;
    for k in 0..4 {
        let digit = match src.get(at + k) {
            Some(&b) => (b as char).to_digit(16),
            None => None,
        };
        match digit {
            Some(d) => n = n * 16 + d,
            None => return bad(at + k, "invalid \\u escape"),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_bytes_finds_the_first_quote_backslash_or_control_byte() {
        for (text, want) in [
            (&b"abcdefgh"[..], None),
            (b"abc\"efgh", Some(3)),
            (b"\\bcdefgh", Some(0)),
            (b"abcdefg\x1f", Some(7)),
            (b"ab\x7f\xc3\xa9\"\x01x", Some(5)),
            (b"\x01\"\"\"\"\"\"\"", Some(0)),
        ] {
            let hits = special_bytes(u64::from_le_bytes(*text.first_chunk::<8>().unwrap()));
            let first = (hits != 0).then(|| (hits.trailing_zeros() / 8) as usize);
            assert_eq!(first, want, "{text:?}");
        }
    }

    #[test]
    fn token_ends() {
        assert_eq!(number(b"-12.5e+3,", 0), Ok(8));
        assert_eq!(number(b"0x", 0), Ok(1));
        assert!(number(b"1e999", 0).is_err());
        assert_eq!(string(br#""a\"b\u00e9"x"#, 0), Ok((11, true)));
        assert_eq!(literal(b"nullx", 0, b"null"), Ok(4));
        assert!(literal(b"nul", 0, b"null").is_err());
    }
}
