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
