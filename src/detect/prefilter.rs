//! The test that rules out most events before the Sigma evaluator sees them.
//!
//! Why: asking 57 rules about every event costs more than the rest of the pipeline's work on
//! it, while almost every rule names the API call it is about (`eventName: StopLogging`), so most
//! events cannot match any rule. The filter never decides a match, it only skips the rules that
//! cannot match; it reads each rule's detection and condition (`reading.rs`) in one of two ways:
//!
//! - *requirements* (`requirement.rs`): a field and a test of which one passes in every event the
//!   rule matches (`eventName` is `StopLogging` or `DeleteTrail`). The fields are read from the
//!   event where the evaluator reads them (`RecordView::leaves`), the `eventName` rules found by
//!   one hash lookup. Every bundled rule has requirements.
//! - otherwise *anchors*: strings of which at least one occurs in the text of every event the
//!   rule matches, searched in the event's bytes in one pass (ASCII case folded, as Sigma
//!   compares; read from the rule by `anchors.rs`). A rule with neither (a number, `not` alone,
//!   a regular expression without a literal…) is asked about every event.
//!
use super::anchors::rule_anchors;
use super::event::RecordView;
use super::reading::{read, Leaves};
use super::requirement::{self, Fnv, Requirement, Test};
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use rsigma_parser::SigmaRule;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;

thread_local! {
    /// A reader thread's room for the value a requirement judges, lower-cased: kept from one
    /// event to the next rather than allocated for each.
    static JUDGED: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// Which rules an event can match.
pub struct Prefilter {
    /// Rules with requirements (`requirement.rs`), by the field they test.
    fields: Vec<FieldIndex>,
    /// The anchors of every anchored rule, in one automaton (ASCII case folded).
    anchors: AhoCorasick,
    /// For each anchor (by pattern index), the rules it stands for.
    rules_of: Vec<Vec<usize>>,
    /// The rules found by their anchors.
    anchored: Vec<usize>,
    /// Rules without requirements or anchors: candidates for every event.
    always: Vec<usize>,
}

/// The requirements on one field.
struct FieldIndex {
    field: String,
    /// `Equals` requirements: the rules that need each (lower-cased) value.
    equals: HashMap<String, Vec<usize>, BuildHasherDefault<Fnv>>,
    /// The lengths of `equals`' values: bit `n` for a length `n` under 64, bit 63 for any longer.
    /// A value of another length is not looked up (hashing a long user agent costs more than
    /// the rest of the test).
    lengths: u64,
    /// The other tests, each with its rule.
    others: Vec<(Requirement, usize)>,
    /// Every rule with a requirement here: the candidates when a value cannot be judged.
    all: Vec<usize>,
}

impl Prefilter {
    /// The filter for a rule set (indexes are positions in `rules`).
    pub fn new(rules: &[SigmaRule]) -> Prefilter {
        Prefilter::build(rules, true)
    }

    /// The filter that finds every rule by its anchors (the fallback for rules without
    /// requirements), to test that part alone.
    #[cfg(test)]
    pub fn by_anchors(rules: &[SigmaRule]) -> Prefilter {
        Prefilter::build(rules, false)
    }

    fn build(rules: &[SigmaRule], requirements: bool) -> Prefilter {
        let mut fields: Vec<FieldIndex> = Vec::new();
        let mut texts: Vec<String> = Vec::new();
        let mut rules_of: Vec<Vec<usize>> = Vec::new();
        let (mut anchored, mut always) = (Vec::new(), Vec::new());
        for (i, rule) in rules.iter().enumerate() {
            if let Some(set) = rule_requirements(rule).filter(|_| requirements) {
                for r in set {
                    let at = match fields.iter().position(|f| f.field == r.field) {
                        Some(at) => at,
                        None => {
                            let (equals, others, all) = (HashMap::default(), Vec::new(), Vec::new());
                            let field = r.field.clone();
                            fields.push(FieldIndex { field, equals, lengths: 0, others, all });
                            fields.len() - 1
                        }
                    };
                    let f = &mut fields[at];
                    if !f.all.contains(&i) {
                        f.all.push(i);
                    }
                    if r.test == Test::Equals {
                        f.lengths |= length_bit(r.text.len());
                        let rules = f.equals.entry(r.text).or_default();
                        if !rules.contains(&i) {
                            rules.push(i);
                        }
                    } else {
                        f.others.push((r, i));
                    }
                }
                continue;
            }
            let Some(set) = rule_anchors(rule) else {
                always.push(i);
                continue;
            };
            anchored.push(i);
            for anchor in set {
                let folded = anchor.text.to_ascii_lowercase();
                match texts.iter().position(|t| *t == folded) {
                    Some(at) if !rules_of[at].contains(&i) => rules_of[at].push(i),
                    Some(_) => {}
                    None => {
                        texts.push(folded);
                        rules_of.push(vec![i]);
                    }
                }
            }
        }
        let anchors = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(&texts)
            .unwrap_or_else(|_| {
                // Only a size limit can refuse the build: then every anchored rule is a candidate.
                always.append(&mut anchored);
                rules_of.clear();
                AhoCorasick::new(Vec::<String>::new()).expect("an empty automaton builds")
            });
        Prefilter { fields, anchors, rules_of, anchored, always }
    }

    /// Puts into `out` the rules that may match `raw` (one record as CloudTrail wrote it, whose
    /// fields `view` reads), in order; the others cannot.
    pub fn candidates(&self, raw: &[u8], view: &RecordView, out: &mut Vec<usize>) {
        out.clear();
        out.extend_from_slice(&self.always);
        JUDGED.with(|buf| match buf.try_borrow_mut() {
            Ok(mut buf) => self.by_requirements(view, &mut buf, out),
            // Only this function borrows it, and it does not call itself.
            Err(_) => self.by_requirements(view, &mut String::new(), out),
        });
        if !self.anchored.is_empty() {
            if memchr::memmem::find(raw, b"\\u").is_some() || memchr::memmem::find(raw, b"\\/").is_some() {
                out.extend_from_slice(&self.anchored);
            } else {
                for m in self.anchors.find_overlapping_iter(raw) {
                    out.extend_from_slice(&self.rules_of[m.pattern().as_usize()]);
                }
            }
        }
        out.sort_unstable();
        out.dedup();
    }

    /// Adds to `out` the rules whose requirements the event `view` shows may pass (`buf`: room
    /// for a value lower-cased).
    fn by_requirements(&self, view: &RecordView, buf: &mut String, out: &mut Vec<usize>) {
        for f in &self.fields {
            view.leaves(&f.field, &mut |leaf| {
                let Some(value) = requirement::judged(leaf, buf) else {
                    out.extend_from_slice(&f.all);
                    return;
                };
                if f.lengths & length_bit(value.len()) != 0 {
                    if let Some(rules) = f.equals.get(value) {
                        out.extend_from_slice(rules);
                    }
                }
                out.extend(f.others.iter().filter(|(r, _)| r.passes(value)).map(|&(_, i)| i));
            });
        }
    }

    /// False only when no rule can match `raw`.
    #[cfg(test)]
    pub fn may_match(&self, raw: &[u8]) -> bool {
        let mut out = Vec::new();
        let Some(view) = RecordView::new(raw) else { return false };
        self.candidates(raw, &view, &mut out);
        !out.is_empty()
    }

    /// Whether the filter skips anything at all (every rule has requirements or anchors).
    #[cfg(test)]
    pub fn is_selective(&self) -> bool {
        self.always.is_empty()
    }

    /// Whether no event is searched for anchors (every rule has requirements).
    #[cfg(test)]
    pub fn reads_fields_only(&self) -> bool {
        self.always.is_empty() && self.anchored.is_empty()
    }
}

/// A text length's bit in [`FieldIndex::lengths`].
fn length_bit(len: usize) -> u64 {
    1 << len.min(63)
}

const REQUIREMENTS: Leaves<Requirement> = Leaves {
    item: requirement::item,
    keywords: |_| None,
    rank: |r| {
        let (field, test, len) = r.rank();
        (field, test as usize, len)
    },
};

/// The requirements of a rule, read as its anchors are.
fn rule_requirements(rule: &SigmaRule) -> Option<Vec<Requirement>> {
    read(rule, &REQUIREMENTS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsigma_parser::parse_sigma_yaml;

    fn rules(yaml: &str) -> Vec<SigmaRule> {
        parse_sigma_yaml(yaml).expect("parses").rules
    }

    fn rule(detection: &str) -> Vec<SigmaRule> {
        rules(&format!("title: t\nlogsource: {{product: aws, service: cloudtrail}}\ndetection:\n{detection}"))
    }

    #[test]
    fn an_event_without_any_anchor_is_skipped() {
        let f = Prefilter::by_anchors(&rule(
            "  selection:\n    eventSource: cloudtrail.amazonaws.com\n    eventName: [StopLogging, DeleteTrail]\n  condition: selection\n",
        ));
        assert!(f.is_selective());
        assert!(f.may_match(br#"{"eventSource":"cloudtrail.amazonaws.com","eventName":"stoplogging"}"#));
        assert!(f.may_match(br#"{"eventName":"DeleteTrail"}"#));
        // eventName narrows more than eventSource: that is the anchor kept.
        assert!(!f.may_match(br#"{"eventSource":"cloudtrail.amazonaws.com","eventName":"LookupEvents"}"#));
        // \u escapes could hide an anchor: always evaluated.
        assert!(f.may_match(br#"{"eventName":"\u0053topLogging"}"#));
    }

    #[test]
    fn or_takes_every_branch_and_not_adds_nothing() {
        let f = Prefilter::by_anchors(&rule(
            "  a:\n    eventName: CreateUser\n  b:\n    requestParameters|contains: 'Suspended'\n  filter:\n    eventName: Ignored\n  condition: (a or b) and not filter\n",
        ));
        assert!(f.may_match(br#"{"eventName":"CreateUser"}"#));
        assert!(f.may_match(br#"{"requestParameters":{"Status":"Suspended"}}"#));
        assert!(!f.may_match(br#"{"eventName":"Ignored"}"#));
    }

    #[test]
    fn quoted_fragments_and_wildcards_anchor_on_their_longest_plain_piece() {
        let f = Prefilter::by_anchors(&rule(
            "  selection:\n    requestParameters|contains: '\"Effect\":\"Allow\"'\n  condition: selection\n",
        ));
        // The embedded policy is an escaped string in the event: the quotes differ, the word does not.
        assert!(f.may_match(br#"{"requestParameters":{"policy":"{\"Effect\": \"Allow\"}"}}"#));
        assert!(!f.may_match(br#"{"requestParameters":{"policy":"{}"}}"#));
        let f = Prefilter::by_anchors(&rule(
            "  selection:\n    userIdentity.arn|re: '.+:assumed-role/aws:.+'\n  condition: selection\n",
        ));
        assert!(
            f.may_match(br#"{"userIdentity":{"arn":"arn:aws:sts::1:assumed-role/aws:ec2-instance/i-1"}}"#)
        );
        assert!(!f.may_match(br#"{"userIdentity":{"arn":"arn:aws:sts::1:assumed-role/admin/jane"}}"#));
        let f = Prefilter::by_anchors(&rule(
            "  selection:\n    userAgent: '*Boto3Agent?x*'\n  condition: selection\n",
        ));
        assert!(f.may_match(br#"{"userAgent":"my boto3agent/x"}"#));
        assert!(!f.may_match(br#"{"userAgent":"curl"}"#));
    }

    #[test]
    fn a_rule_without_anchors_makes_every_event_a_candidate() {
        for detection in [
            "  selection:\n    eventName|re: '[A-Z].*'\n  condition: selection\n",
            "  filter:\n    eventName: A1234\n  condition: not filter\n",
            "  selection:\n    errorCode: 42\n  condition: selection\n",
            "  selection:\n    eventName: [CreateUser, null]\n  condition: selection\n",
            "  a:\n    eventName: CreateUser\n  b:\n    eventName|base64: x\n  condition: 1 of them\n",
        ] {
            let f = Prefilter::by_anchors(&rule(detection));
            assert!(!f.is_selective(), "{detection}");
            assert!(rule_anchors(&rule(detection)[0]).is_none(), "{detection}");
            assert!(rule_requirements(&rule(detection)[0]).is_none(), "{detection}");
            assert!(!Prefilter::new(&rule(detection)).is_selective(), "{detection}");
            assert!(f.may_match(b"{}"));
        }
    }

    /// Names the bundled rules the filter cannot narrow by anchors (which would make it search
    /// every event for them) or by requirements (the corpus test requires them all).
    #[test]
    fn every_bundled_rule_has_anchors_and_requirements() {
        let unread: Vec<&str> = crate::detect::builtin::RULES
            .iter()
            .filter(|(_, text)| rules(text).iter().any(|r| rule_requirements(r).is_none()))
            .map(|(name, _)| *name)
            .collect();
        assert!(unread.is_empty(), "{unread:?}");
        let unanchored: Vec<&str> = crate::detect::builtin::RULES
            .iter()
            .filter(|(_, text)| rules(text).iter().any(|r| rule_anchors(r).is_none()))
            .map(|(name, _)| *name)
            .collect();
        assert!(unanchored.is_empty(), "{unanchored:?}");
    }

    #[test]
    fn selectors_and_all_modifiers() {
        let f = Prefilter::by_anchors(&rule(
            "  sel_a:\n    eventName: PutBucketPolicy\n  sel_b:\n    eventName|contains|all: [Get, Object]\n  condition: 1 of sel_*\n",
        ));
        assert!(f.may_match(br#"{"eventName":"PutBucketPolicy"}"#));
        assert!(f.may_match(br#"{"eventName":"GetObjectAcl"}"#));
        assert!(!f.may_match(br#"{"eventName":"ListBuckets"}"#));
    }
}
