//! A rule's anchors: strings of which at least one occurs in the text of every event the rule
//! matches, for the prefilter's fallback search (`prefilter.rs`) of rules without requirements.
//!
//! Why a module of its own: reading them from a rule's detection is a grammar of its own (which
//! values give a piece of text JSON writes as it is), apart from how the prefilter uses them.
//!
//! Why an anchor must occur in the bytes: a value the evaluator compares is a JSON string,
//! number or boolean of the event, or an object shown as its text (`event.rs`). An anchor holds
//! only ASCII letters, digits and `.`, `-`, `_`, `@`, `=`, `+`, `%`, `#`, `:`, `/`: characters
//! JSON writes as they are, unless the writer used `\u` escapes or `\/`: an event that contains
//! either anywhere is always evaluated. Numbers, `null`, booleans and every
//! modifier that transforms the value (`base64`, `cidr`, `fieldref`, comparisons…) give no
//! anchor. A wildcard value contributes its longest plain piece; a `|re` value, the longest piece
//! of what its pattern requires (`regex_literals.rs`).

use super::reading::{best, read, union, Leaves};
use super::regex_literals;
use rsigma_parser::{DetectionItem, Modifier, SigmaRule, SigmaValue, StringPart};

/// Shorter anchors would pass too many events to be worth the test.
const MIN_ANCHOR: usize = 3;

/// One string that must occur, and how much it narrows (higher is better).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Anchor {
    pub text: String,
    rank: (u8, usize),
}

/// A set of anchors of which one occurs in every event matching the expression; `None`: unknown.
pub type Set = Option<Vec<Anchor>>;

const ANCHORS: Leaves<Anchor> = Leaves {
    item,
    keywords: |values| union(&mut values.iter().map(|v| value(v, 1))),
    rank: |a| (a.rank.0, 0, a.rank.1),
};

/// The anchors of a rule: those of its conditions (Sigma's conditions are OR-ed, so all of them
/// must have anchors).
pub fn rule_anchors(rule: &SigmaRule) -> Set {
    read(rule, &ANCHORS)
}

/// A field's values: one of them (all of them with `|all`) must match.
fn item(i: &DetectionItem) -> Set {
    let name = i.field.name.as_deref().unwrap_or("");
    use Modifier::*;
    let regex = i.field.has_modifier(Re);
    let allowed: &[Modifier] = if regex {
        &[Re, IgnoreCase, Multiline, DotAll, All]
    } else {
        &[Contains, StartsWith, EndsWith, All, Cased]
    };
    if i.field.modifiers.iter().any(|m| !allowed.contains(m)) || i.values.is_empty() {
        return None;
    }
    let rank = match name {
        "eventName" => 2,
        "eventSource" => 0,
        _ => 1,
    };
    let mut sets = i.values.iter().map(|v| if regex { pattern(v, rank) } else { value(v, rank) });
    if i.field.has_modifier(All) {
        best(&mut sets, ANCHORS.rank)
    } else {
        union(&mut sets)
    }
}

/// A value's anchor: its longest piece that JSON writes as it is.
fn value(v: &SigmaValue, rank: u8) -> Set {
    let SigmaValue::String(s) = v else { return None };
    let plain_parts = s.parts.iter().filter_map(|p| match p {
        StringPart::Plain(text) => Some(text.as_str()),
        StringPart::Special(_) => None,
    });
    Some(vec![anchor(plain_parts, rank)?])
}

/// A `|re` value's anchors: one for each string the pattern requires (`regex_literals.rs`).
fn pattern(v: &SigmaValue, rank: u8) -> Set {
    let SigmaValue::String(s) = v else { return None };
    let required = regex_literals::required(&s.original)?;
    required.iter().map(|text| anchor(std::iter::once(text.as_str()), rank)).collect()
}

/// The longest piece of `texts` that JSON writes as it is, if long enough to narrow.
fn anchor<'a>(texts: impl Iterator<Item = &'a str>, rank: u8) -> Option<Anchor> {
    // A leading `:` could be the one between a key and its value in an object shown as text
    // (`"Enabled":true`), which the event may write with a space after it.
    let pieces = texts.flat_map(|t| t.split(|c: char| !plain(c))).map(|p| p.trim_start_matches(':'));
    let longest = pieces.max_by_key(|p| p.len())?;
    // A number-like value may be compared with a JSON number written differently (`1` and `1.0`).
    if longest.len() < MIN_ANCHOR || longest.parse::<f64>().is_ok() {
        return None;
    }
    Some(Anchor { text: longest.to_string(), rank: (rank, longest.len()) })
}

/// A character JSON writers put as it is (no escape but `\/`, no case folding beyond ASCII).
fn plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@' | '=' | '+' | '%' | '#' | ':' | '/')
}
