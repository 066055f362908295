//! How a rule's detection is read for what every event it matches must have: strings that occur
//! in its bytes (anchors, `prefilter.rs`) or tests a field's value passes (requirements,
//! `requirement.rs`). Both are read the same way: a set of which at least one holds, `None` when
//! nothing is known. Parts that must all hold (`and`, a selection's fields, `all of`) need only
//! one part's set: the one that narrows most; parts of which one holds (`or`, `1 of`, a list of
//! values) need the union of all their sets; `not` gives nothing.

use rsigma_parser::{
    ConditionExpr, Detection, DetectionItem, Detections, SelectorPattern, SigmaRule, SigmaValue,
};

/// What a rule's detection is read for: the strings (anchors) or field tests (requirements) of
/// which one holds in every event it matches.
pub struct Leaves<T> {
    pub item: fn(&DetectionItem) -> Option<Vec<T>>,
    pub keywords: fn(&[SigmaValue]) -> Option<Vec<T>>,
    pub rank: fn(&T) -> (u8, usize, usize),
}

/// The set of a rule: its conditions' (Sigma's conditions are OR-ed, so all need one).
pub fn read<T>(rule: &SigmaRule, leaves: &Leaves<T>) -> Option<Vec<T>> {
    let d = &rule.detection;
    let mut out = Vec::new();
    for c in &d.conditions {
        out.extend(condition(c, d, 16, leaves)?);
    }
    (!out.is_empty()).then_some(out)
}

fn condition<T>(c: &ConditionExpr, d: &Detections, depth: usize, l: &Leaves<T>) -> Option<Vec<T>> {
    if depth == 0 {
        return None;
    }
    match c {
        ConditionExpr::And(parts) => best(&mut parts.iter().map(|p| condition(p, d, depth - 1, l)), l.rank),
        ConditionExpr::Or(parts) => union(&mut parts.iter().map(|p| condition(p, d, depth - 1, l))),
        ConditionExpr::Not(_) => None,
        ConditionExpr::Identifier(name) => detection(d.named.get(name)?, depth - 1, l),
        ConditionExpr::Selector { quantifier, pattern } => {
            let named = d.named.iter().filter(|(n, _)| selects(pattern, n)).map(|(_, x)| x);
            let mut sets = named.map(|x| detection(x, depth - 1, l));
            match quantifier {
                rsigma_parser::Quantifier::All => best(&mut sets, l.rank),
                // `1 of` or `N of`: one of them at least.
                _ => union(&mut sets),
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
pub fn glob(p: &[u8], s: &[u8]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some((b'*', rest)) => (0..=s.len()).any(|i| glob(rest, &s[i..])),
        Some((b'?', rest)) => !s.is_empty() && glob(rest, &s[1..]),
        Some((c, rest)) => s.first() == Some(c) && glob(rest, &s[1..]),
    }
}

fn detection<T>(x: &Detection, depth: usize, l: &Leaves<T>) -> Option<Vec<T>> {
    if depth == 0 {
        return None;
    }
    match x {
        Detection::AllOf(items) => best(&mut items.iter().map(l.item), l.rank),
        Detection::AnyOf(list) => union(&mut list.iter().map(|x| detection(x, depth - 1, l))),
        Detection::Keywords(values) => (l.keywords)(values),
        Detection::And(list) => best(&mut list.iter().map(|x| detection(x, depth - 1, l)), l.rank),
        Detection::ArrayMatch { .. } | Detection::Conditional { .. } => None,
    }
}

/// Every part must hold: the one whose weakest member narrows most will do.
pub fn best<T, R: Ord>(sets: &mut dyn Iterator<Item = Option<Vec<T>>>, rank: fn(&T) -> R) -> Option<Vec<T>> {
    sets.flatten().filter(|s| !s.is_empty()).max_by_key(|s| {
        let weakest = s.iter().map(rank).min();
        (weakest, std::cmp::Reverse(s.len()))
    })
}

/// One of the parts must hold: all their members, or none known if one part has none.
pub fn union<T>(sets: &mut dyn Iterator<Item = Option<Vec<T>>>) -> Option<Vec<T>> {
    let mut out = Vec::new();
    for s in sets {
        out.extend(s?);
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn selector_globs() {
        assert!(
            super::glob(b"sel_*", b"sel_b")
                && super::glob(b"s?l*", b"sel")
                && !super::glob(b"sel_a", b"sel_b")
        );
    }
}
