//! Detections at ingest: Sigma rules evaluated on every event as CloudTrail wrote it (before
//! redaction, like `--include`), in the reader pool. A match becomes a finding document
//! (`finding.rs`) beside the event, and may be announced by an alert (`output/alert/`).
//!
//! - `load.rs`: rules from files, folders and the pack we ship (`builtin.rs`, SigmaHQ's CloudTrail
//!   rules in rules/sigma/); what cannot be used is named with its file and the reason;
//! - `event.rs`: the record as the evaluator sees it, parsed lazily, objects also as text;
//! - `finding.rs`: the finding document and its id;
//! - `prefilter.rs`: the test that spares the evaluator the events no rule can match: the values
//!   of the few fields the rules require (`requirement.rs`; one hash lookup of `eventName` for
//!   most rules), else strings searched in the event's bytes; both read from a rule's detection
//!   by `reading.rs`;
//! - `raw.rs`: the fast scan of an object's members that the view, the filter and the finding use.
//!
//! The evaluator is `rsigma-eval` (each rule compiled once, then asked about the events the
//! prefilter leaves it):
//! Sigma's semantics (case-insensitive strings, modifiers, `1 of`, `not`, `|re`, `|fieldref`).
//! Correlation rules (counting over time) are refused at load.

mod anchors;
pub mod builtin;
pub mod event;
pub mod finding;
pub mod load;
mod prefilter;
mod raw;
mod reading;
mod regex_literals;
mod requirement;

#[cfg(test)]
mod corpus_tests;
#[cfg(test)]
mod requirement_tests;

use crate::transform::TopLevel;
use rsigma_eval::CompiledRule;
use rsigma_parser::SigmaRule;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

pub use load::{load, LoadError, Skipped};

/// Where rules come from (`--rules`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuleSource {
    /// The pack we ship (`--rules builtin`).
    Builtin,
    /// A Sigma YAML file or a folder of them.
    Path(PathBuf),
}

impl std::str::FromStr for RuleSource {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(if s == "builtin" { RuleSource::Builtin } else { RuleSource::Path(PathBuf::from(s)) })
    }
}

/// A rule's severity, ordered from the least to the most severe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// `informational` (also a rule without a level).
    Informational,
    /// `low`.
    Low,
    /// `medium`.
    Medium,
    /// `high`.
    High,
    /// `critical`.
    Critical,
}

impl Level {
    /// Every level, least severe first (the index is [`Level::index`]).
    pub const ALL: [Level; 5] =
        [Level::Informational, Level::Low, Level::Medium, Level::High, Level::Critical];

    /// Sigma's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Informational => "informational",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }

    /// 0 (informational) to 4 (critical).
    pub fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Level {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Level::ALL
            .into_iter()
            .find(|l| l.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("{s:?} is not a Sigma level (informational, low, medium, high, critical)"))
    }
}

/// What a finding says about its rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleInfo {
    /// The rule's `id` (its title when it has none).
    pub id: String,
    /// `title`.
    pub title: String,
    /// `level`.
    pub level: Level,
    /// `tags` (MITRE ATT&CK `attack.*` among them).
    pub tags: Vec<String>,
    /// `author`: kept in every finding and alert (the Detection Rule License asks it).
    pub author: String,
    /// Where it was loaded from (`builtin:NAME` or a path).
    pub file: String,
}

/// The loaded rules, compiled.
pub struct Detector {
    prefilter: prefilter::Prefilter,
    /// Compiled rules, index-aligned with `rules`.
    compiled: Vec<CompiledRule>,
    rules: Vec<RuleInfo>,
    /// Each rule's part of a finding ([`finding::rule_json`]), index-aligned with `rules`.
    rule_json: Vec<String>,
}

impl Detector {
    pub(crate) fn new(parsed: &[SigmaRule], compiled: Vec<CompiledRule>, rules: Vec<RuleInfo>) -> Self {
        let rule_json = rules.iter().map(finding::rule_json).collect();
        Detector { prefilter: prefilter::Prefilter::new(parsed), compiled, rules, rule_json }
    }

    /// Rule `i`'s part of a finding, as JSON.
    pub fn rule_json(&self, i: usize) -> &str {
        &self.rule_json[i]
    }

    /// The rules, in load order (indexes of [`Detector::evaluate`]).
    pub fn rules(&self) -> &[RuleInfo] {
        &self.rules
    }

    /// Puts into `hits` the rules `raw` (one record, as CloudTrail wrote it and the transform
    /// accepted it) matches, in load order. Only the rules the prefilter leaves are asked.
    /// Nothing for an event that is not a JSON object; an evaluator failure on an odd event is
    /// contained (no hits, `Err`), so the event is still indexed.
    pub fn evaluate(&self, raw: &[u8], hits: &mut Vec<usize>) -> Result<(), Unevaluable> {
        hits.clear();
        let Some(view) = event::RecordView::new(raw) else { return Ok(()) };
        self.prefilter.candidates(raw, &view, hits);
        self.keep_matching(&view, hits)
    }

    /// [`Detector::evaluate`] on an event the transform walked, noting its top-level members in
    /// `top` ([`crate::transform::Transform::encode_top`]): its fields are looked up there.
    pub fn evaluate_walked(
        &self,
        raw: &[u8],
        top: &TopLevel,
        hits: &mut Vec<usize>,
    ) -> Result<(), Unevaluable> {
        hits.clear();
        let view = event::RecordView::walked(raw, top);
        self.prefilter.candidates(raw, &view, hits);
        self.keep_matching(&view, hits)
    }

    /// Keeps in `hits` the rules among them that match the event `view` shows.
    fn keep_matching(&self, view: &event::RecordView, hits: &mut Vec<usize>) -> Result<(), Unevaluable> {
        if hits.is_empty() {
            return Ok(());
        }
        let mut selections = Vec::new();
        let asked = catch_unwind(AssertUnwindSafe(|| {
            hits.retain(|&i| matches(&self.compiled[i], view, &mut selections))
        }));
        asked.map_err(|_| {
            hits.clear();
            Unevaluable
        })
    }

    /// [`Detector::evaluate`] without the prefilter: every rule asked about `raw`.
    #[cfg(test)]
    fn evaluate_every_rule(&self, raw: &[u8], hits: &mut Vec<usize>) -> Result<(), Unevaluable> {
        hits.clear();
        let Some(view) = event::RecordView::new(raw) else { return Ok(()) };
        hits.extend(0..self.rules.len());
        self.keep_matching(&view, hits)
    }
}

/// Whether `rule` matches: `rsigma_eval::evaluate_rule(rule, event).is_some()`, without the
/// result it builds for a match (the matched fields and values, the rule's title and tags
/// copied), which a finding does not use. Its conditions are OR-ed, each decided by the same
/// public condition evaluator `evaluate_rule` uses.
fn matches(rule: &CompiledRule, event: &event::RecordView, selections: &mut Vec<String>) -> bool {
    rule.conditions.iter().any(|c| {
        selections.clear();
        rsigma_eval::compiler::eval_condition(c, &rule.detections, event, selections)
    })
}

/// The evaluator failed on an event (it panicked); the event is indexed without findings.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("the Sigma evaluator failed on this event")]
pub struct Unevaluable;
