//! Alert flags of `follow`: the `[[alert]]` tables of `--config` (which `config.rs` turns into
//! hidden `--alert-rule JSON` flags), one rule from `--alert-slack`/`--alert-webhook`/`--alert-sns`
//! with `--alert-include`/`--alert-exclude`/`--alert-console-only`, and how messages look and go.

use crate::backoff::Backoff;
use crate::output::alert::message::Zone;
use crate::output::alert::rules::{AlertRule, RuleSpec};
use crate::output::alert::AlertSettings;
use clap::Args;
use std::time::Duration;

/// Alerts on matching events.
#[derive(Clone, Debug, Default, Args)]
#[command(next_help_heading = "Alerts")]
pub struct AlertArgs {
    /// One `[[alert]]` table as JSON (what --config makes of the tables; repeatable).
    #[arg(long = "alert-rule", value_name = "JSON", hide = true)]
    pub rules: Vec<String>,
    /// Name of the rule given by the --alert-* flags (shown in its messages).
    #[arg(long, value_name = "NAME", default_value = "alert")]
    pub alert_name: String,
    /// Post matching events to a Slack-compatible incoming webhook (`{"text": …}`).
    #[arg(long, value_name = "URL", conflicts_with_all = ["alert_webhook", "alert_sns"])]
    pub alert_slack: Option<String>,
    /// Post matching events to a JSON webhook (summary plus the events as indexed).
    #[arg(long, value_name = "URL", conflicts_with = "alert_sns")]
    pub alert_webhook: Option<String>,
    /// Publish matching events to an SNS topic (the standard AWS credential chain).
    #[arg(long, value_name = "TOPIC_ARN")]
    pub alert_sns: Option<String>,
    /// Alert only on events whose FIELD matches GLOB (as --include; repeatable).
    #[arg(long, value_name = "FIELD=GLOB")]
    pub alert_include: Vec<String>,
    /// Do not alert on events whose FIELD matches GLOB (as --exclude; repeatable).
    #[arg(long, value_name = "FIELD=GLOB")]
    pub alert_exclude: Vec<String>,
    /// Alert only on console operations (as --console-only).
    #[arg(long)]
    pub alert_console_only: bool,
    /// Announce Sigma findings (--rules) at or above LEVEL instead of events: informational, low,
    /// medium, high or critical.
    #[arg(long, value_name = "LEVEL")]
    pub alert_findings: Option<String>,
    /// Show times in messages at this fixed offset (`+09:00`) instead of UTC.
    #[arg(long, value_name = "OFFSET", default_value = "UTC")]
    pub alert_timezone: Zone,
    /// Kibana's URL: each message links to its event in Discover.
    #[arg(long, value_name = "URL")]
    pub kibana_url: Option<String>,
    /// Matches of one rule within this many seconds become one message.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub alert_burst_interval: u64,
    /// Events described in full in one message; the rest are counted (a rule's `burst_limit` wins).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub alert_burst_limit: usize,
    /// Give up on a message after retrying this long (it is then written to the dead-letter file).
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub alert_retry_timeout: u64,
    /// Do not index: only send alerts (documents are settled at once).
    #[arg(long)]
    pub no_index: bool,
}

impl AlertArgs {
    /// The alert settings these flags describe.
    pub fn settings(&self) -> anyhow::Result<AlertSettings> {
        let mut rules: Vec<AlertRule> = Vec::new();
        for (i, json) in self.rules.iter().enumerate() {
            rules.push(RuleSpec::from_json(json)?.rule(i + 1)?);
        }
        let one = RuleSpec {
            name: Some(self.alert_name.clone()),
            include: self.alert_include.clone(),
            exclude: self.alert_exclude.clone(),
            console_only: self.alert_console_only,
            slack: self.alert_slack.clone(),
            webhook: self.alert_webhook.clone(),
            sns: self.alert_sns.clone(),
            burst_limit: None,
            findings: self.alert_findings.clone(),
            rule_ids: Vec::new(),
            tags: Vec::new(),
        };
        let has_filters =
            !one.include.is_empty() || !one.exclude.is_empty() || one.console_only || one.findings.is_some();
        if one.slack.is_some() || one.webhook.is_some() || one.sns.is_some() {
            rules.push(one.rule(rules.len() + 1)?);
        } else if has_filters {
            anyhow::bail!("--alert-include/--alert-exclude/--alert-console-only/--alert-findings need --alert-slack, --alert-webhook or --alert-sns");
        }
        if self.no_index && rules.is_empty() {
            anyhow::bail!("--no-index only sends alerts, and no alert is configured");
        }
        let defaults = AlertSettings::default();
        Ok(AlertSettings {
            rules,
            zone: self.alert_timezone,
            kibana_url: self.kibana_url.clone(),
            burst_interval: Duration::from_secs(self.alert_burst_interval),
            burst_limit: self.alert_burst_limit.max(1),
            backoff: Backoff { patience: Duration::from_secs(self.alert_retry_timeout), ..defaults.backoff },
            remember: defaults.remember,
        })
    }
}
