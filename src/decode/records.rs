//! Streams the events of one CloudTrail log document.
//!
//! The top level is walked with the [`Scanner`]; every element of `Records` is captured into a
//! reused buffer and handed to the caller, one at a time. Keys other than `Records` are skipped
//! without being kept. A digest file (`digestStartTime` and no `Records`) is recognised and reported
//! as [`FileKind::Digest`], not as an error.

use super::scanner::{describe_byte, ScanError, Scanner};
use super::{decompress, Compression, DecodeError};
use std::io::Read;
use std::ops::ControlFlow;

/// What a successfully read file turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub enum FileKind {
    /// A log file; the number of elements in `Records`.
    Log(u64),
    /// A CloudTrail digest file: nothing to index.
    Digest,
}

/// Reads one log file from `raw` (gzip or plain), calling `on_event(index, bytes)` for every element
/// of `Records`. The callback may return `ControlFlow::Break` to stop early.
pub fn read_records<R, F>(raw: R, mut on_event: F) -> Result<FileKind, DecodeError>
where
    R: Read,
    F: FnMut(u64, &[u8]) -> ControlFlow<()>,
{
    let (compression, text) =
        decompress(raw).map_err(|source| DecodeError::Read { context: "read error", source })?;
    let mut scanner = Scanner::new(text);
    walk_document(&mut scanner, &mut on_event).map_err(|e| scan_error(e, compression))
}

/// Maps a scan failure to the words a user should see.
fn scan_error(err: WalkError, compression: Compression) -> DecodeError {
    match err {
        WalkError::Decode(e) => e,
        WalkError::Scan(ScanError::Io(source)) => DecodeError::Read {
            context: match compression {
                Compression::Gzip => "truncated or corrupt gzip data",
                Compression::None => "read error",
            },
            source,
        },
        WalkError::Scan(e) => DecodeError::Syntax(e.to_string()),
    }
}

enum WalkError {
    Scan(ScanError),
    Decode(DecodeError),
}

impl From<ScanError> for WalkError {
    fn from(e: ScanError) -> Self {
        WalkError::Scan(e)
    }
}

impl From<DecodeError> for WalkError {
    fn from(e: DecodeError) -> Self {
        WalkError::Decode(e)
    }
}

fn walk_document<R, F>(s: &mut Scanner<R>, on_event: &mut F) -> Result<FileKind, WalkError>
where
    R: Read,
    F: FnMut(u64, &[u8]) -> ControlFlow<()>,
{
    s.skip_bom()?;
    match s.peek_token()? {
        None => return Err(DecodeError::Empty.into()),
        Some(b'{') => {}
        Some(b) => return Err(DecodeError::NotJson(describe_byte(b)).into()),
    }
    s.expect(b'{', "'{'")?;
    let (mut records, mut digest, mut scratch, mut event) = (None, false, Vec::new(), Vec::new());
    if s.peek_token()? == Some(b'}') {
        s.expect(b'}', "'}'")?;
    } else {
        loop {
            let key = s.string(&mut scratch)?;
            s.expect(b':', "':'")?;
            match key.as_str() {
                "Records" => {
                    let seen = records.unwrap_or(0);
                    records = Some(seen + walk_records(s, &mut event, seen, on_event)?);
                }
                "digestStartTime" => {
                    digest = true;
                    s.value(None)?;
                }
                _ => s.value(None)?,
            }
            match s.peek_token()? {
                Some(b',') => s.expect(b',', "','")?,
                Some(b'}') => {
                    s.expect(b'}', "'}'")?;
                    break;
                }
                Some(b) => return Err(s.unexpected("',' or '}'", b).into()),
                None => return Err(ScanError::Eof(s.offset()).into()),
            }
        }
    }
    if let Some(b) = s.peek_token()? {
        return Err(s.unexpected("end of file after the log document", b).into());
    }
    match (records, digest) {
        (Some(n), _) => Ok(FileKind::Log(n)),
        (None, true) => Ok(FileKind::Digest),
        (None, false) => Err(DecodeError::NoRecords.into()),
    }
}

/// Streams the elements of the `Records` array; returns how many there were.
fn walk_records<R, F>(
    s: &mut Scanner<R>,
    event: &mut Vec<u8>,
    first_index: u64,
    on_event: &mut F,
) -> Result<u64, WalkError>
where
    R: Read,
    F: FnMut(u64, &[u8]) -> ControlFlow<()>,
{
    match s.peek_token()? {
        Some(b'[') => s.expect(b'[', "'['")?,
        Some(b) => return Err(DecodeError::RecordsNotArray(json_kind(b).to_string()).into()),
        None => return Err(ScanError::Eof(s.offset()).into()),
    }
    let mut count = 0;
    if s.peek_token()? == Some(b']') {
        s.expect(b']', "']'")?;
        return Ok(0);
    }
    loop {
        event.clear();
        s.value(Some(event))?;
        if on_event(first_index + count, event).is_break() {
            return Err(DecodeError::Stopped.into());
        }
        count += 1;
        match s.peek_token()? {
            Some(b',') => s.expect(b',', "','")?,
            Some(b']') => {
                s.expect(b']', "']'")?;
                return Ok(count);
            }
            Some(b) => return Err(s.unexpected("',' or ']' in Records", b).into()),
            None => return Err(ScanError::Eof(s.offset()).into()),
        }
    }
}

/// Names the JSON type that starts with byte `b`, for messages.
pub fn json_kind(b: u8) -> &'static str {
    match b {
        b'{' => "an object",
        b'[' => "an array",
        b'"' => "a string",
        b't' | b'f' => "a boolean",
        b'n' => "null",
        _ => "a number",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(text: &[u8]) -> Result<(FileKind, Vec<String>), DecodeError> {
        let mut seen = Vec::new();
        let kind = read_records(text, |i, e| {
            seen.push(format!("{i}:{}", String::from_utf8_lossy(e)));
            ControlFlow::Continue(())
        })?;
        Ok((kind, seen))
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
        let gz = super::super::tests::gzip(plain);
        assert_eq!(events(&gz).unwrap(), events(plain).unwrap());
    }

    #[test]
    fn empty_records_is_a_log_with_no_events() {
        assert_eq!(events(br#"{"Records":[]}"#).unwrap().0, FileKind::Log(0));
    }

    #[test]
    fn digest_file_is_recognised() {
        let digest = br#"{"awsAccountId":"1","digestStartTime":"2024-01-01T00:00:00Z","logFiles":[]}"#;
        assert_eq!(events(digest).unwrap().0, FileKind::Digest);
    }

    #[test]
    fn broken_files_say_what_is_wrong() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "empty file"),
            (b"  \n", "empty file"),
            (b"PK\x03\x04", "neither gzip nor a JSON object (starts with 'P')"),
            (b"[1,2]", "neither gzip nor a JSON object (starts with '[')"),
            (br#"{"foo":1}"#, "no \"Records\" array"),
            (br#"{}"#, "no \"Records\" array"),
            (br#"{"Records":{"a":1}}"#, "\"Records\" is an object, not an array"),
            (br#"{"Records":"x"}"#, "\"Records\" is a string, not an array"),
            (br#"{"Records":[{"a":1}"#, "unexpected end of data"),
            (br#"{"Records":[{"a":1} {"b":2}]}"#, "expected ',' or ']' in Records, found '{'"),
            (br#"{"Records":[]} {}"#, "expected end of file after the log document"),
            (br#"{"Records" [] }"#, "expected ':'"),
        ];
        for (text, want) in cases {
            let err = events(text).unwrap_err().to_string();
            assert!(err.contains(want), "{:?}: got {err:?}, want {want:?}", String::from_utf8_lossy(text));
        }
    }

    #[test]
    fn truncated_gzip_is_named_as_such() {
        let gz = super::super::tests::gzip(br#"{"Records":[{"a":1},{"b":2},{"c":3}]}"#);
        let err = events(&gz[..gz.len() - 12]).unwrap_err();
        assert!(err.to_string().starts_with("truncated or corrupt gzip data"), "{err}");
    }

    #[test]
    fn events_before_a_truncation_are_still_delivered() {
        let gz = super::super::tests::gzip(br#"{"Records":[{"a":1},{"b":2},{"c":3}]}"#);
        let mut n = 0;
        let result = read_records(&gz[..gz.len() - 10], |_, _| {
            n += 1;
            ControlFlow::Continue(())
        });
        assert!(result.is_err());
        assert!(n >= 1, "events read before the damage are handed on");
    }

    #[test]
    fn consumer_can_stop_the_stream() {
        let err = read_records(&br#"{"Records":[{},{}]}"#[..], |_, _| ControlFlow::Break(()));
        assert!(matches!(err, Err(DecodeError::Stopped)));
    }
}
