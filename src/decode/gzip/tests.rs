//! Tests of the member-by-member gzip reader: nothing of a damaged member comes out when it is
//! held, what comes out early is flagged when it is not, members and trailing bytes are told.

use super::*;
use flate2::{write::GzEncoder, Compression};
use std::io::Write;

fn gzip_with(data: &[u8], level: Compression) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), level);
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// Reads all of `members`; returns the text that came out, and the error that ended it.
fn drain<R: BufRead>(members: &mut Members<R>) -> (Vec<u8>, Option<io::Error>) {
    let (mut out, mut buf) = (Vec::new(), [0u8; 1000]);
    loop {
        match members.read(&mut buf) {
            Ok(0) => return (out, None),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => return (out, Some(e)),
        }
    }
}

fn read(bytes: &[u8], hold: usize) -> (Vec<u8>, Option<io::Error>, Rc<GzState>) {
    let state = Rc::new(GzState::default());
    let mut members = Members::new(bytes, hold, state.clone());
    let (out, err) = drain(&mut members);
    (out, err, state)
}

/// A stored (uncompressed) member with one byte of its data flipped: only the CRC can tell.
fn flipped(data: &[u8]) -> Vec<u8> {
    let mut gz = gzip_with(data, Compression::none());
    let at = gz.len() - 8 - data.len() / 2;
    gz[at] ^= 0x04;
    gz
}

#[test]
fn a_held_member_with_a_bad_checksum_gives_nothing() {
    let data = "abcdefgh".repeat(100_000);
    let (out, err, state) = read(&flipped(data.as_bytes()), 64 << 20);
    assert!(out.is_empty(), "{} bytes of a damaged member came out", out.len());
    assert!(err.unwrap().to_string().contains("checksum"));
    assert!(!state.unverified.get());
}

#[test]
fn a_member_too_big_to_hold_is_flagged_while_it_streams() {
    let data = "abcdefgh".repeat(100_000);
    let (out, err, state) = read(&flipped(data.as_bytes()), PIECE);
    assert!(out.len() >= PIECE, "streamed before the checksum");
    assert!(err.is_some());
    assert!(state.unverified.get(), "what came out is flagged");
    let (out, err, state) = read(&gzip_with(data.as_bytes(), Compression::default()), PIECE);
    assert_eq!((out, err.is_none()), (data.into_bytes(), true));
    assert!(!state.unverified.get(), "cleared once the checksum held");
}

#[test]
fn members_are_read_in_turn_and_counted() {
    let mut gz = gzip_with(b"one ", Compression::default());
    gz.extend(gzip_with(b"", Compression::default()));
    gz.extend(gzip_with(b"two", Compression::default()));
    let (out, err, state) = read(&gz, 1 << 20);
    assert_eq!((out.as_slice(), err.is_none()), (&b"one two"[..], true));
    assert_eq!(state.member.get(), 3);
    assert_eq!(state.trailing.get(), None);
    let mut lines = gzip_with(b"one ", Compression::default());
    lines.extend(b"\n");
    lines.extend(gzip_with(b"two", Compression::default()));
    lines.extend(b"\r\n");
    let (out, err, state) = read(&lines, 1 << 20);
    assert_eq!((out.as_slice(), err.is_none()), (&b"one two"[..], true), "newlines between members");
    assert_eq!(state.trailing.get(), None, "whitespace at the end is not reported");
}

#[test]
fn trailing_bytes_are_counted_not_decoded() {
    let mut gz = gzip_with(b"text", Compression::default());
    gz.extend([0u8; 700]);
    let (out, err, state) = read(&gz, 1 << 20);
    assert_eq!((out.as_slice(), err.is_none()), (&b"text"[..], true));
    assert_eq!(state.trailing.get(), Some(Trailing { bytes: 700, padding: true, members: 1 }));
    let mut gz = gzip_with(b"text", Compression::default());
    gz.extend(b"\0\0junk");
    let (_, err, state) = read(&gz, 1 << 20);
    assert!(err.is_none());
    assert_eq!(state.trailing.get(), Some(Trailing { bytes: 6, padding: false, members: 1 }));
}

#[test]
fn a_truncated_member_is_an_unexpected_eof() {
    let gz = gzip_with(&b"x".repeat(10_000), Compression::default());
    for cut in [gz.len() - 3, gz.len() / 2, 12] {
        let (out, err, _) = read(&gz[..cut], 1 << 20);
        assert!(out.is_empty());
        assert_eq!(err.unwrap().kind(), io::ErrorKind::UnexpectedEof, "cut at {cut}");
    }
}

/// Members decompressed whole by this thread so far (`whole.rs`).
fn inflated() -> u64 {
    whole::INFLATED.with(|n| n.get())
}

/// `gz` with the size its last member declares replaced by `size`.
fn declaring(mut gz: Vec<u8>, size: u32) -> Vec<u8> {
    let at = gz.len() - 4;
    gz[at..].copy_from_slice(&size.to_le_bytes());
    gz
}

#[test]
fn members_read_ahead_are_decompressed_whole_one_by_one() {
    let mut gz = gzip_with(b"one ", Compression::default());
    gz.extend(b"\n");
    gz.extend(gzip_with(b"", Compression::default()));
    gz.extend(gzip_with(b"two", Compression::default()));
    let before = inflated();
    let (out, err, state) = read(&gz, 1 << 20);
    assert_eq!((out.as_slice(), err.is_none()), (&b"one two"[..], true));
    assert_eq!(inflated() - before, 3, "each member in one call");
    assert_eq!(state.member.get(), 3);
    assert!(!state.unverified.get());
}

#[test]
fn a_member_lying_about_its_size_gives_nothing_either_way() {
    let data = "abcdefgh".repeat(10_000);
    let honest = gzip_with(data.as_bytes(), Compression::default());
    for size in [data.len() as u32 - 1, data.len() as u32 + 1, 0] {
        let before = inflated();
        let (out, err, state) = read(&declaring(honest.clone(), size), 64 << 20);
        assert!(out.is_empty(), "{} bytes came out of a member declaring {size}", out.len());
        assert!(err.is_some(), "declaring {size}");
        assert_eq!((inflated(), state.unverified.get()), (before, false));
    }
}

#[test]
fn a_member_bigger_than_the_room_left_is_read_again_from_its_start() {
    // 2 MB of text declaring 3 bytes (the next member's size): tried whole, found too big for 1 MiB,
    // then held to the limit and streamed, as a member too big to hold always was.
    let data = "abcdefgh".repeat(250_000);
    let mut gz = gzip_with(data.as_bytes(), Compression::default());
    gz.extend(gzip_with(b"two", Compression::default()));
    let before = inflated();
    let (out, err, state) = read(&gz, 1 << 20);
    assert!(err.is_none());
    assert_eq!(out, [data.as_bytes(), b"two"].concat());
    assert_eq!(inflated() - before, 1, "only the second member whole");
    assert_eq!(state.member.get(), 2);
    // The same member alone declaring a size it does not have: what came out is flagged, then it fails.
    let (out, err, state) = read(&declaring(gzip_with(data.as_bytes(), Compression::default()), 3), 1 << 20);
    assert!(out.len() >= 1 << 20, "streamed once the limit was reached");
    assert!(err.is_some() && state.unverified.get());
}

#[test]
fn memory_written_by_a_failed_whole_attempt_is_given_back_before_the_member_is_held_again() {
    // 10 MB declaring 3 bytes, with 8 MiB to hold: the whole attempt fills its 8 MiB and fails;
    // those pages must not stay while the streaming path holds 8 MiB of the same member again.
    let data = "abcdefgh".repeat(1_250_000);
    let gz = declaring(gzip_with(data.as_bytes(), Compression::default()), 3);
    let state = Rc::new(GzState::default());
    let mut members = Members::new(&gz[..], 8 << 20, state.clone());
    let (out, err) = drain(&mut members);
    assert!(out.len() >= 8 << 20 && err.is_some() && state.unverified.get());
    assert_eq!(members.whole.as_ref().map(Whole::allocated), Some(0), "the failed attempt's buffer is freed");
}

#[test]
fn a_member_declaring_more_than_the_room_left_or_too_long_to_read_ahead_streams() {
    let data = "abcdefgh".repeat(250_000);
    let before = inflated();
    let (out, err, _) = read(&gzip_with(data.as_bytes(), Compression::default()), 1 << 20);
    assert_eq!((out, err.is_none()), (data.into_bytes(), true));
    assert_eq!(inflated(), before, "declared 2 MB: not tried");
    // 400 kB stored: more than an eighth of the hold limit to read ahead.
    let data: Vec<u8> = (0..400_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    let (out, err, state) = read(&gzip_with(&data, Compression::none()), 1 << 20);
    assert_eq!((out, err.is_none()), (data, true));
    assert_eq!(inflated(), before, "not read ahead: held piece by piece");
    assert!(!state.unverified.get());
}

/// Gives `data`, then fails.
struct FailingAfter<'a>(&'a [u8]);

impl Read for FailingAfter<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.0.is_empty() {
            return Err(io::Error::other("source failed"));
        }
        self.0.read(out)
    }
}

#[test]
fn a_source_error_met_while_reading_ahead_comes_where_it_was_met() {
    let mut gz = gzip_with(b"one ", Compression::default());
    gz.extend(gzip_with(b"two", Compression::default()));
    let cut = gz.len() - 5;
    let state = Rc::new(GzState::default());
    let mut members =
        Members::new(io::BufReader::with_capacity(16, FailingAfter(&gz[..cut])), 1 << 20, state);
    let (out, err) = drain(&mut members);
    assert_eq!(out, b"one ", "the first member is whole and passed on");
    assert_eq!(err.unwrap().to_string(), "source failed");
}
