//! Glob patterns for field values (`--include`/`--exclude`, the console rule): `*` is any run of
//! characters, `?` one character, `\` makes the next character literal; case matters. Its own
//! room because both the filters (`filter.rs`) and the console rule (`console.rs`) match with it.

/// A pattern with `*` (any run of characters) and `?` (one character); `\` escapes.
///
/// Hand-written rather than `globset`/`wildmatch`: those are path globs (`/` is special, `**`,
/// classes, a regex engine behind), while field values need just these two wildcards, and the
/// common shapes (`Describe*`, an exact value) get a direct comparison.
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
    /// Anything else.
    General(Vec<Token>),
}

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
            Shape::General(tokens) => matches_general(tokens, v),
        }
    }
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
        ];
        for (glob, value, want) in cases {
            assert_eq!(Glob::new(glob).matches(value), want, "{glob} vs {value}");
        }
    }
}
