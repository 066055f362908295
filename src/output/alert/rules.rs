//! Alert rules and where their messages go: the `[[alert]]` tables of the config file (a contract:
//! `name`, `include`, `exclude`, `console_only`, and one of `slack`, `webhook`, `sns`; `burst_limit`
//! is ours) and the `--alert-*` flags for one rule, both ending as [`AlertRule`]. A rule with
//! `findings = "LEVEL"` announces the Sigma findings (`detect/`) at or above that level of the
//! events it selects, narrowed by `rule_ids` and `tags` if given, instead of the events.
//!
//! Webhook URLs carry tokens: a [`Destination`] shows only its host (Debug and Display alike), so a
//! URL never reaches a log line, an error message or a dead letter.

use crate::detect::{Level, RuleInfo};
use crate::transform::{FieldFilter, Selection};
use serde::Deserialize;
use std::fmt;
use url::Url;

/// One rule: which events, and where they are announced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertRule {
    /// Shown in every message.
    pub name: String,
    /// The events it announces (`--include`/`--exclude` semantics).
    pub selection: Selection,
    /// Where.
    pub destination: Destination,
    /// Events described in full in one message (the rest are counted); `None`: the run's default.
    pub burst_limit: Option<usize>,
    /// Announce findings, not events: which ones.
    pub findings: Option<FindingFilter>,
}

/// Which findings a rule announces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FindingFilter {
    /// At or above this level.
    pub level: Level,
    /// Only these Sigma rule ids (none: any).
    pub rule_ids: Vec<String>,
    /// Only rules with one of these tags, e.g. `attack.t1562.008` (none: any).
    pub tags: Vec<String>,
}

impl FindingFilter {
    /// True when a finding of `rule` is announced.
    pub fn accepts(&self, rule: &RuleInfo) -> bool {
        rule.level >= self.level
            && (self.rule_ids.is_empty() || self.rule_ids.iter().any(|id| id.eq_ignore_ascii_case(&rule.id)))
            && (self.tags.is_empty()
                || self.tags.iter().any(|t| rule.tags.iter().any(|r| r.eq_ignore_ascii_case(t))))
    }
}

/// Where a rule's messages go.
#[derive(Clone, PartialEq, Eq)]
pub enum Destination {
    /// A Slack-compatible incoming webhook: `{"text": …}` (Mattermost, Teams workflows, Chat).
    Slack(Url),
    /// A generic JSON webhook: the summary and the events as indexed.
    Webhook(Url),
    /// An SNS topic ARN.
    Sns(String),
}

impl Destination {
    /// What may be shown of it: the host of a webhook, the ARN of a topic.
    pub fn shown(&self) -> String {
        match self {
            Destination::Slack(u) | Destination::Webhook(u) => u.host_str().unwrap_or("?").to_string(),
            Destination::Sns(arn) => arn.clone(),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Destination::Slack(_) => "slack",
            Destination::Webhook(_) => "webhook",
            Destination::Sns(_) => "sns",
        }
    }
}

impl fmt::Debug for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.kind(), self.shown())
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind(), self.shown())
    }
}

/// A rule that cannot be used (never quotes a URL).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// Not one destination.
    #[error("alert `{0}` needs exactly one of slack, webhook or sns")]
    Destinations(String),
    /// A URL that is not http(s).
    #[error("alert `{name}`: {field} is not an http(s) URL")]
    BadUrl {
        /// The rule.
        name: String,
        /// `slack` or `webhook`.
        field: &'static str,
    },
    /// Not an SNS topic ARN.
    #[error("alert `{0}`: sns must be a topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)")]
    BadArn(String),
    /// A filter that does not parse.
    #[error("alert `{name}`: {error}")]
    Filter {
        /// The rule.
        name: String,
        /// What is wrong.
        error: String,
    },
    /// Not a table of known keys.
    #[error("an [[alert]] table: {0}")]
    Shape(String),
}

/// An `[[alert]]` table as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Shown in the message.
    pub name: Option<String>,
    /// FIELD=GLOB, as `--include`.
    #[serde(default)]
    pub include: Vec<String>,
    /// FIELD=GLOB, as `--exclude`.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// As `--console-only`.
    #[serde(default)]
    pub console_only: bool,
    /// A Slack-compatible webhook URL.
    pub slack: Option<String>,
    /// A generic JSON webhook URL.
    pub webhook: Option<String>,
    /// An SNS topic ARN.
    pub sns: Option<String>,
    /// Events described in full per message.
    pub burst_limit: Option<usize>,
    /// Announce Sigma findings at or above this level instead of events.
    pub findings: Option<String>,
    /// With `findings`: only these Sigma rule ids.
    #[serde(default)]
    pub rule_ids: Vec<String>,
    /// With `findings`: only rules with one of these tags.
    #[serde(default)]
    pub tags: Vec<String>,
}

impl RuleSpec {
    /// Parses one table given as JSON (what `--config` turns an `[[alert]]` table into).
    pub fn from_json(text: &str) -> Result<Self, RuleError> {
        // serde's messages quote unknown keys, never values.
        serde_json::from_str(text).map_err(|e| RuleError::Shape(shape_message(&e)))
    }

    /// Checks the table and makes it a rule; `n` numbers unnamed rules.
    pub fn rule(self, n: usize) -> Result<AlertRule, RuleError> {
        let name = self.name.unwrap_or_else(|| format!("alert {n}"));
        let url = |text: &str, field| {
            Url::parse(text)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
                .ok_or(RuleError::BadUrl { name: name.clone(), field })
        };
        let destination = match (&self.slack, &self.webhook, &self.sns) {
            (Some(u), None, None) => Destination::Slack(url(u, "slack")?),
            (None, Some(u), None) => Destination::Webhook(url(u, "webhook")?),
            (None, None, Some(arn)) if arn.starts_with("arn:") && arn.split(':').count() == 6 => {
                Destination::Sns(arn.clone())
            }
            (None, None, Some(_)) => return Err(RuleError::BadArn(name)),
            _ => return Err(RuleError::Destinations(name)),
        };
        let parse = |list: &[String]| -> Result<Vec<FieldFilter>, RuleError> {
            list.iter()
                .map(|f| {
                    f.parse().map_err(|e| RuleError::Filter { name: name.clone(), error: format!("{e}") })
                })
                .collect()
        };
        let selection = Selection {
            include: parse(&self.include)?,
            exclude: parse(&self.exclude)?,
            console_only: self.console_only,
        };
        let findings = match &self.findings {
            Some(level) => Some(FindingFilter {
                level: level.parse().map_err(|error| RuleError::Filter { name: name.clone(), error })?,
                rule_ids: self.rule_ids.clone(),
                tags: self.tags.clone(),
            }),
            None if !self.rule_ids.is_empty() || !self.tags.is_empty() => {
                return Err(RuleError::Filter {
                    name,
                    error: "rule_ids and tags narrow findings: they need findings = \"LEVEL\"".into(),
                })
            }
            None => None,
        };
        Ok(AlertRule {
            name,
            selection,
            destination,
            burst_limit: self.burst_limit.map(|n| n.max(1)),
            findings,
        })
    }
}

/// serde_json's message without the position noise.
fn shape_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    text.split(" at line ").next().unwrap_or(&text).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_become_rules_and_urls_show_only_their_host() {
        let spec = RuleSpec::from_json(
            r#"{"name":"changes","exclude":["eventName=Describe*","eventName=Get*"],
                "slack":"https://hooks.example/T000/B000/XXXX"}"#,
        )
        .unwrap();
        let rule = spec.rule(1).unwrap();
        assert_eq!(rule.name, "changes");
        assert_eq!(rule.selection.exclude.len(), 2);
        let shown = format!("{rule:?} {}", rule.destination);
        assert!(shown.contains("hooks.example") && !shown.contains("XXXX"), "{shown}");

        let err = |json: &str| RuleSpec::from_json(json).and_then(|s| s.rule(2)).unwrap_err().to_string();
        assert_eq!(
            err(r#"{"include":["x=y"]}"#),
            "alert `alert 2` needs exactly one of slack, webhook or sns"
        );
        assert!(err(r#"{"slack":"a","sns":"b"}"#).contains("exactly one"));
        let bad = err(r#"{"webhook":"ftp://h/SECRET"}"#);
        assert!(bad.contains("webhook is not an http(s) URL") && !bad.contains("SECRET"), "{bad}");
        assert!(err(r#"{"sns":"topic"}"#).contains("topic ARN"));
        assert!(err(r#"{"slak":"x"}"#).contains("unknown field `slak`"));
        assert!(err(r#"{"sns":"arn:aws:sns:us-east-1:1:t","include":["nope"]}"#).contains("FIELD=GLOB"));
        assert!(
            err(r#"{"sns":"arn:aws:sns:us-east-1:1:t","findings":"severe"}"#).contains("not a Sigma level")
        );
        assert!(err(r#"{"sns":"arn:aws:sns:us-east-1:1:t","tags":["x"]}"#).contains("need findings"));
        let f = RuleSpec::from_json(
            r#"{"sns":"arn:aws:sns:us-east-1:1:t","findings":"high","tags":["attack.t1"]}"#,
        )
        .and_then(|s| s.rule(3))
        .unwrap()
        .findings
        .unwrap();
        let info = |level, tags: &[&str]| RuleInfo {
            id: "r".into(),
            title: "t".into(),
            level,
            tags: tags.iter().map(|t| t.to_string()).collect(),
            author: "a".into(),
            file: "f".into(),
        };
        assert!(f.accepts(&info(Level::Critical, &["ATTACK.T1"])));
        assert!(!f.accepts(&info(Level::Medium, &["attack.t1"])) && !f.accepts(&info(Level::High, &["x"])));
    }
}
