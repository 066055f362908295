//! A fast scan of a JSON object's members in its bytes: key and raw value, nothing built.
//!
//! Why: the evaluator's view of an event (`event.rs`), the prefilter's requirements and the
//! finding (`finding.rs`) each need a few members of an event; serde's deserializer validates and
//! visits every token below them (a third of what the rules cost). The events reaching here were
//! already validated by the transform's walker (which accepts exactly what `serde_json` accepts),
//! so this scan only finds where values begin and end: strings are skipped with `memchr`, nested
//! values by counting brackets. Anything it does not expect makes it answer `None`; callers then
//! use `serde_json` (which decides as before), so the answers never differ on a surprise.

use std::borrow::Cow;

/// A member's key as bytes: the inside of its quotes (`quoted`), unescaped when it had escapes.
pub fn key_bytes(quoted: &[u8], escaped: bool) -> Option<Cow<'_, [u8]>> {
    if escaped {
        serde_json::from_slice::<String>(quoted).ok().map(|s| Cow::Owned(s.into_bytes()))
    } else {
        Some(Cow::Borrowed(&quoted[1..quoted.len() - 1]))
    }
}

/// Calls `f(key, escaped, value)` for each member of the object `json` (its first non-blank byte
/// must be `{`), in order: `key` is the key with its quotes, `escaped` whether it holds a `\`,
/// `value` the raw value. Returns where the object ends (after `}`), `None` when the bytes are
/// not what a valid object looks like.
pub fn members<'a>(json: &'a [u8], mut f: impl FnMut(&'a [u8], bool, &'a [u8])) -> Option<usize> {
    let mut at = open(json)?;
    let mut first = true;
    loop {
        match member_at(json, at) {
            Step::Member { key, escaped, value, next } => {
                f(key, escaped, value);
                match next {
                    Next::More(n) => at = n,
                    Next::Closed(end) => return Some(end),
                }
            }
            Step::End(end) if first => return Some(end),
            Step::End(_) | Step::Invalid => return None,
        }
        first = false;
    }
}

/// Where the first member of the object `json` starts (after its `{`); `None` if not an object.
pub fn open(json: &[u8]) -> Option<usize> {
    let i = ws(json, 0);
    (*json.get(i)? == b'{').then_some(i + 1)
}

/// One step of a scan through an object's members ([`member_at`]).
pub enum Step<'a> {
    /// A member (as [`members`] gives them), and what follows it.
    Member { key: &'a [u8], escaped: bool, value: &'a [u8], next: Next },
    /// The object ends here (at `}`, an empty object); where it ends.
    End(usize),
    /// Not what a valid object looks like.
    Invalid,
}

/// What follows a member.
pub enum Next {
    /// Another member, starting here ([`member_at`]).
    More(usize),
    /// The object's `}`; where the object ends.
    Closed(usize),
}

/// The member starting at `at` (from [`open`] or [`Next::More`]).
pub fn member_at(json: &[u8], at: usize) -> Step<'_> {
    member(json, at).unwrap_or(Step::Invalid)
}

fn member(json: &[u8], at: usize) -> Option<Step<'_>> {
    let mut i = ws(json, at);
    match *json.get(i)? {
        b'}' => return Some(Step::End(i + 1)),
        b'"' => {}
        _ => return None,
    }
    let (end, escaped) = string(json, i)?;
    let key = &json[i..end];
    i = ws(json, end);
    if *json.get(i)? != b':' {
        return None;
    }
    let start = ws(json, i + 1);
    let end = value(json, start)?;
    i = ws(json, end);
    let next = match *json.get(i)? {
        b',' => Next::More(i + 1),
        b'}' => Next::Closed(i + 1),
        _ => return None,
    };
    Some(Step::Member { key, escaped, value: &json[start..end], next })
}

/// Whether `"root.` occurs in `json` (a member named `root.…`, unescaped, would make it occur).
pub fn quoted_prefix_occurs(json: &[u8], root: &str) -> bool {
    let root = root.as_bytes();
    memchr::memmem::find_iter(json, root)
        .any(|i| i > 0 && json[i - 1] == b'"' && json.get(i + root.len()) == Some(&b'.'))
}

/// Calls `f(value)` for each element of the array `json` (first non-blank byte `[`); `None` as
/// for [`members`].
pub fn elements<'a>(json: &'a [u8], mut f: impl FnMut(&'a [u8])) -> Option<()> {
    let mut i = ws(json, 0);
    if *json.get(i)? != b'[' {
        return None;
    }
    i = ws(json, i + 1);
    if *json.get(i)? == b']' {
        return Some(());
    }
    loop {
        let end = value(json, i)?;
        f(&json[i..end]);
        i = ws(json, end);
        match *json.get(i)? {
            b',' => i = ws(json, i + 1),
            b']' => return Some(()),
            _ => return None,
        }
    }
}

/// Whether only blanks follow `at`.
pub fn only_blanks_after(json: &[u8], at: usize) -> bool {
    ws(json, at) == json.len()
}

/// The inside of a string value without escapes (`"abc"` → `abc`), else `None`.
pub fn plain_string(raw: &[u8]) -> Option<&str> {
    let inner = raw.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
    if memchr::memchr(b'\\', inner).is_some() {
        return None;
    }
    std::str::from_utf8(inner).ok()
}

fn ws(json: &[u8], mut i: usize) -> usize {
    while matches!(json.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// The string at `i` (a `"`): where it ends (after the closing quote), and whether it has escapes.
fn string(json: &[u8], i: usize) -> Option<(usize, bool)> {
    let mut at = i + 1;
    let mut escaped = false;
    loop {
        at += memchr::memchr2(b'"', b'\\', json.get(at..)?)?;
        if json[at] == b'"' {
            return Some((at + 1, escaped));
        }
        escaped = true;
        at += 2;
    }
}

/// Where the value starting at `i` ends.
fn value(json: &[u8], i: usize) -> Option<usize> {
    match *json.get(i)? {
        b'"' => string(json, i).map(|(end, _)| end),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut at = i;
            loop {
                match *json.get(at)? {
                    b'"' => {
                        at = string(json, at)?.0;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(at + 1);
                        }
                    }
                    _ => {}
                }
                at += 1;
            }
        }
        b'}' | b']' | b',' | b':' => None,
        _ => {
            let len =
                json[i..].iter().position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'));
            Some(i + len.unwrap_or(json.len() - i))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(json: &str) -> Option<Vec<(String, String)>> {
        let mut out = Vec::new();
        members(json.as_bytes(), |k, e, v| {
            let key = String::from_utf8(key_bytes(k, e).unwrap().into_owned()).unwrap();
            out.push((key, String::from_utf8(v.to_vec()).unwrap()));
        })?;
        Some(out)
    }

    #[test]
    fn members_keys_and_raw_values() {
        let got = all(r#" { "a" : "x\"}" , "b\u0041":{"c":[1,{"d":"]"}]},"n":-1.5e3,"t":true,"z":null } "#);
        let want = [
            ("a", r#""x\"}""#),
            ("bA", r#"{"c":[1,{"d":"]"}]}"#),
            ("n", "-1.5e3"),
            ("t", "true"),
            ("z", "null"),
        ];
        let want: Vec<(String, String)> = want.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        assert_eq!(got, Some(want));
        assert_eq!(all("{}"), Some(vec![]));
        for bad in ["", "[1]", "{", r#"{"a"}"#, r#"{"a":}"#, r#"{"a":1,}"#, r#"{"a":"x"#, r#"{"a":{"b":1}"#] {
            assert_eq!(all(bad), None, "{bad}");
        }
        let mut seen = Vec::new();
        assert!(elements(br#"[ "a", {"b":[2]} ,3 ]"#, |v| seen.push(v.to_vec())).is_some());
        assert_eq!(seen, [br#""a""#.to_vec(), br#"{"b":[2]}"#.to_vec(), b"3".to_vec()]);
        assert_eq!(plain_string(br#""abc""#), Some("abc"));
        assert_eq!(plain_string(br#""a\"c""#), None);
        assert_eq!(plain_string(b"12"), None);
        assert_eq!(key_bytes(br#""a\u0062""#, true).as_deref(), Some(&b"ab"[..]));
        assert_eq!(key_bytes(br#""ab""#, false).as_deref(), Some(&b"ab"[..]));
        assert_eq!(key_bytes(br#""a\x""#, true), None);
    }
}
