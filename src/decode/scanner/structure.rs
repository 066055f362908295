//! Where a JSON value ends: the scanner's inner loop.
//!
//! Why a file of its own: finding where each record ends was a seventh of the reader's cycles
//! (docs/design/reader-speed.md). The byte loop ([`scan_bytes`]) says what the grammar is: strings
//! (with escapes, whose content is jumped over to the next quote or backslash) and the nesting of
//! `{}`/`[]`. On x86-64, [`scan_chunk`] reads the same grammar 64 bytes at a time instead: the
//! quotes and brackets of a block are found as bit masks (SSE2, part of every x86-64 CPU), the bits
//! inside strings masked off by a prefix XOR of the quotes, and only the brackets left are looked at
//! one by one. A block with a backslash in it, a value that is not an object or array, and the last
//! bytes of the buffer (under 64) go through the byte loop, so every input ends where the byte loop
//! says (`tests.rs` compares both on random input).

use super::super::bytes::{is_ws, skip_ws};

/// Where a value scan stands between chunks.
pub enum State {
    /// Inside objects, arrays or a string; `depth` counts open brackets.
    Nested { depth: usize },
    /// A number, `true`, `false` or `null`: ends before a delimiter.
    Scalar,
}

/// Advances `pos` through `buf` a byte (or a string) at a time; returns true once the value is
/// complete.
pub(super) fn scan_bytes(
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
            match quote_or_backslash(&buf[*pos..]) {
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
            b' ' | b'\n' | b'\r' | b'\t' => *pos += skip_ws(&buf[*pos..]),
            _ => {}
        }
    }
    false
}

/// How far [`quote_or_backslash`] looks 8 bytes at a time before it calls memchr2.
const SHORT_STRING: usize = 64;

/// Where the first `"` or `\` in `buf` is. Most strings of an event (keys, names, ids) are a few
/// dozen bytes, too short for a call to memchr2 to pay for itself (it was a third of the scanner's
/// time): their first bytes are looked at 8 at a time, inline, and only a long rest is handed to
/// memchr2.
#[inline]
pub(super) fn quote_or_backslash(buf: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // The high bit of each zero byte; bytes after the first may be marked wrongly, so only the
    // lowest mark is used.
    let zero_byte = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let mut i = 0;
    while let Some(chunk) = buf.get(i..).and_then(|rest| rest.first_chunk::<8>()) {
        if i >= SHORT_STRING {
            return memchr::memchr2(b'"', b'\\', &buf[i..]).map(|at| i + at);
        }
        let word = u64::from_le_bytes(*chunk);
        let hits = zero_byte(word ^ (ONES * u64::from(b'"'))) | zero_byte(word ^ (ONES * u64::from(b'\\')));
        if hits != 0 {
            return Some(i + (hits.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    buf[i..].iter().position(|&b| b == b'"' || b == b'\\').map(|at| i + at)
}

/// Advances `pos` through `buf`; returns true once the value is complete (as [`scan_bytes`] would).
pub fn scan_chunk(
    buf: &[u8],
    pos: &mut usize,
    state: &mut State,
    in_string: &mut bool,
    escaped: &mut bool,
) -> bool {
    #[cfg(target_arch = "x86_64")]
    return blocks::scan(buf, pos, state, in_string, escaped);
    #[cfg(not(target_arch = "x86_64"))]
    scan_bytes(buf, pos, state, in_string, escaped)
}

#[cfg(target_arch = "x86_64")]
mod blocks {
    use super::{scan_bytes, State};

    /// The bytes of a 64-byte block that are a quote, a backslash, an opening or a closing bracket,
    /// one bit each (bit i for byte i).
    struct Masks {
        quote: u64,
        backslash: u64,
        open: u64,
        close: u64,
    }

    #[inline(always)]
    fn masks(block: &[u8; 64]) -> Masks {
        use std::arch::x86_64::*;
        let mut m = Masks { quote: 0, backslash: 0, open: 0, close: 0 };
        // SAFETY: SSE2 is part of the x86-64 baseline; each load reads 16 bytes of the 64-byte block.
        unsafe {
            let (quote, backslash) = (_mm_set1_epi8(b'"' as i8), _mm_set1_epi8(b'\\' as i8));
            // `{` and `[` differ only in bit 0x20, as do `}` and `]`: one comparison for each pair.
            let (open, close, case) =
                (_mm_set1_epi8(b'{' as i8), _mm_set1_epi8(b'}' as i8), _mm_set1_epi8(0x20));
            for k in 0..4 {
                let v = _mm_loadu_si128(block.as_ptr().add(16 * k).cast());
                let folded = _mm_or_si128(v, case);
                let bits = |eq: __m128i| u64::from(_mm_movemask_epi8(eq) as u16) << (16 * k);
                m.quote |= bits(_mm_cmpeq_epi8(v, quote));
                m.backslash |= bits(_mm_cmpeq_epi8(v, backslash));
                m.open |= bits(_mm_cmpeq_epi8(folded, open));
                m.close |= bits(_mm_cmpeq_epi8(folded, close));
            }
        }
        m
    }

    /// Bit i set when an odd number of bits 0..=i of `x` are: the bytes from an opening quote up
    /// to (not including) its closing one.
    #[inline(always)]
    fn prefix_xor(mut x: u64) -> u64 {
        for shift in [1, 2, 4, 8, 16, 32] {
            x ^= x << shift;
        }
        x
    }

    pub fn scan(
        buf: &[u8],
        pos: &mut usize,
        state: &mut State,
        in_string: &mut bool,
        escaped: &mut bool,
    ) -> bool {
        loop {
            let depth = match state {
                State::Nested { .. } if *escaped => {
                    // A backslash ended the last block: the byte after it is taken as is.
                    if *pos >= buf.len() {
                        return false;
                    }
                    *escaped = false;
                    *pos += 1;
                    continue;
                }
                State::Nested { depth }
                    if *depth == 0 && !*in_string && matches!(buf.get(*pos), Some(b'{' | b'[')) =>
                {
                    *depth = 1;
                    *pos += 1;
                    continue;
                }
                State::Nested { depth } if *depth > 0 => depth,
                _ => return scan_bytes(buf, pos, state, in_string, escaped),
            };
            let Some(block) = buf.get(*pos..).and_then(|rest| rest.first_chunk::<64>()) else {
                return scan_bytes(buf, pos, state, in_string, escaped);
            };
            let m = masks(block);
            if m.backslash != 0 {
                let end = *pos + 64;
                if scan_bytes(&buf[..end], pos, state, in_string, escaped) {
                    return true;
                }
                continue;
            }
            let inside = prefix_xor(m.quote) ^ if *in_string { u64::MAX } else { 0 };
            let mut brackets = (m.open | m.close) & !inside;
            while brackets != 0 {
                let i = brackets.trailing_zeros();
                if m.open >> i & 1 == 1 {
                    *depth += 1;
                } else {
                    *depth -= 1;
                    if *depth == 0 {
                        *pos += i as usize + 1;
                        *in_string = false;
                        return true;
                    }
                }
                brackets &= brackets - 1;
            }
            *in_string = inside >> 63 == 1;
            *pos += 64;
        }
    }
}
