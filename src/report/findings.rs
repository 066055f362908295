//! The report's findings section (`--rules`): the Sigma findings by level, by rule and by rule and
//! principal.
//!
//! From files, the readers evaluate the rules with the detector `backfill` uses
//! ([`crate::detect::Detector::evaluate`], on the event as CloudTrail wrote it, after the run's
//! filters) and count each match here; from a cluster, the same numbers come from what `backfill
//! --rules` indexed in `PREFIX-findings-*`, by aggregations. Both count into the same
//! [`Tally`]s, so the rows are chosen and ordered by the same code, and equal data gives equal
//! numbers. The principal is the event's `userIdentity.arn` as written (after redaction), which
//! is also what a finding document copies.

use super::cluster::{base_query, search, Query, MAX_ROUNDS, PAGE};
use super::model::{Findings, FINDING_PRINCIPALS, FINDING_RULES, NO_PRINCIPAL};
use super::spec::Order;
use super::tally::{key, Tally};
use crate::cluster::{ClientError, EsClient};
use crate::detect::{Level, RuleInfo};
use serde_json::{json, Value};

/// The finding fields a rule row is keyed by, in the order of `Findings::rules`' keys.
const RULE_FIELDS: [&str; 4] = ["rule.title", "rule.level", "rule.author", "rule.id"];
/// The same for `Findings::principals`.
const PRINCIPAL_FIELDS: [&str; 2] = ["rule.title", "userIdentity.arn"];

/// Findings counted so far (one reader's, or a cluster's).
#[derive(Debug, Default)]
pub struct FindingTally {
    levels: [u64; Level::ALL.len()],
    rules: Tally,
    principals: Tally,
    key: String,
}

impl FindingTally {
    /// Counts one finding of `rule` on an event of `principal` at `time`.
    pub fn add(&mut self, rule: &RuleInfo, principal: Option<&str>, time: i64) {
        self.levels[rule.level.index()] += 1;
        key(&[&rule.title, rule.level.as_str(), &rule.author, &rule.id], &mut self.key);
        self.rules.add(&self.key, time);
        key(&[&rule.title, principal.unwrap_or(NO_PRINCIPAL)], &mut self.key);
        self.principals.add(&self.key, time);
    }

    /// Adds another reader's counts to these.
    pub fn merge(&mut self, other: FindingTally) {
        for (a, b) in self.levels.iter_mut().zip(other.levels) {
            *a += b;
        }
        self.rules.merge(other.rules);
        self.principals.merge(other.principals);
    }

    /// The section's numbers.
    pub fn findings(&self) -> Findings {
        Findings {
            total: self.levels.iter().sum(),
            levels: Level::ALL.iter().map(|l| (l.as_str().to_string(), self.levels[l.index()])).collect(),
            rules: self.rules.table(FINDING_RULES, Order::Count),
            principals: self.principals.table(FINDING_PRINCIPALS, Order::Count),
        }
    }
}

/// The findings in `PREFIX-findings-*` of the events `query` selects by time (`--start`/`--end`:
/// a finding's `@timestamp` is its event's). `--console-only` is refused with `--rules` from a
/// cluster (by the face): a finding lacks what the console rule reads.
pub async fn from_cluster(client: &EsClient, query: &Query) -> Result<Findings, ClientError> {
    let base = &base_query(&Query { console_only: false, ..query.clone() }, &Value::Null);
    let path = format!("/{}-findings-*/_search?ignore_unavailable=true&allow_no_indices=true", query.prefix);
    let body = json!({"size": 0, "query": base,
        "aggs": {"levels": {"terms": {"field": "rule.level", "size": Level::ALL.len() + 1}}}});
    let answer = search(client, &path, &body).await?;
    let mut tally = FindingTally::default();
    let buckets = answer["aggregations"]["levels"]["buckets"].as_array().cloned().unwrap_or_default();
    for b in buckets {
        let level = b["key"].as_str().and_then(|l| l.parse::<Level>().ok());
        if let Some(level) = level {
            tally.levels[level.index()] += b["doc_count"].as_u64().unwrap_or(0);
        }
    }
    tally.rules = paged(client, &path, base, &RULE_FIELDS).await?;
    tally.principals = paged(client, &path, base, &PRINCIPAL_FIELDS).await?;
    Ok(tally.findings())
}

/// Every (fields…) key of the findings `query` selects, counted into a tally through a
/// `composite` aggregation paged to the end (at most [`MAX_ROUNDS`] pages; a missing value is
/// [`NO_PRINCIPAL`], the only field that may lack one).
async fn paged(client: &EsClient, path: &str, query: &Value, fields: &[&str]) -> Result<Tally, ClientError> {
    let sources: Vec<Value> = fields
        .iter()
        .enumerate()
        .map(|(i, f)| json!({format!("d{i}"): {"terms": {"field": f, "missing_bucket": true}}}))
        .collect();
    let (mut tally, mut after, mut k) = (Tally::default(), None::<Value>, String::new());
    for _ in 0..MAX_ROUNDS {
        let mut agg = json!({"composite": {"size": PAGE, "sources": sources}});
        if let Some(after) = &after {
            agg["composite"]["after"] = after.clone();
        }
        let answer = search(client, path, &json!({"size": 0, "query": query, "aggs": {"t": agg}})).await?;
        let t = &answer["aggregations"]["t"];
        let buckets = t["buckets"].as_array().map(Vec::as_slice).unwrap_or_default();
        for b in buckets {
            let parts: Vec<&str> = (0..fields.len())
                .map(|i| b["key"][format!("d{i}")].as_str().unwrap_or(NO_PRINCIPAL))
                .collect();
            key(&parts, &mut k);
            tally.add_n(&k, b["doc_count"].as_u64().unwrap_or(0), 0);
        }
        if buckets.len() < PAGE || t["after_key"].is_null() {
            break;
        }
        after = Some(t["after_key"].clone());
    }
    Ok(tally)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(id: &str, level: Level) -> RuleInfo {
        RuleInfo {
            id: id.into(),
            title: format!("Rule {id}"),
            level,
            tags: vec![],
            author: "Jane".into(),
            file: "f.yml".into(),
        }
    }

    #[test]
    fn findings_are_counted_by_level_rule_and_principal() {
        let (a, b) = (rule("a", Level::High), rule("b", Level::Low));
        let mut one = FindingTally::default();
        one.add(&a, Some("arn:aws:iam::1:user/x"), 10);
        one.add(&a, None, 11);
        let mut two = FindingTally::default();
        two.add(&a, Some("arn:aws:iam::1:user/x"), 12);
        two.add(&b, Some("arn:aws:iam::1:user/x"), 13);
        one.merge(two);
        let f = one.findings();
        assert_eq!(f.total, 4);
        assert_eq!(f.levels.len(), 5);
        assert_eq!((f.levels["high"], f.levels["low"], f.levels["critical"]), (3, 1, 0));
        let rows: Vec<(Vec<String>, u64)> = f.rules.rows.iter().map(|r| (r.key.clone(), r.count)).collect();
        assert_eq!(rows[0], (vec!["Rule a".into(), "high".into(), "Jane".into(), "a".into()], 3));
        assert_eq!(rows[1].1, 1);
        let top = &f.principals.rows[0];
        assert_eq!(
            (top.key.as_slice(), top.count),
            (&["Rule a".to_string(), "arn:aws:iam::1:user/x".into()][..], 2)
        );
        assert!(f.principals.rows.iter().any(|r| r.key[1] == NO_PRINCIPAL));
    }
}
