//! The text a regular expression cannot match without: for the prefilter (`prefilter.rs`), which
//! needs an anchor from `|re` values too (`userIdentity.arn|re: '.+:assumed-role/aws:.+'` must
//! contain `:assumed-role/aws:`).
//!
//! The pattern is parsed by `regex-syntax` (the parser of the `regex` crate the evaluator uses)
//! and walked: a literal must occur; in a concatenation, adjacent literals join into one run and
//! the longest run (or a part's own requirement) is kept; an alternation needs one of its
//! branches' requirements; a repetition needs its body's only if it repeats at least once. A class
//! that only folds the case of one ASCII letter (`[Aa]`, from `(?i)`) counts as that letter: the
//! prefilter folds case anyway. Anything else requires nothing known.

use regex_syntax::hir::{Class, Hir, HirKind};

/// Strings of which one occurs in every text `pattern` matches; `None` when nothing is known.
pub fn required(pattern: &str) -> Option<Vec<String>> {
    let hir = regex_syntax::ParserBuilder::new().nest_limit(64).build().parse(pattern).ok()?;
    walk(&hir).filter(|set| set.iter().all(|s| !s.is_empty()))
}

fn walk(h: &Hir) -> Option<Vec<String>> {
    match h.kind() {
        HirKind::Literal(lit) => Some(vec![String::from_utf8(lit.0.to_vec()).ok()?]),
        HirKind::Class(class) => one_letter(class).map(|c| vec![c.to_string()]),
        HirKind::Capture(c) => walk(&c.sub),
        HirKind::Repetition(r) if r.min >= 1 => walk(&r.sub),
        HirKind::Alternation(branches) => {
            let mut out = Vec::new();
            for b in branches {
                out.extend(walk(b)?);
            }
            Some(out)
        }
        HirKind::Concat(parts) => concat(parts),
        _ => None,
    }
}

/// The longest requirement among the runs of adjacent literals and the parts' own.
fn concat(parts: &[Hir]) -> Option<Vec<String>> {
    let mut candidates: Vec<Vec<String>> = Vec::new();
    let mut run = String::new();
    for part in parts {
        match walk(part) {
            Some(set) if set.len() == 1 && is_exact(part) => run.push_str(&set[0]),
            other => {
                if !run.is_empty() {
                    candidates.push(vec![std::mem::take(&mut run)]);
                }
                candidates.extend(other);
            }
        }
    }
    if !run.is_empty() {
        candidates.push(vec![run]);
    }
    candidates.into_iter().max_by_key(|set| set.iter().map(String::len).min().unwrap_or(0))
}

/// A part that matches exactly its requirement (so it can be joined to its neighbours).
fn is_exact(part: &Hir) -> bool {
    match part.kind() {
        HirKind::Literal(_) => true,
        HirKind::Class(class) => one_letter(class).is_some(),
        _ => false,
    }
}

/// The letter a class stands for when it is one character, or one ASCII letter in both cases
/// (and nothing else: `(?i)s` is `[Ssſ]`, which a text without `s` can match).
fn one_letter(class: &Class) -> Option<char> {
    let Class::Unicode(u) = class else { return None };
    let chars: Vec<char> = u.ranges().iter().flat_map(|r| r.start()..=r.end()).take(3).collect();
    match chars[..] {
        [c] => Some(c),
        [a, b] if a.is_ascii_alphabetic() && a.eq_ignore_ascii_case(&b) => Some(a),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::required;

    fn one(p: &str) -> Option<String> {
        required(p).map(|set| set.join("|").to_ascii_lowercase())
    }

    #[test]
    fn literals_runs_alternations_and_repetitions() {
        assert_eq!(one(".+:assumed-role/aws:.+").as_deref(), Some(":assumed-role/aws:"));
        assert_eq!(one("(?i)^stop(logging|trail)$").as_deref(), Some("logging|trail"));
        // Unicode folds `s` with `ſ` (and `k` with the Kelvin sign): the run breaks there.
        assert_eq!(one("(?i)^StopLogging$").as_deref(), Some("toplogging"));
        assert_eq!(one("StopLogging").as_deref(), Some("stoplogging"));
        assert_eq!(one("abc(cd)+ef").as_deref(), Some("abc"));
        assert_eq!(one("x(abcdef)+").as_deref(), Some("abcdef"));
        assert_eq!(one("(abc)?d"), Some("d".into()));
        assert_eq!(one("(abc)*"), None);
        assert_eq!(one("[a-z]+"), None);
        assert_eq!(one("a|.*"), None);
        assert_eq!(one("(unclosed"), None);
    }
}
