//! Field paths: how redaction rules and filters name the parts of an event they act on.
//!
//! A path is segments separated by `.`, read from the top of the event:
//!
//! - a name is an object key: `userIdentity.accessKeyId`;
//! - `*` is exactly one segment: any key, or any element of an array (`resources.*.ARN` is the
//!   `ARN` of every element of `resources`);
//! - `**` is any number of segments, none included (`requestParameters.**.password` is every
//!   `password` anywhere under `requestParameters`, at any depth, through arrays too).
//!
//! Array elements are segments of their own: only `*` and `**` step into them. A key that contains
//! `*`, `=` or `\` is written with a `\` before that character: `\*` is a key that is literally `*`.
//! `*` inside a name (`*Token`) is refused rather than guessed at: it would be a glob, and paths do
//! not have those.
//!
//! A dot inside a key means what it means to Elasticsearch and OpenSearch, which index
//! `{"userIdentity.accessKeyId": …}` exactly as `{"userIdentity": {"accessKeyId": …}}`: a path
//! (what is searched) names both spellings and every mixture of them. So a dotted key is read as
//! the nested keys it spells, in paths (`a\.b`, still accepted, is the same as `a.b`) and in events
//! (the walker steps through `"a.b"` as `a` then `b`). A rule that names a prefix of a dotted key
//! (`a` for `{"a.b": 1}`) names an object that key is part of, and so hides the member whole.
//!
//! This module only parses and describes paths; `matcher.rs` compiles many of them into one
//! automaton for the event walker.

use std::fmt;
use std::str::FromStr;

/// One step of a [`FieldPath`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Segment {
    /// An object key, unescaped.
    Key(String),
    /// `*`: one key or array element.
    Any,
    /// `**`: zero or more keys or array elements.
    AnyDepth,
}

/// A parsed field path, e.g. `responseElements.credentials.*` (see the module docs for the syntax).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FieldPath {
    segments: Vec<Segment>,
    text: String,
}

/// Why a path could not be parsed.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// Nothing at all.
    #[error("empty field path")]
    Empty,
    /// `a..b`, `.a` or `a.`.
    #[error("empty segment in field path {0:?} (write `\\.` for a dot inside a key)")]
    EmptySegment(String),
    /// `*` mixed with other characters in one segment.
    #[error("`*` must be a whole segment in {0:?} (`*` or `**`; write `\\*` for a literal star)")]
    Star(String),
    /// A `\` with nothing after it.
    #[error("field path {0:?} ends with a lone `\\`")]
    TrailingBackslash(String),
}

impl FieldPath {
    /// The segments, in order.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// True when the path names this one concrete location (keys and array elements from the top;
    /// a dotted key stands for the nested keys it spells). A plain recursive matcher: the reference
    /// that `matcher.rs` is tested against.
    pub fn matches(&self, location: &[Step<'_>]) -> bool {
        self.matches_expanded(&expand(location))
    }

    /// True when the value at `location` is hidden by a rule with this path, as the walker sees it
    /// one member at a time: the path names the location, or names one of the objects that the
    /// location's last key spells when it is dotted (`a` hides the value of `{"a.b": …}`).
    pub fn hides(&self, location: &[Step<'_>]) -> bool {
        let Some((last, before)) = location.split_last() else { return self.matches(location) };
        let mut steps = expand(before);
        match last {
            Step::Key(k) => k.split('.').any(|piece| {
                steps.push(Step::Key(piece));
                self.matches_expanded(&steps)
            }),
            Step::Element => {
                steps.push(Step::Element);
                self.matches_expanded(&steps)
            }
        }
    }

    fn matches_expanded(&self, location: &[Step<'_>]) -> bool {
        fn go(pattern: &[Segment], location: &[Step<'_>]) -> bool {
            match (pattern.first(), location.first()) {
                (None, None) => true,
                (Some(Segment::AnyDepth), _) => {
                    go(&pattern[1..], location) || (!location.is_empty() && go(pattern, &location[1..]))
                }
                (Some(Segment::Any), Some(_)) => go(&pattern[1..], &location[1..]),
                (Some(Segment::Key(k)), Some(Step::Key(l))) if k == l => go(&pattern[1..], &location[1..]),
                _ => false,
            }
        }
        go(&self.segments, location)
    }
}

impl FieldPath {
    /// The path without its last segment, and that segment when it is a key.
    pub(crate) fn split_last_key(&self) -> Option<(FieldPath, &str)> {
        let (Segment::Key(last), parent) = self.segments.split_last()? else { return None };
        let text = parent
            .iter()
            .map(|s| match s {
                Segment::Key(k) => k.chars().fold(String::new(), |mut out, c| {
                    if matches!(c, '.' | '*' | '=' | '\\') {
                        out.push('\\');
                    }
                    out.push(c);
                    out
                }),
                Segment::Any => "*".into(),
                Segment::AnyDepth => "**".into(),
            })
            .collect::<Vec<_>>()
            .join(".");
        Some((FieldPath { segments: parent.to_vec(), text }, last))
    }
}

/// `location` with every dotted key split into the keys it spells.
fn expand<'a>(location: &[Step<'a>]) -> Vec<Step<'a>> {
    let mut out = Vec::with_capacity(location.len());
    for step in location {
        match step {
            Step::Key(k) => out.extend(k.split('.').map(Step::Key)),
            Step::Element => out.push(Step::Element),
        }
    }
    out
}

/// One step of a concrete location inside an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step<'a> {
    /// An object key.
    Key(&'a str),
    /// An element of an array.
    Element,
}

impl FromStr for FieldPath {
    type Err = PathError;

    fn from_str(text: &str) -> Result<Self, PathError> {
        if text.is_empty() {
            return Err(PathError::Empty);
        }
        let mut segments = Vec::new();
        // `bare` counts the stars that were not escaped: only `*` and `**` may have any.
        let (mut name, mut bare) = (String::new(), 0);
        let mut chars = text.chars();
        loop {
            let c = chars.next();
            match c {
                Some('\\') => match chars.next() {
                    Some(next) => name.push(next),
                    None => return Err(PathError::TrailingBackslash(text.into())),
                },
                Some('*') => {
                    bare += 1;
                    name.push('*');
                }
                Some('.') | None => {
                    let segment = match (name.as_str(), bare) {
                        ("", _) => return Err(PathError::EmptySegment(text.into())),
                        ("*", 1) => Segment::Any,
                        ("**", 2) => Segment::AnyDepth,
                        (_, 0) => Segment::Key(std::mem::take(&mut name)),
                        _ => return Err(PathError::Star(text.into())),
                    };
                    match segment {
                        // A dotted key is the nested keys it spells (see the module docs).
                        Segment::Key(k) if k.contains('.') => {
                            segments.extend(k.split('.').map(|piece| Segment::Key(piece.into())))
                        }
                        segment => segments.push(segment),
                    }
                    (name, bare) = (String::new(), 0);
                    if c.is_none() {
                        break;
                    }
                }
                Some(other) => name.push(other),
            }
        }
        Ok(FieldPath { segments, text: text.into() })
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Splits `text` at the first `sep` that is not escaped with `\`; the escapes stay in both halves
/// (the path parser reads them). Used for `PATH=MODE` and `FIELD=GLOB`.
pub fn split_unescaped(text: &str, sep: char) -> Option<(&str, &str)> {
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == sep {
            return Some((&text[..i], &text[i + c.len_utf8()..]));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use Segment::{Any, AnyDepth};

    fn key(k: &str) -> Segment {
        Segment::Key(k.into())
    }

    fn parse(text: &str) -> Vec<Segment> {
        text.parse::<FieldPath>().unwrap_or_else(|e| panic!("{text}: {e}")).segments
    }

    #[test]
    fn segments_names_and_wildcards() {
        assert_eq!(parse("userIdentity.accessKeyId"), [key("userIdentity"), key("accessKeyId")]);
        assert_eq!(
            parse("responseElements.credentials.*"),
            [key("responseElements"), key("credentials"), Any]
        );
        assert_eq!(
            parse("requestParameters.**.password"),
            [key("requestParameters"), AnyDepth, key("password")]
        );
        assert_eq!(parse("@timestamp"), [key("@timestamp")]);
    }

    #[test]
    fn escapes_make_dots_stars_and_equals_part_of_a_key() {
        assert_eq!(
            parse(r"tags.aws\.cloudformation\.stack"),
            [key("tags"), key("aws"), key("cloudformation"), key("stack")],
            "a dotted key is the nested keys it spells"
        );
        assert_eq!(parse(r"a\.b"), parse("a.b"));
        assert_eq!(parse(r"a.\*"), [key("a"), key("*")]);
        assert_eq!(parse(r"a.\*\*"), [key("a"), key("**")]);
        assert_eq!(parse(r"a\=b.c\\d"), [key("a=b"), key(r"c\d")]);
    }

    #[test]
    fn bad_paths_are_refused_with_a_hint() {
        for (text, want) in [
            ("", "empty field path"),
            ("a..b", "empty segment"),
            (".a", "empty segment"),
            ("a.", "empty segment"),
            ("a.*Token", "`*` must be a whole segment"),
            ("***", "`*` must be a whole segment"),
            (r"a.*\*", "`*` must be a whole segment"),
            ("a\\", "lone `\\`"),
        ] {
            let err = text.parse::<FieldPath>().unwrap_err().to_string();
            assert!(err.contains(want), "{text}: {err}");
        }
    }

    #[test]
    fn reference_matcher() {
        use Step::{Element as E, Key as K};
        let cases: &[(&str, &[Step], bool)] = &[
            ("a.b", &[K("a"), K("b")], true),
            ("a.b", &[K("a")], false),
            ("a.b", &[K("a"), K("b"), K("c")], false),
            ("a.*", &[K("a"), K("x")], true),
            ("a.*", &[K("a"), E], true),
            ("a.*", &[K("a")], false),
            ("resources.*.ARN", &[K("resources"), E, K("ARN")], true),
            ("resources.ARN", &[K("resources"), E, K("ARN")], false),
            ("a.**.p", &[K("a"), K("p")], true),
            ("a.**.p", &[K("a"), E, K("x"), E, K("p")], true),
            ("a.**.p", &[K("b"), K("p")], false),
            ("**", &[K("x")], true),
            ("**.p", &[K("p")], true),
            ("a.**", &[K("a")], true),
            // Dotted keys are the nested keys they spell, in events and in paths.
            ("a.b.c", &[K("a.b"), K("c")], true),
            ("a.b.c", &[K("a"), K("b.c")], true),
            ("a.b.c", &[K("a.b.c")], true),
            (r"a\.b.c", &[K("a"), K("b"), K("c")], true),
            ("a.*.c", &[K("a.x.c")], true),
            ("a.b", &[K("a.b.c")], false),
            ("a.**.c", &[K("a.x"), E, K("y.c")], true),
        ];
        for (pattern, location, want) in cases {
            let path: FieldPath = pattern.parse().unwrap();
            assert_eq!(path.matches(location), *want, "{pattern} vs {location:?}");
        }
    }

    #[test]
    fn a_prefix_of_a_dotted_key_hides_its_value() {
        use Step::{Element as E, Key as K};
        let cases: &[(&str, &[Step], bool)] = &[
            ("a", &[K("a.b")], true),
            ("a.b", &[K("a.b")], true),
            ("a.b", &[K("a.b.c")], true),
            ("a.c", &[K("a.b")], false),
            ("x.a", &[K("x"), K("a.b")], true),
            ("x", &[K("x"), K("a.b")], false),
            ("x.*", &[K("x"), E], true),
            ("**.b", &[K("a.b.c")], true),
        ];
        for (pattern, location, want) in cases {
            let path: FieldPath = pattern.parse().unwrap();
            assert_eq!(path.hides(location), *want, "{pattern} vs {location:?}");
        }
    }

    #[test]
    fn the_parent_of_a_path_ending_in_a_key() {
        let p: FieldPath = "requestParameters.lookupAttributes.*.attributeValue".parse().unwrap();
        let (parent, last) = p.split_last_key().unwrap();
        assert_eq!(
            (parent.to_string().as_str(), last),
            ("requestParameters.lookupAttributes.*", "attributeValue")
        );
        assert_eq!(parent, "requestParameters.lookupAttributes.*".parse().unwrap());
        assert!("a.*".parse::<FieldPath>().unwrap().split_last_key().is_none());
        let (root, _) = "a".parse::<FieldPath>().unwrap().split_last_key().unwrap();
        assert!(root.segments().is_empty());
    }

    #[test]
    fn split_at_first_unescaped_separator() {
        assert_eq!(split_unescaped("eventName=Get*", '='), Some(("eventName", "Get*")));
        assert_eq!(split_unescaped(r"a\=b=c=d", '='), Some((r"a\=b", "c=d")));
        assert_eq!(split_unescaped("plain", '='), None);
    }
}
