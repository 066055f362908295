//! Tests of the scanner: values of every kind, across chunk boundaries, bounded capture, and
//! string unescaping as `serde_json` does it.

use super::*;

fn capture(text: &str) -> (String, u64) {
    let mut s = Scanner::new(text.as_bytes());
    let mut out = Vec::new();
    s.value(Some(&mut out)).unwrap();
    (String::from_utf8(out).unwrap(), s.offset())
}

fn unescaped(text: &[u8]) -> Vec<u8> {
    let mut s = Scanner::new(text);
    let mut out = Vec::new();
    s.string_with(&mut out).unwrap();
    out
}

#[test]
fn captures_each_kind_of_value() {
    assert_eq!(capture(r#" {"a":[1,{"b":"}"}]} , 2"#).0, r#"{"a":[1,{"b":"}"}]}"#);
    assert_eq!(capture(r#""x\"y\\" rest"#).0, r#""x\"y\\""#);
    assert_eq!(capture("12.5e3,").0, "12.5e3");
    assert_eq!(capture("true]").0, "true");
    assert_eq!(capture("null").0, "null");
    assert_eq!(capture("{ \"a\" :\n\n  1 ,  \"b\": [ 2 ,3 ] }").0, "{ \"a\" :\n\n  1 ,  \"b\": [ 2 ,3 ] }");
}

#[test]
fn values_spanning_chunks_are_whole() {
    let long = "x".repeat(CHUNK * 2 + 17);
    let text = format!(r#"{{"k":"{long}","n":[{{}}]}}"#);
    let (got, offset) = capture(&text);
    assert_eq!(got, text);
    assert_eq!(offset, text.len() as u64);
    let spaced = format!("{{{}\"k\"{}:1}}", " ".repeat(CHUNK + 3), "\n".repeat(CHUNK * 3));
    assert_eq!(capture(&spaced).0, spaced);
}

#[test]
fn unterminated_value_is_eof() {
    let mut s = Scanner::new(&br#"{"a":"b"#[..]);
    assert!(matches!(s.value(None), Err(ScanError::Eof(_))));
}

#[test]
fn a_value_that_cannot_start_json_is_named() {
    for (text, found) in [
        (&b"\0\0"[..], "a NUL byte"),
        (b"\xEF\xBB\xBF{}", "a byte-order mark (U+FEFF)"),
        (b"/* x */ {}", "a comment"),
        (b"]", "']'"),
    ] {
        let err = Scanner::new(text).value(None).unwrap_err().to_string();
        assert!(err.contains("expected a value, found ") && err.contains(found), "{err}");
    }
}

#[test]
fn bounded_capture_keeps_a_prefix_and_counts_the_rest() {
    let text = format!(r#"{{"pad":"{}"}} ,"#, "y".repeat(CHUNK * 3));
    let mut out = Vec::new();
    let mut s = Scanner::new(text.as_bytes());
    let mut sink = Bounded::new(&mut out, 1000, 10);
    s.value_with(&mut sink).unwrap();
    assert_eq!((sink.size, sink.whole), (text.len() as u64 - 2, false));
    assert_eq!(out, br#"{"pad":"yy"#);
    assert_eq!(s.peek_token().unwrap(), Some(b','), "the scan went on to the end of the value");

    let mut s = Scanner::new(&br#"{"a":1}"#[..]);
    let mut sink = Bounded::new(&mut out, 7, 3);
    s.value_with(&mut sink).unwrap();
    assert!(sink.whole);
    assert_eq!(out, br#"{"a":1}"#, "a value of exactly the limit is whole");
}

#[test]
fn strings_are_unescaped_like_serde_json() {
    let cases = [
        r#""plain""#,
        r#""Rec\u006frds""#,
        r#""{\"eventID\":\"a\\b\",\"x\":\"\/\b\f\n\r\t\"}""#,
        r#""caf\u00e9 \u20ac \ud83d\ude00 \uD83D\uDE00""#,
        "\"raw \u{e9}\u{1F600}\"",
    ];
    for case in cases {
        let want: String = serde_json::from_str(case).unwrap();
        assert_eq!(unescaped(case.as_bytes()), want.as_bytes(), "{case}");
    }
    let long = format!("\"{}\\n{}\"", "a".repeat(CHUNK - 3), "b".repeat(CHUNK));
    let want: String = serde_json::from_str(&long).unwrap();
    assert_eq!(unescaped(long.as_bytes()), want.as_bytes(), "escape across a chunk boundary");
}

#[test]
fn bad_escapes_pass_through_and_end_where_value_ends() {
    // Kept as written: the transform then refuses the event and names what is wrong.
    assert_eq!(unescaped(br#""a\qb""#), br#"a\qb"#);
    assert_eq!(unescaped(br#""\u12G4""#), br#"\u12G4"#);
    assert_eq!(unescaped(br#""\ud800x""#), b"\xED\xA0\x80x");
    assert_eq!(unescaped(br#""\ud800\u0041""#), b"\xED\xA0\x80A");
    assert_eq!(unescaped(br#""\ud800\n""#), b"\xED\xA0\x80\n");
    assert_eq!(unescaped(br#""\ud800\u00""#), b"\xED\xA0\x80\\u00");
    for text in [&br#""a\qb" 1"#[..], br#""\ud800\"x" 1"#, br#""\u12"" 1"#] {
        let mut s = Scanner::new(text);
        s.string_with(&mut ()).unwrap();
        let a = s.offset();
        let mut s = Scanner::new(text);
        s.value(None).unwrap();
        assert_eq!(a, s.offset(), "{}", String::from_utf8_lossy(text));
    }
}

#[test]
fn until_stops_after_the_byte() {
    let mut s = Scanner::new(&b"2024 {\"a\":1}\nnext"[..]);
    let mut out = Vec::new();
    assert!(s.until(b'\n', &mut out).unwrap());
    assert_eq!(out, b"2024 {\"a\":1}");
    out.clear();
    assert!(!s.until(b'\n', &mut out).unwrap());
    assert_eq!(out, b"next");
}

#[test]
fn bom_is_skipped_once_even_from_a_slow_reader() {
    struct OneByte<'a>(&'a [u8]);
    impl Read for OneByte<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(1).min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
    let mut s = Scanner::new(OneByte(b"\xEF\xBB\xBF{}"));
    s.skip_bom().unwrap();
    assert_eq!(s.peek_token().unwrap(), Some(b'{'));
    assert_eq!(s.offset(), 3);
}

#[test]
fn the_first_quote_or_backslash_is_found_in_short_and_long_strings() {
    // Fillers next to the bytes looked for, and bytes above 0x7F (UTF-8), which the 8-byte test
    // must not take for either.
    let fillers = [b'!', b'#', b'[', b']', 0xA2, 0xDC, 0x00, b'a'];
    for len in 0..150 {
        let text: Vec<u8> = (0..len).map(|i| fillers[i % fillers.len()]).collect();
        assert_eq!(super::structure::quote_or_backslash(&text), None, "none in {len} bytes");
        for at in 0..len {
            for hit in [b'"', b'\\'] {
                let mut with = text.clone();
                with[at] = hit;
                if at + 3 < len {
                    with[at + 3] = b'"';
                }
                assert_eq!(
                    super::structure::quote_or_backslash(&with),
                    Some(at),
                    "{} at {at} of {len}",
                    hit as char
                );
            }
        }
    }
}

/// Where a scan of `text` (as far as `cut`, then on to its end) stops, and in what state.
fn scanned(
    text: &[u8],
    cut: usize,
    scan: fn(&[u8], &mut usize, &mut State, &mut bool, &mut bool) -> bool,
) -> (bool, usize, usize, bool, bool) {
    let (mut pos, mut state, mut in_string, mut escaped) = (0, State::Nested { depth: 0 }, false, false);
    let mut done = scan(&text[..cut], &mut pos, &mut state, &mut in_string, &mut escaped);
    if !done {
        done = scan(text, &mut pos, &mut state, &mut in_string, &mut escaped);
    }
    let State::Nested { depth } = state else { unreachable!("objects and arrays only") };
    (done, pos, depth, in_string, escaped)
}

#[test]
fn values_end_where_the_byte_loop_says_whatever_the_bytes() {
    // Random text of JSON's structural bytes (valid or not, backslashes anywhere), read a block at a
    // time and a byte at a time, in one go or cut anywhere: the same end and the same state.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let alphabet = b"{{[[]]}}\"\"\"\\aaaaaaaaaa ,:";
    for round in 0..20_000 {
        let len = 1 + (next() % 400) as usize;
        let mut text: Vec<u8> =
            (0..len).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]).collect();
        text[0] = if round % 2 == 0 { b'{' } else { b'[' };
        if round % 3 == 0 {
            // Fewer backslashes and quotes, as in real events: long blocks without either.
            text.iter_mut()
                .skip(1)
                .filter(|b| **b == b'\\' || (**b == b'"' && next() % 2 == 0))
                .for_each(|b| *b = b'a');
        }
        let cut = (next() % (len as u64 + 1)) as usize;
        assert_eq!(
            scanned(&text, cut, structure::scan_chunk),
            scanned(&text, cut, structure::scan_bytes),
            "{}, cut at {cut}",
            String::from_utf8_lossy(&text)
        );
    }
}
