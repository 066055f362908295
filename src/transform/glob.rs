//! Glob patterns for field values (`--include`/`--exclude`, the console rule): `*` is any run of
//! characters, `?` one character, `\` makes the next character literal; case matters. Its own
//! room because both the filters (`filter.rs`) and the console rule (`console.rs`) match with it.

/// A pattern with `*` (any run of characters) and `?` (one character); `\` escapes.
///
/// Hand-written rather than `globset`/`wildmatch`: those are path globs (`/` is special, `**`,
/// classes, a regex engine behind), while field values need just these two wildcards, and the
/// common shapes (`Describe*`, `*Console*`, `*.amazonaws.com`, an exact value) get a direct
/// comparison or substring search (the console rule runs on every event).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Glob {
    text: String,
    shape: Shape,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Shape {
    /// No wildcard.
    Exact(Vec<u8>),
    /// A literal then one final `*`.
    Prefix(Vec<u8>),
    /// `*`, a literal, `*`: the literal anywhere (found with `memchr`'s substring search, its
    /// searcher built once here rather than at each match: the console rule runs on every event).
    Contains(Contains),
    /// `*` then a literal.
    Suffix(Vec<u8>),
    /// Anything else.
    General(Vec<Token>),
}

/// A compiled substring search, equal to another when their literals are.
#[derive(Clone, Debug)]
struct Contains(Box<memchr::memmem::Finder<'static>>);

impl PartialEq for Contains {
    fn eq(&self, other: &Self) -> bool {
        self.0.needle() == other.0.needle()
    }
}

impl Eq for Contains {}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Token {
    Byte(u8),
    AnyRun,
    AnyChar,
}

impl Glob {
    /// The pattern as given.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Parses a glob; every text is one (a trailing lone `\` stands for itself).
    pub fn new(text: &str) -> Self {
        let tokens = tokens(text);
        let literal = |ts: &[Token]| -> Option<Vec<u8>> {
            ts.iter().map(|t| if let Token::Byte(b) = t { Some(*b) } else { None }).collect()
        };
        let shape = if let Some(exact) = literal(&tokens) {
            Shape::Exact(exact)
        } else if let Some(prefix) =
            tokens.split_last().and_then(
                |(last, rest)| {
                    if *last == Token::AnyRun {
                        literal(rest)
                    } else {
                        None
                    }
                },
            )
        {
            Shape::Prefix(prefix)
        } else if let Some(inner) = match tokens.as_slice() {
            [Token::AnyRun, inner @ .., Token::AnyRun] => literal(inner).filter(|l| !l.is_empty()),
            _ => None,
        } {
            Shape::Contains(Contains(Box::new(memchr::memmem::Finder::new(&inner).into_owned())))
        } else if let Some(suffix) = match tokens.as_slice() {
            [Token::AnyRun, rest @ ..] => literal(rest),
            _ => None,
        } {
            Shape::Suffix(suffix)
        } else {
            Shape::General(tokens)
        };
        Glob { text: text.into(), shape }
    }

    /// True when the glob matches all of `value`.
    pub fn matches(&self, value: &str) -> bool {
        let v = value.as_bytes();
        match &self.shape {
            Shape::Exact(e) => v == e.as_slice(),
            Shape::Prefix(p) => v.starts_with(p),
            // A literal that is valid UTF-8 only occurs at character boundaries, where `*` stops.
            Shape::Contains(c) => c.0.find(v).is_some(),
            Shape::Suffix(s) => v.ends_with(s),
            Shape::General(tokens) => matches_general(tokens, v),
        }
    }
}

/// The tokens of a pattern (a trailing lone `\\` stands for itself).
fn tokens(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'\\' => tokens.push(Token::Byte(bytes.next().unwrap_or(b'\\'))),
            b'*' => tokens.push(Token::AnyRun),
            b'?' => tokens.push(Token::AnyChar),
            b => tokens.push(Token::Byte(b)),
        }
    }
    tokens
}

/// Wildcard matching with backtracking to the last `*` (linear for one `*`, at worst
/// pattern × value). Works on UTF-8 bytes; `?` and `*` consume whole characters.
fn matches_general(pattern: &[Token], value: &[u8]) -> bool {
    let char_len = |b: u8| match b {
        0xF0.. => 4,
        0xE0.. => 3,
        0xC0.. => 2,
        _ => 1,
    };
    let (mut p, mut v) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while v < value.len() {
        match pattern.get(p) {
            Some(Token::Byte(b)) if *b == value[v] => {
                p += 1;
                v += 1;
                continue;
            }
            Some(Token::AnyChar) => {
                p += 1;
                v += char_len(value[v]);
                continue;
            }
            Some(Token::AnyRun) => {
                star = Some((p, v));
                p += 1;
                continue;
            }
            _ => {}
        }
        match star {
            Some((sp, sv)) => {
                let sv = sv + char_len(value[sv]);
                star = Some((sp, sv));
                (p, v) = (sp + 1, sv);
            }
            None => return false,
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|t| *t == Token::AnyRun) && v == value.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        let cases = [
            ("Describe*", "DescribeInstances", true),
            ("Describe*", "Describe", true),
            ("Describe*", "ListDescribe", false),
            ("GetObject", "GetObject", true),
            ("GetObject", "GetObjectAcl", false),
            ("*Object", "GetObject", true),
            ("*Object", "GetObjectAcl", false),
            ("*Obj*", "GetObjectAcl", true),
            ("Get?bject", "GetObject", true),
            ("Get?bject", "Getbject", false),
            ("?", "é", true),
            ("??", "é", false),
            ("a*b*c", "aXXbYYbZc", true),
            ("a*b*c", "aXXbYYcZ", false),
            ("*", "", true),
            ("", "", true),
            ("", "x", false),
            ("console.*.amazonaws.com", "console.ec2.amazonaws.com", true),
            ("console.*.amazonaws.com", "console.amazonaws.com", false),
            (r"a\*", "a*", true),
            (r"a\*", "ab", false),
            (r"a\?", "a?", true),
            ("*é?", "xxéy", true),
            ("**a", "a", true),
            ("**", "abc", true),
            ("*Console/*", "aws-internal/3 AWS Console/1.0", true),
            ("*Console/*", "aws-internal/3 console/1.0", false),
            ("*é*", "xéy", true),
            ("*.amazonaws.com", "ec2.amazonaws.com", true),
            ("*.amazonaws.com", "ec2.amazonaws.com.evil", false),
        ];
        for (glob, value, want) in cases {
            assert_eq!(Glob::new(glob).matches(value), want, "{glob} vs {value}");
            // The direct shapes agree with the general matcher.
            let general = Glob { text: glob.into(), shape: Shape::General(tokens(glob)) };
            assert_eq!(general.matches(value), want, "{glob} vs {value} (general)");
        }
    }
}
