//! Transform: from one raw CloudTrail event to one document and its routing (id, day), or to
//! nothing when a filter drops it. How a document is framed for its destination (a `_bulk`
//! action line…) is the output's business.
//!
//! One pass over the event's bytes (`walk.rs`) validates it, applies redaction while copying it,
//! and notes the values the rest needs; then the filters decide (`filter.rs`, `console.rs`) and
//! the document is finished and routed (`document.rs`, `timestamp.rs`); with `--ecs` the finished
//! document is read back and its ECS fields (`ecs/`) are appended to it. Rules name fields with the
//! path syntax of `path.rs`, compiled together into one automaton (`matcher.rs`); JSON tokens are
//! read by `token.rs`; captured
//! values are read through `capture.rs`; redaction modes and presets are in `redact.rs`; where
//! each top-level member is, for readers of a few fields, is noted in `top.rs`.
//!
//! [`Transform`] is the whole step, built once from a [`TransformSpec`] and shared by the reader
//! threads.

mod account_names;
mod capture;
mod console;
mod document;
pub mod ecs;
mod filter;
mod glob;
pub mod keyword_copies;
mod long_values;
mod matcher;
mod noted;
mod path;
mod redact;
mod select;
mod timestamp;
mod token;
mod top;
mod walk;

pub use account_names::{AccountNames, AccountNamesError};
pub use console::console_query;
pub use document::{DocId, Encoded, EventProblem, Routing};
pub use filter::{FieldFilter, FilterError, Glob};
pub use matcher::TooComplex;
pub use noted::Noted;
pub use path::{FieldPath, PathError, Segment, Step};
pub use redact::{
    Condition, HashKey, KeyError, Preset, RedactError, RedactMode, RedactRule, CREDENTIAL_CONDITIONAL_FIELDS,
    CREDENTIAL_FIELDS,
};
pub use select::{Selection, Selectors};
pub use timestamp::Day;
pub use top::TopLevel;

use capture::{Found, Slots};
use filter::Filters;
use keyword_copies::Copies;
use matcher::Matcher;
use redact::Redactor;
use walk::Accept;

/// Capture slots the encoder always reads (the first paths of every plan, in this order).
const EVENT_ID: u16 = 0;
const EVENT_TIME: u16 = 1;
const TIMESTAMP: u16 = 2;
/// An aggregated event's id (`eventId`, lower-case d) and window start, its time.
const AGGREGATED_ID: u16 = 3;
const WINDOW_START: u16 = 4;
const BUILT_IN: [&str; 5] = ["eventID", "eventTime", "@timestamp", "eventId", "timeWindow.windowStart"];
/// CloudTrail's truncation flag, `"omitted": true` (captured, not protected: it may be redacted).
const OMITTED: u16 = 5;
/// The account whose name `--account-names` adds (an aggregated event's is `accountId`), and the
/// name field itself, which a (forged) event may already have.
const RECIPIENT_ACCOUNT: u16 = 6;
const ACCOUNT_ID: u16 = 7;
const ACCOUNT_NAME: u16 = 8;
/// The field `--account-names` adds.
pub const ACCOUNT_NAME_FIELD: &str = "recipientAccountName";

/// What to redact and what to keep, as given by flags (or, later, a config file).
#[derive(Debug, Default)]
pub struct TransformSpec {
    /// `--redact-preset`, applied before the rules.
    pub presets: Vec<Preset>,
    /// `--redact`, in order: the last rule that matches a field wins.
    pub redact: Vec<RedactRule>,
    /// The key for `hash`.
    pub key: Option<HashKey>,
    /// How a user gives the key (the flag and variable), for the error when a rule needs one.
    pub key_hint: String,
    /// `--include`.
    pub include: Vec<FieldFilter>,
    /// `--exclude`.
    pub exclude: Vec<FieldFilter>,
    /// `--console-only`.
    pub console_only: bool,
    /// `--ecs`: each document also carries its ECS fields (`ecs/`), for this data-stream
    /// namespace (`--ecs-namespace`).
    pub ecs: Option<String>,
    /// With `ecs`: the ECS fields include `event.ingested`, the time the event was encoded
    /// (off: `--ecs-no-ingested`).
    pub ecs_ingested: bool,
    /// Move the leaves of free-form objects too long for one term to `longValues`
    /// (`long_values.rs`): only for an engine that would refuse the document (OpenSearch). The
    /// wiring learns it from the cluster ([`Transform::move_long_values`]); off, the document is
    /// the event as written.
    pub move_long_values: bool,
    /// `--account-names`: each document whose account has a name gets `recipientAccountName`.
    pub account_names: AccountNames,
}

/// The rules cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TransformError {
    /// `hash` without a key.
    #[error("{rule} needs a secret key{hint}")]
    NoKey {
        /// The rule, as the user gave it.
        rule: String,
        /// How to give one, in the face's words (`: give …`), or empty.
        hint: String,
    },
    /// A rule would hide a field the document's name depends on.
    #[error("{rule} would redact {field}, which gives each document its _id, index day or @timestamp; it cannot be redacted")]
    Protected {
        /// The flag and rule.
        rule: String,
        /// `eventID`, `eventTime`, `@timestamp`, `eventId` or `timeWindow.windowStart`.
        field: &'static str,
    },
    /// A rule hides the account id whose name `--account-names` would show.
    #[error("{rule} hides the account id, whose name --account-names would show: give one or the other")]
    NamedAccountRedacted {
        /// The flag and rule.
        rule: String,
    },
    /// Too many interleaved wildcards.
    #[error(transparent)]
    TooComplex(#[from] TooComplex),
}

/// What became of an event read for its noted values ([`Transform::encode_noted`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Noting<'r> {
    /// Kept.
    Kept {
        /// Its day (and time).
        day: Day,
        /// The event as the text the walk checked it to be, when the values are read from it
        /// (nothing redacted): for [`Noted::texts`], which then need not check it again.
        event: Option<&'r str>,
    },
    /// A filter dropped it.
    Filtered,
}

/// The compiled rules.
pub(crate) struct Plan {
    matcher: Matcher<Accept>,
    redactor: Redactor,
    filters: Filters,
    /// The ECS namespace, when documents carry ECS fields.
    ecs: Option<String>,
    /// Fields noted for [`Transform::encode_noted`].
    notes: Option<noted::Notes>,
    /// The ECS fields include `event.ingested`.
    ecs_ingested: bool,
    /// See [`TransformSpec::move_long_values`].
    move_long_values: bool,
    /// See [`TransformSpec::account_names`].
    account_names: AccountNames,
    /// The keyword copies for OpenSearch (`keyword_copies.rs`), when on.
    copies: Option<Copies>,
}

/// The transform step: see the module docs.
pub struct Transform {
    plan: Plan,
    redacts: bool,
    /// The rules and captured paths the matcher was compiled from, to compile it again when the
    /// keyword copies are switched on.
    rules: Vec<RedactRule>,
    slots: Slots,
}

impl Transform {
    /// Compiles the rules.
    pub fn new(spec: TransformSpec) -> Result<Self, TransformError> {
        Transform::build(spec, &[], &[])
    }

    /// Compiles the rules, and notes the values of `fields` (dotted paths) in each kept document
    /// for [`Transform::encode_noted`]; `later` (dotted paths) are read only on request, by
    /// [`Transform::later_texts`]: for fields only some events need (the walk of every event then
    /// need not go into the objects that hold them).
    pub fn noting(spec: TransformSpec, fields: &[&str], later: &[&str]) -> Result<Self, TransformError> {
        Transform::build(spec, fields, later)
    }

    fn build(spec: TransformSpec, fields: &[&str], later: &[&str]) -> Result<Self, TransformError> {
        // Each rule with the flag that gave it, for error messages.
        let mut rules: Vec<(String, RedactRule)> = Vec::new();
        for preset in &spec.presets {
            let flag = format!("--redact-preset {preset}");
            rules.extend(preset.rules().into_iter().map(|r| (flag.clone(), r)));
        }
        rules.extend(spec.redact.iter().map(|r| (format!("--redact {r}"), r.clone())));
        if spec.key.is_none() {
            if let Some((flag, _)) = rules.iter().find(|(_, r)| r.mode == RedactMode::Hash) {
                let hint =
                    if spec.key_hint.is_empty() { String::new() } else { format!(": {}", spec.key_hint) };
                return Err(TransformError::NoKey { rule: flag.clone(), hint });
            }
        }
        for (flag, rule) in &rules {
            // `hides`: a rule on `timeWindow` hides `timeWindow.windowStart` too.
            if let Some(field) = BUILT_IN.iter().find(|f| rule.path.hides(&[path::Step::Key(f)])) {
                return Err(TransformError::Protected { rule: flag.clone(), field });
            }
        }
        let mut slots = Slots::default();
        for field in BUILT_IN {
            slots.named(field);
        }
        let omitted = slots.named("omitted");
        debug_assert_eq!(omitted, OMITTED);
        for (field, slot) in [
            ("recipientAccountId", RECIPIENT_ACCOUNT),
            ("accountId", ACCOUNT_ID),
            (ACCOUNT_NAME_FIELD, ACCOUNT_NAME),
        ] {
            let named = slots.named(field);
            debug_assert_eq!(named, slot);
        }
        if !spec.account_names.is_empty() {
            let hides = |r: &RedactRule| {
                ["recipientAccountId", "accountId"].iter().any(|f| r.path.hides(&[path::Step::Key(f)]))
            };
            if let Some((flag, _)) = rules.iter().find(|(_, r)| hides(r)) {
                return Err(TransformError::NamedAccountRedacted { rule: flag.clone() });
            }
        }
        let filters = Filters::new(&spec.include, &spec.exclude, spec.console_only, &mut slots);
        let rules: Vec<RedactRule> = rules.into_iter().map(|(_, r)| r).collect();
        let notes = if fields.is_empty() && later.is_empty() {
            None
        } else {
            Some(noted::Notes::new(fields, later, &mut slots, !rules.is_empty())?)
        };
        let plan = Plan {
            matcher: plan_matcher(&rules, &slots)?,
            redactor: Redactor { key: spec.key },
            filters,
            ecs: spec.ecs,
            notes,
            ecs_ingested: spec.ecs_ingested,
            move_long_values: spec.move_long_values,
            account_names: spec.account_names,
            copies: None,
        };
        Ok(Transform { plan, redacts: !rules.is_empty(), rules, slots })
    }

    /// Adds to each document the keyword copies of the request/response leaves OpenSearch
    /// Security Analytics reads (`keyword_copies.rs`): set by the wiring when the documents go to
    /// OpenSearch. Elasticsearch and files get the event as written.
    pub fn copy_keyword_leaves(&mut self) -> Result<(), TransformError> {
        if self.plan.copies.is_none() {
            let copies = Copies::new(&mut self.slots);
            self.plan.matcher = plan_matcher(&self.rules, &self.slots)?;
            self.plan.copies = Some(copies);
        }
        Ok(())
    }

    /// True when documents get the keyword copies.
    pub fn copies_keyword_leaves(&self) -> bool {
        self.plan.copies.is_some()
    }

    /// No redaction, no filter: every valid event is written.
    pub fn plain() -> Self {
        Transform::new(TransformSpec::default()).expect("the built-in paths always compile")
    }

    /// True when some redaction rule is active.
    pub fn redacts(&self) -> bool {
        self.redacts
    }

    /// True when documents carry their ECS fields (`--ecs`).
    pub fn ecs(&self) -> bool {
        self.plan.ecs.is_some()
    }

    /// Moves too-long leaves to `longValues` (`on`) or leaves documents as written: set by the
    /// wiring once it knows the engine the documents go to (OpenSearch's `flat_object` refuses
    /// them; Elasticsearch and files take the event as written).
    pub fn move_long_values(&mut self, on: bool) {
        self.plan.move_long_values = on;
    }

    /// True when too-long leaves are moved to `longValues`.
    pub fn moves_long_values(&self) -> bool {
        self.plan.move_long_values
    }

    /// True when some filter is active.
    pub fn filters(&self) -> bool {
        !self.plan.filters.is_empty()
    }

    /// Appends the document for `raw` to `out` (or nothing, for a filtered event) and says where
    /// it goes. On error `out` is unchanged.
    pub fn encode<'r>(&self, raw: &'r [u8], out: &mut Vec<u8>) -> Result<Encoded<'r>, EventProblem> {
        document::encode(&self.plan, raw, out, &mut Found::default(), None)
    }

    /// [`Transform::encode`], noting in `top` where each top-level member of `raw` and of its
    /// document is (`top.rs`): for readers of a few fields (the Sigma rules, their findings).
    pub fn encode_top<'r>(
        &self,
        raw: &'r [u8],
        out: &mut Vec<u8>,
        top: &mut TopLevel,
    ) -> Result<Encoded<'r>, EventProblem> {
        document::encode(&self.plan, raw, out, &mut Found::default(), Some(top))
    }

    /// What [`Transform::encode`] decides for `raw` (the same problems, the same events
    /// filtered), and for a kept event, the values of the fields given to [`Transform::noting`]
    /// in `noted` (read them with [`Noted::text`]; unchanged otherwise). The document is only
    /// written (to `out`) when something is redacted, for the values to be read from it; else
    /// they are read from `raw` and nothing is copied.
    pub fn encode_noted<'r>(
        &self,
        raw: &'r [u8],
        out: &mut Vec<u8>,
        noted: &mut Noted,
    ) -> Result<Noting<'r>, EventProblem> {
        let start = out.len();
        noted.found.clear();
        let kept = if self.redacts {
            match document::encode(&self.plan, raw, out, &mut noted.found, None)? {
                Encoded::Document(routing) => Some((routing.day, None)),
                Encoded::Filtered => None,
            }
        } else {
            document::check(&self.plan, raw, &mut noted.found)?.map(|(day, text)| (day, Some(text)))
        };
        let Some((day, event)) = kept else { return Ok(Noting::Filtered) };
        if let Some(notes) = &self.plan.notes {
            notes.note(raw, event, out, start, noted);
        }
        Ok(Noting::Kept { day, event })
    }

    /// The fields given as `later` to [`Transform::noting`] of the event last encoded with
    /// [`Transform::encode_noted`] into `noted` (`raw` and `out` as given to it), as
    /// [`Noted::texts`] reads the others: by a walk of their own over the event (or its redacted
    /// document), made now.
    pub fn later_texts<'a>(
        &self,
        raw: &'a [u8],
        out: &'a [u8],
        noted: &mut Noted,
        into: &mut [Option<std::borrow::Cow<'a, str>>],
    ) {
        match &self.plan.notes {
            Some(notes) => notes.later(raw, out, noted, into),
            None => into.fill(None),
        }
    }

    /// The event as it may be kept in a dead letter when redaction is on: its redacted, compact
    /// document, or `None` when it cannot be redacted reliably (not a valid JSON object). Without
    /// redaction rules, the event unchanged.
    pub fn redacted(&self, raw: &[u8]) -> Option<Vec<u8>> {
        if !self.redacts {
            return Some(raw.to_vec());
        }
        let mut out = Vec::with_capacity(raw.len());
        let p = &self.plan;
        walk::rewrite(raw, &p.matcher, &p.redactor, &mut out, &mut Found::default()).ok()?;
        Some(out)
    }
}

/// The automaton for redaction rules plus captured paths. Payloads: the last matching rule's mode
/// (rules are indexes `0..rules.len()`), and the slots of the captured paths ending there.
fn plan_matcher(rules: &[RedactRule], slots: &Slots) -> Result<Matcher<Accept>, TooComplex> {
    walk::compile(rules, slots.paths())
}

#[cfg(test)]
mod tests;
