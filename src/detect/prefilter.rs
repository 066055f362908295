//! A byte-level test that rules out most events before the Sigma evaluator sees them.
//!
//! Why: splitting every event into fields and asking 57 rules about it costs more than the rest
//! of the pipeline's work on that event, while almost every rule names the API call it is about
//! (`eventName: StopLogging`), so most events cannot match any rule. From each rule's detection
//! and condition we take a set of *anchors*: strings of which at least one occurs in the text of
//! every event the rule matches. The anchors of all rules are searched in the event's bytes in
//! one pass (ASCII case folded, as Sigma compares); only the rules whose anchors occur are
//! evaluated, and an event with none is not split into fields at all. A rule without such a set (a number, `not` alone, a regular expression without a literal…) makes every event a
//! candidate: the filter never decides a match, it only skips events that cannot match.
//!
//! Why an anchor must occur in the bytes: a value the evaluator compares is a JSON string,
//! number or boolean of the event, or an object shown as its text (`event.rs`). An anchor holds
//! only ASCII letters, digits and `.`, `-`, `_`, `@`, `=`, `+`, `%`, `#`, `:`, `/`: characters
//! JSON writes as they are, unless the writer used `\u` escapes or `\/`: an event that contains
//! either anywhere is always evaluated. Numbers, `null`, booleans and every
//! modifier that transforms the value (`base64`, `cidr`, `fieldref`, comparisons…) give no
//! anchor. A wildcard value contributes its longest plain piece; a `|re` value, the longest piece
//! of what its pattern requires (`regex_literals.rs`).

use super::regex_literals;
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use rsigma_parser::{
    ConditionExpr, Detection, DetectionItem, Detections, Modifier, SelectorPattern, SigmaRule, SigmaValue,
    StringPart,
};

/// Shorter anchors would pass too many events to be worth the test.
const MIN_ANCHOR: usize = 3;

/// Which rules an event can match.
pub struct Prefilter {
    /// The anchors of every anchored rule, in one automaton (ASCII case folded).
    anchors: AhoCorasick,
    /// For each anchor (by pattern index), the rules it stands for.
    rules_of: Vec<Vec<usize>>,
    /// Rules without anchors: candidates for every event.
    always: Vec<usize>,
    /// How many rules there are.
    count: usize,
}

impl Prefilter {
    /// The filter for a rule set (indexes are positions in `rules`).
    pub fn new(rules: &[SigmaRule]) -> Prefilter {
        let mut texts: Vec<String> = Vec::new();
        let mut rules_of: Vec<Vec<usize>> = Vec::new();
        let mut always = Vec::new();
        for (i, rule) in rules.iter().enumerate() {
            let Some(set) = rule_anchors(rule) else {
                always.push(i);
                continue;
            };
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
                // Only a size limit can refuse the build: then every rule is a candidate.
                always = (0..rules.len()).collect();
                rules_of.clear();
                AhoCorasick::new(Vec::<String>::new()).expect("an empty automaton builds")
            });
        Prefilter { anchors, rules_of, always, count: rules.len() }
    }

    /// Puts into `out` the rules that may match `raw` (one record as CloudTrail wrote it), in
    /// order; the others cannot.
    pub fn candidates(&self, raw: &[u8], out: &mut Vec<usize>) {
        out.clear();
        if memchr::memmem::find(raw, b"\\u").is_some() || memchr::memmem::find(raw, b"\\/").is_some() {
            out.extend(0..self.count);
            return;
        }
        out.extend_from_slice(&self.always);
        for m in self.anchors.find_overlapping_iter(raw) {
            out.extend_from_slice(&self.rules_of[m.pattern().as_usize()]);
        }
        out.sort_unstable();
        out.dedup();
    }

    /// False only when no rule can match `raw`.
    #[cfg(test)]
    pub fn may_match(&self, raw: &[u8]) -> bool {
        let mut out = Vec::new();
        self.candidates(raw, &mut out);
        !out.is_empty()
    }

    /// Whether the filter skips anything at all (every rule has anchors).
    #[cfg(test)]
    pub fn is_selective(&self) -> bool {
        self.always.is_empty()
    }
}

/// One string that must occur, and how much it narrows (higher is better).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Anchor {
    text: String,
    rank: (u8, usize),
}

/// A set of anchors of which one occurs in every event matching the expression; `None`: unknown.
type Set = Option<Vec<Anchor>>;

/// The anchors of a rule: those of its first condition's expression (Sigma's conditions are OR-ed,
/// so all of them must have anchors).
fn rule_anchors(rule: &SigmaRule) -> Set {
    let d = &rule.detection;
    let mut out = Vec::new();
    for c in &d.conditions {
        out.extend(condition(c, d, 16)?);
    }
    (!out.is_empty()).then_some(out)
}

fn condition(c: &ConditionExpr, d: &Detections, depth: usize) -> Set {
    if depth == 0 {
        return None;
    }
    match c {
        ConditionExpr::And(parts) => best(parts.iter().map(|p| condition(p, d, depth - 1))),
        ConditionExpr::Or(parts) => union(parts.iter().map(|p| condition(p, d, depth - 1))),
        ConditionExpr::Not(_) => None,
        ConditionExpr::Identifier(name) => detection(d.named.get(name)?, depth - 1),
        ConditionExpr::Selector { quantifier, pattern } => {
            let named = d.named.iter().filter(|(n, _)| selects(pattern, n)).map(|(_, x)| x);
            let sets = named.map(|x| detection(x, depth - 1));
            match quantifier {
                rsigma_parser::Quantifier::All => best(sets),
                // `1 of` or `N of`: one of them at least.
                _ => union(sets),
            }
        }
    }
}

/// Whether a selector pattern (`selection_*`, `them`) names a detection.
/// Conservative: a name counts when it might be selected (`them` is every detection).
fn selects(pattern: &SelectorPattern, name: &str) -> bool {
    match pattern {
        SelectorPattern::Them => true,
        SelectorPattern::Pattern(p) => glob(p.as_bytes(), name.as_bytes()),
    }
}

/// `*` (any run) and `?` (one character) wildcards.
fn glob(p: &[u8], s: &[u8]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some((b'*', rest)) => (0..=s.len()).any(|i| glob(rest, &s[i..])),
        Some((b'?', rest)) => !s.is_empty() && glob(rest, &s[1..]),
        Some((c, rest)) => s.first() == Some(c) && glob(rest, &s[1..]),
    }
}

fn detection(x: &Detection, depth: usize) -> Set {
    if depth == 0 {
        return None;
    }
    match x {
        Detection::AllOf(items) => best(items.iter().map(item)),
        Detection::AnyOf(list) => union(list.iter().map(|x| detection(x, depth - 1))),
        Detection::Keywords(values) => union(values.iter().map(|v| value(v, 1))),
        Detection::And(list) => best(list.iter().map(|x| detection(x, depth - 1))),
        Detection::ArrayMatch { .. } | Detection::Conditional { .. } => None,
    }
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
    let sets = i.values.iter().map(|v| if regex { pattern(v, rank) } else { value(v, rank) });
    if i.field.has_modifier(All) {
        best(sets)
    } else {
        union(sets)
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

/// Every part must hold: the one whose anchors narrow most will do.
fn best(sets: impl Iterator<Item = Set>) -> Set {
    sets.flatten().filter(|s| !s.is_empty()).max_by_key(|s| {
        let weakest = s.iter().map(|a| a.rank).min().unwrap_or((0, 0));
        (weakest, std::cmp::Reverse(s.len()))
    })
}

/// One of the parts must hold: all their anchors, or none known if one part has none.
fn union(sets: impl Iterator<Item = Set>) -> Set {
    let mut out = Vec::new();
    for s in sets {
        out.extend(s?);
    }
    (!out.is_empty()).then_some(out)
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
        let f = Prefilter::new(&rule(
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
        let f = Prefilter::new(&rule(
            "  a:\n    eventName: CreateUser\n  b:\n    requestParameters|contains: 'Suspended'\n  filter:\n    eventName: Ignored\n  condition: (a or b) and not filter\n",
        ));
        assert!(f.may_match(br#"{"eventName":"CreateUser"}"#));
        assert!(f.may_match(br#"{"requestParameters":{"Status":"Suspended"}}"#));
        assert!(!f.may_match(br#"{"eventName":"Ignored"}"#));
    }

    #[test]
    fn quoted_fragments_and_wildcards_anchor_on_their_longest_plain_piece() {
        let f = Prefilter::new(&rule(
            "  selection:\n    requestParameters|contains: '\"Effect\":\"Allow\"'\n  condition: selection\n",
        ));
        // The embedded policy is an escaped string in the event: the quotes differ, the word does not.
        assert!(f.may_match(br#"{"requestParameters":{"policy":"{\"Effect\": \"Allow\"}"}}"#));
        assert!(!f.may_match(br#"{"requestParameters":{"policy":"{}"}}"#));
        let f = Prefilter::new(&rule(
            "  selection:\n    userIdentity.arn|re: '.+:assumed-role/aws:.+'\n  condition: selection\n",
        ));
        assert!(
            f.may_match(br#"{"userIdentity":{"arn":"arn:aws:sts::1:assumed-role/aws:ec2-instance/i-1"}}"#)
        );
        assert!(!f.may_match(br#"{"userIdentity":{"arn":"arn:aws:sts::1:assumed-role/admin/jane"}}"#));
        let f =
            Prefilter::new(&rule("  selection:\n    userAgent: '*Boto3Agent?x*'\n  condition: selection\n"));
        assert!(f.may_match(br#"{"userAgent":"my boto3agent/x"}"#));
        assert!(!f.may_match(br#"{"userAgent":"curl"}"#));
    }

    #[test]
    fn a_rule_without_anchors_makes_every_event_a_candidate() {
        for detection in [
            "  selection:\n    eventName|re: '[A-Z]t.*'\n  condition: selection\n",
            "  filter:\n    eventName: A1234\n  condition: not filter\n",
            "  selection:\n    errorCode: 42\n  condition: selection\n",
            "  selection:\n    eventName: [CreateUser, null]\n  condition: selection\n",
            "  a:\n    eventName: CreateUser\n  b:\n    eventName|base64: x\n  condition: 1 of them\n",
        ] {
            let f = Prefilter::new(&rule(detection));
            assert!(!f.is_selective(), "{detection}");
            assert!(rule_anchors(&rule(detection)[0]).is_none(), "{detection}");
            assert!(f.may_match(b"{}"));
        }
    }

    /// Names the bundled rules the filter cannot narrow (the corpus test requires none).
    #[test]
    fn every_bundled_rule_has_anchors() {
        let unanchored: Vec<&str> = crate::detect::builtin::RULES
            .iter()
            .filter(|(_, text)| rules(text).iter().any(|r| rule_anchors(r).is_none()))
            .map(|(name, _)| *name)
            .collect();
        assert!(unanchored.is_empty(), "{unanchored:?}");
    }

    #[test]
    fn selectors_and_all_modifiers() {
        let f = Prefilter::new(&rule(
            "  sel_a:\n    eventName: PutBucketPolicy\n  sel_b:\n    eventName|contains|all: [Get, Object]\n  condition: 1 of sel_*\n",
        ));
        assert!(f.may_match(br#"{"eventName":"PutBucketPolicy"}"#));
        assert!(f.may_match(br#"{"eventName":"GetObjectAcl"}"#));
        assert!(!f.may_match(br#"{"eventName":"ListBuckets"}"#));
        assert!(glob(b"sel_*", b"sel_b") && glob(b"s?l*", b"sel") && !glob(b"sel_a", b"sel_b"));
    }
}
