//! Tests of `decode` on CloudTrail files: every event streamed, broken files named, oversized
//! parts skipped and reported, gzip members held until their checksum, trailing bytes told.

use super::*;
use flate2::{write::GzEncoder, Compression};
use std::io::Write;
use std::ops::ControlFlow;

pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
    gzip_with(data, Compression::default())
}

pub(crate) fn gzip_with(data: &[u8], level: Compression) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), level);
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// What a decode handed on, as text: `i:event` and `big:…` lines.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Seen {
    pub items: Vec<String>,
}

pub(crate) fn run(bytes: &[u8], settings: &DecodeSettings) -> (Seen, Result<Decoded, Failure>) {
    let mut seen = Seen::default();
    let result = decode(bytes, settings, |item| {
        seen.items.push(match item {
            Item::Event { index, bytes } => format!("{index}:{}", String::from_utf8_lossy(bytes)),
            Item::TooLarge(t) => format!("big:{t} prefix {:?}", String::from_utf8_lossy(t.prefix)),
        });
        ControlFlow::Continue(())
    });
    (seen, result)
}

fn events(bytes: &[u8]) -> Result<(FileKind, Vec<String>), DecodeError> {
    let (seen, result) = run(bytes, &DecodeSettings::default());
    result.map(|d| (d.kind(), seen.items)).map_err(|f| f.error)
}

fn small(max: usize) -> DecodeSettings {
    DecodeSettings { max_event_bytes: max, prefix_bytes: 8, ..DecodeSettings::default() }
}

#[test]
fn compact_and_pretty_files_stream_each_event() {
    let (kind, seen) = events(br#"{"Records":[{"a":1},{"b":[2]}]}"#).unwrap();
    assert_eq!(kind, FileKind::Log(2));
    assert_eq!(seen, vec![r#"0:{"a":1}"#, r#"1:{"b":[2]}"#]);
    let pretty = b"\xEF\xBB\xBF{\n  \"other\": {\"x\": [1]},\n  \"Records\": [\n    {\"a\": 1}\n  ]\n}\n";
    let (kind, seen) = events(pretty).unwrap();
    assert_eq!((kind, seen), (FileKind::Log(1), vec![r#"0:{"a": 1}"#.to_string()]));
}

#[test]
fn gzip_input_is_the_same_as_plain() {
    let plain = br#"{"Records":[{"eventID":"x"}]}"#;
    assert_eq!(events(&gzip(plain)).unwrap(), events(plain).unwrap());
    let mut split = gzip(br#"{"Records":["#);
    split.extend(gzip(br#"{"eventID":"x"}]}"#));
    assert_eq!(events(&split).unwrap(), events(plain).unwrap(), "a document split over two members");
}

#[test]
fn empty_records_and_digests() {
    assert_eq!(events(br#"{"Records":[]}"#).unwrap().0, FileKind::Log(0));
    let digest = br#"{"awsAccountId":"1","digestStartTime":"2024-01-01T00:00:00Z","logFiles":[]}"#;
    let (_, result) = run(digest, &DecodeSettings::default());
    assert_eq!(result.unwrap().format, Format::Digest);
}

#[test]
fn broken_files_say_what_is_wrong() {
    let cases: &[(&[u8], &str)] = &[
        (b"", "empty file"),
        (b"  \n", "empty file"),
        (b"PK\x03\x04", "neither gzip nor a JSON object (starts with 'P')"),
        (b"[1,2]", "neither gzip nor a JSON object (starts with '[')"),
        (b"\0\0\0", "neither gzip nor a JSON object (starts with a NUL byte)"),
        (b"/* a comment */ {}", "neither gzip nor a JSON object (starts with a comment"),
        (br#"{"foo":1}"#, "no \"Records\" array"),
        (br#"{}"#, "no \"Records\" array"),
        (br#"{"Records":{"a":1}}"#, "\"Records\" is an object, not an array"),
        (br#"{"Records":"x"}"#, "\"Records\" is a string, not an array"),
        (br#"{"Records":[{"a":1}"#, "unexpected end of data"),
        (br#"{"Records":[{"a":1} {"b":2}]}"#, "expected ',' or ']' in Records, found '{'"),
        (br#"{"Records":[]} {}"#, "expected end of file after the log document"),
        (br#"{"Records":[]} junk"#, "expected end of file after the log document, found 'j'"),
        (br#"{"Records" [] }"#, "expected ':'"),
        (b"{\"Records\":[\0]}", "expected a value, found a NUL byte"),
        (b"{\"Records\":[\xEF\xBB\xBF{}]}", "expected a value, found a byte-order mark (U+FEFF)"),
        (b"{\"Records\":[/* x */{}]}", "expected a value, found a comment"),
    ];
    for (text, want) in cases {
        let err = events(text).unwrap_err().to_string();
        assert!(err.contains(want), "{:?}: got {err:?}, want {want:?}", String::from_utf8_lossy(text));
    }
}

#[test]
fn a_failure_says_how_many_events_came_before_it() {
    let (seen, result) =
        run(br#"{"Records":[{"a":1},{"b":2}]} {"Records":[{"c":3}]}"#, &DecodeSettings::default());
    let failure = result.unwrap_err();
    assert_eq!((failure.released, seen.items.len()), (2, 2), "the second document is not read");
    assert!(failure.to_string().ends_with("(2 events before it were read)"), "{failure}");
}

#[test]
fn a_record_over_the_limit_is_skipped_and_reported() {
    let big = format!(r#"{{"pad":"{}"}}"#, "z".repeat(200_000));
    let text = format!(r#"{{"Records":[{{"a":1}},{big},{{"b":2}}]}}"#);
    let (seen, result) = run(text.as_bytes(), &small(1000));
    let decoded = result.unwrap();
    assert_eq!((decoded.events, decoded.too_large, decoded.kind()), (2, 1, FileKind::Log(3)));
    assert_eq!(seen.items[0], r#"0:{"a":1}"#);
    assert_eq!(
        seen.items[1],
        format!(
            "big:record 1 (at byte 20) is {} bytes, over the limit of 1000 bytes: skipped prefix \"{{\\\"pad\\\":\\\"\"",
            big.len()
        )
    );
    assert_eq!(seen.items[2], r#"2:{"b":2}"#, "the next event keeps its number");
    // Exactly the limit is not over it.
    let (seen, _) = run(text.as_bytes(), &small(big.len()));
    assert!(seen.items[1].starts_with("1:{\"pad\""), "{:?}", seen.items[1]);
}

#[test]
fn a_huge_key_or_other_value_is_skipped_and_reported() {
    let key = "k".repeat(5000);
    let text = format!(r#"{{"{key}":1,"other":[{}],"Records":[{{"a":1}}]}}"#, "1,".repeat(3000) + "1");
    let (seen, result) = run(text.as_bytes(), &small(1000));
    assert_eq!(result.unwrap().events, 1);
    assert_eq!(seen.items.len(), 3, "{:?}", seen.items);
    assert!(seen.items[0].starts_with("big:a top-level key (at byte 1) is 5000 bytes"), "{}", seen.items[0]);
    assert!(
        seen.items[1].starts_with("big:the value of \"other\" (at byte 5014) is 6003 bytes"),
        "{}",
        seen.items[1]
    );
    assert_eq!(seen.items[2], r#"0:{"a":1}"#);
    // A long key under the limit is just an unknown key.
    let (seen, result) = run(text.as_bytes(), &DecodeSettings::default());
    assert_eq!((seen.items.len(), result.unwrap().too_large), (1, 0));
}

#[test]
fn read_records_ends_the_file_at_an_oversized_record() {
    let text = format!(r#"{{"Records":[{{"pad":"{}"}}]}}"#, "x".repeat(DEFAULT_MAX_EVENT_BYTES));
    let err = read_records(text.as_bytes(), |_, _| ControlFlow::Continue(())).unwrap_err();
    assert!(err.to_string().starts_with("record 0 (at byte 12) is 16777226 bytes, over the limit"), "{err}");
}

#[test]
fn consumer_can_stop_the_stream() {
    let err = read_records(&br#"{"Records":[{},{}]}"#[..], |_, _| ControlFlow::Break(()));
    assert!(matches!(err, Err(DecodeError::Stopped)));
}

/// A stored (uncompressed) member whose bytes at `at` are flipped: only the checksum tells.
fn flipped_member(text: &str, needle: &str) -> Vec<u8> {
    let mut gz = gzip_with(text.as_bytes(), Compression::none());
    let at = gz.windows(needle.len()).position(|w| w == needle.as_bytes()).unwrap();
    gz[at] ^= 0x01;
    gz
}

fn trail(n: usize, from: usize) -> String {
    let events: Vec<String> = (from..from + n).map(|i| format!(r#"{{"eventID":"e{i}"}}"#)).collect();
    format!(r#"{{"Records":[{}]}}"#, events.join(","))
}

#[test]
fn no_event_of_a_damaged_member_is_released_when_it_can_be_held() {
    let gz = flipped_member(&trail(50, 0), "e40");
    let (seen, result) = run(&gz, &DecodeSettings::default());
    let failure = result.unwrap_err();
    assert!(seen.items.is_empty(), "released before the checksum: {:?}", seen.items);
    assert!(matches!(failure.error, DecodeError::Corrupt { member: 1, .. }), "{failure}");
    assert_eq!((failure.released, failure.unverified), (0, 0));
    assert!(
        failure.to_string().starts_with("corrupt gzip data in member 1: corrupt gzip stream"),
        "{failure}"
    );
}

#[test]
fn events_of_a_member_too_big_to_hold_are_counted_when_it_turns_out_damaged() {
    // Two members: the first is good; the second, too big to hold, is damaged near its end.
    let mut gz = gzip(trail(3, 0).replace("]}", ",").as_bytes());
    let second = trail(30_000, 3).replacen(r#"{"Records":["#, "", 1);
    gz.extend(flipped_member(&second, "e29990"));
    let settings = DecodeSettings { hold_bytes: 256 * 1024, ..DecodeSettings::default() };
    let (seen, result) = run(&gz, &settings);
    let failure = result.unwrap_err();
    assert!(matches!(failure.error, DecodeError::Corrupt { member: 2, .. }), "{failure}");
    assert_eq!(failure.released, seen.items.len() as u64);
    assert!(failure.released > 10_000, "the big member streamed: {}", failure.released);
    assert_eq!(failure.unverified, failure.released - 3, "all but the first member's 3 events");
    assert!(failure.to_string().contains("of them came from the damaged gzip member"), "{failure}");
}

#[test]
fn a_truncated_gzip_file_is_named_and_its_member_held_back() {
    let mut gz = gzip(trail(3, 0).replace("]}", ",").as_bytes());
    let second = gzip(trail(100, 3).replacen(r#"{"Records":["#, "", 1).as_bytes());
    gz.extend(&second[..second.len() / 2]);
    let (seen, result) = run(&gz, &DecodeSettings::default());
    let failure = result.unwrap_err();
    assert!(matches!(failure.error, DecodeError::Truncated { member: 2 }), "{failure}");
    assert_eq!((seen.items.len(), failure.released), (3, 3), "the first member's events only");
    assert_eq!(
        failure.to_string(),
        "truncated gzip data: the file ends inside gzip member 2 (3 events before it were read)"
    );
}

#[test]
fn trailing_padding_after_gzip_is_ignored_and_said() {
    let mut gz = gzip(trail(2, 0).as_bytes());
    gz.extend([0u8; 512]);
    let (seen, result) = run(&gz, &DecodeSettings::default());
    let decoded = result.unwrap();
    assert_eq!((decoded.events, seen.items.len()), (2, 2));
    assert_eq!(decoded.trailing, Some(Trailing { bytes: 512, padding: true, members: 1 }));
    // Junk after a complete trail document cannot hide events: all were read, it is said.
    let mut gz = gzip(trail(2, 0).as_bytes());
    gz.extend(b"junk\x01\x02");
    let decoded = run(&gz, &DecodeSettings::default()).1.unwrap();
    assert_eq!(decoded.trailing, Some(Trailing { bytes: 6, padding: false, members: 1 }));
    // Junk that cuts a document short is a failure that names it, after the events before it.
    let mut gz = gzip(trail(2, 0).replace("]}", ",").as_bytes());
    gz.extend(b"junk");
    let (seen, result) = run(&gz, &DecodeSettings::default());
    let failure = result.unwrap_err();
    assert_eq!(seen.items.len(), 2);
    assert!(matches!(failure.error, DecodeError::TrailingGarbage { bytes: 4, members: 1 }), "{failure}");
}

#[test]
fn a_failing_source_is_a_read_error() {
    struct Breaks(usize);
    impl std::io::Read for Breaks {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let text = br#"{"Records":[{"a":1},"#;
            if self.0 >= text.len() {
                return Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset"));
            }
            let n = (text.len() - self.0).min(buf.len());
            buf[..n].copy_from_slice(&text[self.0..self.0 + n]);
            self.0 += n;
            Ok(n)
        }
    }
    let err = decode(Breaks(0), &DecodeSettings::default(), |_| ControlFlow::Continue(())).unwrap_err();
    assert!(matches!(err.error, DecodeError::Source(_)), "{err}");
    assert_eq!(err.released, 1);
}

#[test]
fn records_handed_from_the_scanners_buffer_are_whole_across_its_ends_and_limits() {
    // Records of many sizes, so that some run past the end of the scanner's 64 KiB buffer.
    let records: Vec<String> = (0..400)
        .map(|i| format!(r#"{{"i":{i},"s":"{}","a":[{{"q":"\""}}]}}"#, "x".repeat(i * 37 % 3000)))
        .collect();
    let file = format!(r#"{{"Records":[{}]}}"#, records.join(","));
    assert!(file.len() > 6 * 64 * 1024);
    let (kind, seen) = events(&gzip(file.as_bytes())).unwrap();
    assert_eq!(kind, FileKind::Log(400));
    let expected: Vec<String> = records.iter().enumerate().map(|(i, r)| format!("{i}:{r}")).collect();
    assert_eq!(seen, expected);
    // A record of exactly the limit is handed on; one byte more is skipped and reported.
    let (at, over) = (r#"{"a":"1234"}"#, r#"{"a":"12345"}"#);
    let (seen, result) = run(format!(r#"{{"Records":[{at},{over},{at}]}}"#).as_bytes(), &small(at.len()));
    assert_eq!(result.unwrap().too_large, 1);
    assert_eq!(seen.items[0], format!("0:{at}"));
    assert!(seen.items[1].starts_with("big:record 1"), "{:?}", seen.items[1]);
    assert_eq!(seen.items[2], format!("2:{at}"));
}

#[test]
fn every_event_of_a_streamed_member_is_handed_on_before_its_checksum_fails() {
    // Records of 10 KB: the last ones run past the end of the scanner's buffer, and reading them
    // must not read ahead to the member's end (and its checksum) before the ones before are out.
    let pad = "p".repeat(10_000);
    let records: Vec<String> = (0..40).map(|i| format!(r#"{{"eventID":"e{i}","pad":"{pad}"}}"#)).collect();
    let mut gz = gzip(format!(r#"{{"Records":[{}]}}"#, records.join(",")).as_bytes());
    let crc = gz.len() - 8;
    gz[crc] ^= 0xff;
    let settings = DecodeSettings { hold_bytes: 100, ..DecodeSettings::default() };
    let (seen, result) = run(&gz, &settings);
    let failure = result.unwrap_err();
    assert!(matches!(failure.error, DecodeError::Corrupt { member: 1, .. }), "{failure}");
    assert_eq!((seen.items.len(), failure.released, failure.unverified), (40, 40, 40));
}
