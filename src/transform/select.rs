//! Selectors: several independent `--include`/`--exclude`/`--console-only` rule sets applied to one
//! event in one walk, for outputs that act on some events only (alert rules, `output/alert/`).
//!
//! Each set is a [`Filters`] (`filter.rs`), so a selector means exactly what the same flags mean
//! for indexing: one implementation of the semantics. Like the filters, selectors look at the
//! event as CloudTrail wrote it, before redaction.

use super::capture::{Found, Slots};
use super::filter::{FieldFilter, Filters};
use super::matcher::{Matcher, TooComplex};
use super::redact::Redactor;
use super::walk::{self, Accept};

/// One rule set: what `--include`, `--exclude` and `--console-only` would say.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    /// Every FIELD named must match one of its globs.
    pub include: Vec<FieldFilter>,
    /// Any match rejects.
    pub exclude: Vec<FieldFilter>,
    /// Only console operations.
    pub console_only: bool,
}

/// Compiled rule sets, tested together.
pub struct Selectors {
    matcher: Matcher<Accept>,
    sets: Vec<Filters>,
}

impl Selectors {
    /// Compiles the sets (their order is the order [`Selectors::matching`] reports).
    pub fn new(sets: &[Selection]) -> Result<Self, TooComplex> {
        let mut slots = Slots::default();
        let sets: Vec<Filters> =
            sets.iter().map(|s| Filters::new(&s.include, &s.exclude, s.console_only, &mut slots)).collect();
        let matcher = super::plan_matcher(&[], &slots)?;
        Ok(Selectors { matcher, sets })
    }

    /// How many sets there are.
    pub fn len(&self) -> usize {
        self.sets.len()
    }

    /// True when there is no set.
    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }

    /// The indexes of the sets `raw` passes (none for an event that is not a valid JSON object).
    pub fn matching(&self, raw: &[u8], scratch: &mut Vec<u8>) -> Vec<usize> {
        if self.sets.is_empty() {
            return Vec::new();
        }
        scratch.clear();
        let mut found = Found::default();
        if walk::rewrite(raw, &self.matcher, &Redactor { key: None }, scratch, &mut found).is_err() {
            return Vec::new();
        }
        (0..self.sets.len()).filter(|&i| self.sets[i].keep(raw, &found)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(include: &[&str], exclude: &[&str], console_only: bool) -> Selection {
        let parse = |l: &[&str]| l.iter().map(|f| f.parse().unwrap()).collect::<Vec<FieldFilter>>();
        Selection { include: parse(include), exclude: parse(exclude), console_only }
    }

    #[test]
    fn each_set_decides_on_its_own_with_the_filter_semantics() {
        let s = Selectors::new(&[
            set(&[], &["eventName=Describe*", "eventName=Get*"], false),
            set(&["userIdentity.userName=alice"], &[], false),
            set(&[], &[], true),
            set(&["eventName=Get*", "eventName=Delete*"], &["readOnly=true"], false),
        ])
        .unwrap();
        let mut scratch = Vec::new();
        let delete = br#"{"eventName":"DeleteBucket","userIdentity":{"userName":"alice"},"readOnly":false}"#;
        assert_eq!(s.matching(delete, &mut scratch), [0, 1, 3]);
        let get = br#"{"eventName":"GetObject","userAgent":"Mozilla/5.0","readOnly":true}"#;
        assert_eq!(s.matching(get, &mut scratch), [2]);
        assert!(s.matching(b"[1]", &mut scratch).is_empty());
        assert!(Selectors::new(&[]).unwrap().matching(delete, &mut scratch).is_empty());
    }
}
