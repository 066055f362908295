//! What a rule requires of one field's value, checked on the values themselves.
//!
//! Why: almost every CloudTrail rule holds only when `eventName` is one of a few API calls (and
//! the others when `userIdentity.type`, `userAgent` or the principal's ARN is), so the rules that
//! may match an event are found by reading those few fields (one hash lookup for `eventName`)
//! rather than by searching all anchors in every byte of the event (`prefilter.rs`).
//!
//! A requirement is a field and a test on its string value: equal to, starting with, ending with
//! or containing a text, ASCII case folded (Sigma compares case-insensitively by default; a
//! `|cased` rule is then only asked more often). A wildcard value requires its longest plain
//! piece, a `|re` value one of the texts its pattern requires (`regex_literals.rs`). The value
//! tested is the text the evaluator compares: a string's, or an object's text (`event.rs`). A
//! value the test cannot judge exactly makes the rule a candidate: a number or boolean (it may
//! equal a string rule value), null, an array, or a text that is not ASCII (Unicode lower-casing
//! can turn a non-ASCII character into an ASCII one). Values are found where the evaluator finds
//! them (`RecordView::leaves`).

use super::regex_literals;
use rsigma_parser::{DetectionItem, Modifier, SigmaValue, StringPart};
use std::hash::Hasher;

/// How a field's value is tested.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Test {
    /// Contains the text.
    Contains,
    /// Ends with it.
    EndsWith,
    /// Starts with it.
    StartsWith,
    /// Is it.
    Equals,
}

/// One field's test: the rule cannot match unless the field has a value that passes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    /// The field, as the rule names it (a dotted path).
    pub field: String,
    /// The test.
    pub test: Test,
    /// The text, ASCII lower-cased.
    pub text: String,
}

impl Requirement {
    /// How much it narrows (higher is better).
    pub fn rank(&self) -> (u8, Test, usize) {
        let field = match self.field.as_str() {
            "eventName" => 2,
            "eventSource" => 0,
            _ => 1,
        };
        (field, self.test, self.text.len())
    }

    /// Whether `value` (an ASCII-lower-cased string value) passes.
    pub fn passes(&self, value: &str) -> bool {
        match self.test {
            Test::Equals => value == self.text,
            Test::StartsWith => value.starts_with(&self.text),
            Test::EndsWith => value.ends_with(&self.text),
            Test::Contains => value.contains(&self.text),
        }
    }
}

/// A field's values: one of them (all of them with `|all`) must match. `None`: no requirement known.
pub fn item(i: &DetectionItem) -> Option<Vec<Requirement>> {
    let field = i.field.name.as_deref().filter(|n| !n.is_empty())?;
    use Modifier::*;
    let regex = i.field.has_modifier(Re);
    let allowed: &[Modifier] = if regex {
        &[Re, IgnoreCase, Multiline, DotAll, All, Cased]
    } else {
        &[Contains, StartsWith, EndsWith, All, Cased]
    };
    if i.field.modifiers.iter().any(|m| !allowed.contains(m)) || i.values.is_empty() {
        return None;
    }
    let test = if regex || i.field.has_modifier(Contains) {
        Test::Contains
    } else if i.field.has_modifier(StartsWith) {
        Test::StartsWith
    } else if i.field.has_modifier(EndsWith) {
        Test::EndsWith
    } else {
        Test::Equals
    };
    let mut sets =
        i.values
            .iter()
            .map(|v| if regex { pattern(field, v) } else { value(field, test, v).map(|r| vec![r]) });
    if i.field.has_modifier(All) {
        super::reading::best(&mut sets, Requirement::rank)
    } else {
        super::reading::union(&mut sets)
    }
}

fn value(field: &str, test: Test, v: &SigmaValue) -> Option<Requirement> {
    let SigmaValue::String(s) = v else { return None };
    let wildcard = s.parts.iter().any(|p| matches!(p, StringPart::Special(_)));
    let (test, text) = if wildcard {
        let plain = s.parts.iter().filter_map(|p| match p {
            StringPart::Plain(text) => Some(text.as_str()),
            StringPart::Special(_) => None,
        });
        (Test::Contains, plain.max_by_key(|t| t.len())?.to_string())
    } else {
        let text: String = s
            .parts
            .iter()
            .filter_map(|p| if let StringPart::Plain(t) = p { Some(t.as_str()) } else { None })
            .collect();
        (test, text)
    };
    requirement(field, test, text)
}

/// A `|re` value: its text contains one of the strings its pattern requires.
fn pattern(field: &str, v: &SigmaValue) -> Option<Vec<Requirement>> {
    let SigmaValue::String(s) = v else { return None };
    let required = regex_literals::required(&s.original)?;
    required.into_iter().map(|text| requirement(field, Test::Contains, text)).collect()
}

/// A requirement with `text`, when it can be judged in ASCII.
fn requirement(field: &str, test: Test, text: String) -> Option<Requirement> {
    if !text.is_ascii() || text.is_empty() {
        return None;
    }
    Some(Requirement { field: field.to_string(), test, text: text.to_ascii_lowercase() })
}

/// A raw value as a requirement judges it: the text the evaluator compares (a string's text, an
/// object's text as `event.rs` shows it), ASCII lower-cased into `buf`; `None` when it cannot be
/// judged (a number, boolean, null or array, or a text that is not ASCII): then any test may pass.
pub fn judged<'b>(raw: &[u8], buf: &'b mut String) -> Option<&'b str> {
    buf.clear();
    match raw.first()? {
        b'"' => match super::raw::plain_string(raw) {
            Some(s) => buf.push_str(s),
            None => buf.push_str(&serde_json::from_slice::<String>(raw).ok()?),
        },
        b'{' => buf.push_str(&super::event::as_text(&serde_json::from_slice(raw).ok()?)),
        _ => return None,
    }
    if !buf.is_ascii() {
        return None;
    }
    buf.make_ascii_lowercase();
    Some(buf)
}

/// FNV-1a: the names looked up are short, and SipHash's guard against chosen keys is not needed
/// (the table's keys are the rules' values; an event only looks one up).
#[derive(Default)]
pub struct Fnv(u64);

impl Hasher for Fnv {
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 { 0xcbf2_9ce4_8422_2325 } else { self.0 };
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}
