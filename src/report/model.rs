//! The report as data: what `--json` writes and what the HTML page is drawn from. Computed from
//! files or from a cluster, the same events give the same value (the `about` part aside, which
//! says how it was made).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A whole report.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Events in the report (after the filters).
    pub events: u64,
    /// The first and last event times.
    pub span: Option<Span>,
    /// Events per scope (`spec::SCOPES`): console operations, writes, sign-ins, errors…
    pub counts: BTreeMap<String, u64>,
    /// Distinct accounts, regions, principals, access keys and addresses.
    pub distinct: BTreeMap<String, Distinct>,
    /// Every table of `spec::TABLES`, by id.
    pub tables: BTreeMap<String, Table>,
    /// The launches and creations (`launch_events`), latest first, at most [`LAUNCH_ROWS`].
    pub launches: Vec<Launch>,
    /// Findings by rule and level, when detection rules were given (not filled yet: the report
    /// counts events only, so the page shows this section only once something fills it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub findings: Option<Vec<Finding>>,
    /// How the report was made (not part of the numbers).
    pub about: About,
}

/// Launch rows kept.
pub const LAUNCH_ROWS: usize = 200;

/// First and last event time, RFC 3339 UTC to the second.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    /// The earliest event.
    pub first: String,
    /// The latest event.
    pub last: String,
}

/// A distinct count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Distinct {
    /// How many.
    pub count: u64,
    /// False: at least `count` (beyond the exact bound).
    pub exact: bool,
}

/// One table: its first rows and the count of the rest.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    /// The rows shown.
    pub rows: Vec<Row>,
    /// Events counted under other keys.
    pub others: u64,
    /// 0 when every count is exact; else each count may be too high by at most this much.
    pub error_bound: u64,
}

/// One row of a table.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    /// The values counted by (one per dimension of the table).
    pub key: Vec<String>,
    /// Events.
    pub count: u64,
    /// For first-seen tables: when the key was first seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<String>,
}

/// One launch or creation.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Launch {
    /// When (RFC 3339 UTC).
    pub time: String,
    /// `eventName`.
    pub action: String,
    /// What it made, when the event names it (an instance id, a bucket or user name…).
    pub resource: String,
    /// `userIdentity.arn`.
    pub principal: String,
    /// `sourceIPAddress`.
    pub source_ip: String,
    /// `userAgent`.
    pub user_agent: String,
    /// `awsRegion`.
    pub region: String,
    /// `recipientAccountId`.
    pub account: String,
    /// `errorCode`, when the call failed.
    pub error: String,
}

impl Launch {
    /// Sorts launches latest first (ties by every column), for both sources alike.
    pub fn sort(rows: &mut [Launch]) {
        rows.sort_unstable_by(|a, b| b.cmp(a));
    }
}

/// Findings of one rule.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// The rule's title.
    pub rule: String,
    /// Its level.
    pub level: String,
    /// Events it matched.
    pub count: u64,
}

/// How the report was made.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct About {
    /// What was read: the sources, or the cluster and prefix.
    pub input: Vec<String>,
    /// When the report was made.
    pub generated: String,
    /// The launch and creation event names listed.
    pub launch_events: Vec<String>,
    /// Whether "who did what" counts read-only calls too.
    pub with_reads: bool,
    /// Whether only console operations were read (`--console-only`).
    pub console_only: bool,
}

/// Unix seconds as RFC 3339 UTC (`2024-05-01T10:00:00Z`).
pub fn time_text(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}
