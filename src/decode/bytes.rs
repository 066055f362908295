//! Byte-level helpers shared by the scanner and its callers: skipping whitespace in bulk, and
//! naming what a value starts with in words a user understands.
//!
//! Whitespace is skipped eight bytes at a time (SWAR: one 64-bit word holds eight bytes, and a
//! few integer operations tell whether all of them are JSON whitespace). A file or record padded
//! with gigabytes of spaces or newlines then costs about what copying it would, not a branch per
//! byte. Names: a value that starts with a NUL byte, a byte-order mark or a comment is called
//! that, not "a number" (the fallback of a one-byte guess).

/// JSON's four whitespace bytes (not form feed).
#[inline]
pub fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// The high bit of every byte of `w` that equals `b`, and nothing else (exact, no borrow
/// between bytes: the low seven bits are added apart from the high one).
#[inline]
fn eq_mask(w: u64, b: u8) -> u64 {
    let t = w ^ (LO * u64::from(b));
    !(((t & !HI) + !HI) | t) & HI
}

/// How many bytes at the start of `bytes` are JSON whitespace.
pub fn skip_ws(bytes: &[u8]) -> usize {
    let mut i = 0;
    // Short runs (pretty-printed JSON) end within the first word; long runs go eight at a time.
    while let Some(word) = bytes.get(i..i + 8) {
        let w = u64::from_le_bytes(word.try_into().expect("eight bytes"));
        let ws = eq_mask(w, b' ') | eq_mask(w, b'\n') | eq_mask(w, b'\r') | eq_mask(w, b'\t');
        if ws != HI {
            return i + ((!ws & HI).trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < bytes.len() && is_ws(bytes[i]) {
        i += 1;
    }
    i
}

/// Renders a byte for an error message.
pub fn describe_byte(b: u8) -> String {
    match b {
        0 => "a NUL byte".to_string(),
        b' '..=b'~' => format!("'{}'", b as char),
        _ => format!("byte 0x{b:02x}"),
    }
}

/// Names what `bytes` (the start of a value, as far as it is at hand) begins with, for messages
/// about something that is not the JSON expected there.
pub fn describe_start(bytes: &[u8]) -> String {
    match bytes {
        [0xEF, 0xBB, 0xBF, ..] => "a byte-order mark (U+FEFF)".to_string(),
        [b'/', b'*' | b'/', ..] => "a comment ('/*' or '//'), which JSON does not allow".to_string(),
        [b, ..] => describe_byte(*b),
        [] => "the end of the data".to_string(),
    }
}

/// Names the JSON type of the value whose text starts with `bytes`, or what it is when it is no
/// JSON value at all.
pub fn value_kind(bytes: &[u8]) -> &'static str {
    match bytes {
        [b'{', ..] => "an object",
        [b'[', ..] => "an array",
        [b'"', ..] => "a string",
        [b't' | b'f', ..] => "a boolean",
        [b'n', ..] => "null",
        [b'-' | b'0'..=b'9', ..] => "a number",
        [0, ..] => "a NUL byte (not JSON)",
        [0xEF, 0xBB, 0xBF, ..] => "a byte-order mark (not JSON)",
        [b'/', b'*' | b'/', ..] => "a comment (not JSON)",
        [] => "empty",
        _ => "not JSON",
    }
}

/// Where a byte of JSON text is, as text is walked one byte at a time: inside a string (escapes
/// included) or not. For quick passes that must not mistake a `{` or a space in a string for
/// structure (a dead letter's depth, compacting a redacted document).
#[derive(Clone, Copy, Debug, Default)]
pub struct Strings {
    inside: bool,
    escaped: bool,
}

impl Strings {
    /// Takes the next byte; true when it is outside every string (structure, or whitespace between).
    /// The quotes themselves count as inside.
    #[inline]
    pub fn outside(&mut self, b: u8) -> bool {
        if self.inside {
            match b {
                _ if self.escaped => self.escaped = false,
                b'\\' => self.escaped = true,
                b'"' => self.inside = false,
                _ => {}
            }
            false
        } else if b == b'"' {
            self.inside = true;
            false
        } else {
            true
        }
    }
}

/// Names the JSON type that starts with byte `b`, for messages; see [`value_kind`].
pub fn json_kind(b: u8) -> &'static str {
    value_kind(&[b])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skip_ws_finds_the_first_other_byte_at_every_position() {
        for len in 0..40 {
            for ws in [b' ', b'\n', b'\r', b'\t'] {
                let mut text = vec![ws; len];
                assert_eq!(skip_ws(&text), len);
                text.push(b'x');
                text.extend_from_slice(b"   ");
                assert_eq!(skip_ws(&text), len, "len {len} ws {ws}");
            }
        }
        // Bytes that differ from a whitespace byte only in the high bit are not whitespace.
        for b in [0xA0, 0x8A, 0x8D, 0x89, 0x00, 0x0C, 0x21, 0x1F] {
            let mut text = vec![b' '; 11];
            text[9] = b;
            assert_eq!(skip_ws(&text), 9, "byte {b:#x}");
        }
    }

    #[test]
    fn strings_are_told_from_structure() {
        let text = br#"{"a\"{":[1, "x y"]}"#;
        let mut strings = Strings::default();
        let outside: String = text.iter().filter(|&&b| strings.outside(b)).map(|&b| b as char).collect();
        assert_eq!(outside, "{:[1, ]}");
    }

    #[test]
    fn starts_are_named() {
        assert_eq!(describe_start(b"\0\0"), "a NUL byte");
        assert_eq!(describe_start(b"\xEF\xBB\xBF{"), "a byte-order mark (U+FEFF)");
        assert!(describe_start(b"/* x */").starts_with("a comment"));
        assert_eq!(describe_start(b"P"), "'P'");
        assert_eq!(value_kind(b"-1"), "a number");
        assert_eq!(value_kind(b"\0"), "a NUL byte (not JSON)");
        assert_eq!(value_kind(b"\xEF\xBB\xBF{}"), "a byte-order mark (not JSON)");
        assert_eq!(value_kind(b"/*"), "a comment (not JSON)");
        assert_eq!(value_kind(b"x"), "not JSON");
        assert_eq!(json_kind(b'7'), "a number");
    }
}
