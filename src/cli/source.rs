//! The flags of the source side: which files a backfill reads, AWS access, and how `follow` works
//! its queue.

use crate::source::admit::Shard;
use chrono::NaiveDate;
use clap::Args;
use std::path::PathBuf;

/// Which log files a backfill reads, and how it resumes and splits the work.
#[derive(Debug, Args)]
#[command(next_help_heading = "Selecting files")]
pub struct SelectArgs {
    /// First day to read (UTC, inclusive), from the layout's YYYY/MM/DD folders.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_day)]
    pub start: Option<NaiveDate>,
    /// Last day to read (UTC, inclusive).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_day)]
    pub end: Option<NaiveDate>,
    /// Read the last N days up to today (e.g. 30d); instead of --start.
    #[arg(long, value_name = "DAYS", value_parser = parse_days, conflicts_with = "start")]
    pub since: Option<u32>,
    /// Only this account's logs (repeatable).
    #[arg(long = "account", value_name = "ID")]
    pub accounts: Vec<String>,
    /// Only logs of this AWS region folder (repeatable); the client's own region is --aws-region.
    #[arg(long = "region", value_name = "REGION")]
    pub regions: Vec<String>,
    /// On S3, read every key under the prefix, not only keys in CloudTrail's layout.
    #[arg(long)]
    pub any_key: bool,
    /// Remember finished files in PATH; a re-run with the same PATH skips them.
    #[arg(long, value_name = "PATH")]
    pub state: Option<PathBuf>,
    /// Take only share K of N (0-based) of the files, by a stable hash of their names.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<Shard>,
    /// S3 downloads in flight at once.
    #[arg(long, value_name = "N", default_value_t = 32)]
    pub concurrency: usize,
}

/// AWS settings; credentials come from the standard chain (env, profile, SSO, instance role).
#[derive(Debug, Args)]
#[command(next_help_heading = "AWS")]
pub struct AwsFlags {
    /// Named profile from the AWS config files.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Region of the AWS endpoints (default: from the environment or profile, else us-east-1).
    #[arg(long, value_name = "REGION")]
    pub aws_region: Option<String>,
}

/// How `follow` works its queue and reports on itself.
#[derive(Debug, Args)]
#[command(next_help_heading = "Queue")]
pub struct QueueFlags {
    /// Seconds a received message stays invisible to other consumers; extended while it is worked on
    /// (so a crashed follower's messages reappear after about this long).
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub visibility_timeout: u64,
    /// Messages worked on at once (more wait in the queue: this is the backpressure).
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub max_in_flight: usize,
    /// On SIGTERM/SIGINT, seconds to finish the messages in flight before leaving them to reappear.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub shutdown_timeout: u64,
    /// Seconds between status lines in the log.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub status_interval: u64,
    /// Serve Prometheus /metrics and /healthz on HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Which objects messages may make it read.
    #[command(flatten)]
    pub objects: ObjectFlags,
    /// /healthz fails when Elasticsearch or SQS has been failing for this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub unhealthy_after: u64,
}

/// Which objects notifications may make `follow` (or the Lambda function) read.
#[derive(Debug, Args)]
#[command(next_help_heading = "Queue")]
pub struct ObjectFlags {
    /// Read only objects in this bucket (repeatable); a message naming another is left for the
    /// queue's dead-letter queue. Without it any bucket is read, with a warning at start.
    #[arg(long = "allow-bucket", value_name = "NAME")]
    pub allow_buckets: Vec<String>,
    /// Read keys outside CloudTrail's layout too (e.g. CloudWatch Logs payloads written by Firehose).
    #[arg(long = "any-key")]
    pub any_key: bool,
}

fn parse_day(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|e| format!("{s:?} is not a YYYY-MM-DD date: {e}"))
}

fn parse_days(s: &str) -> Result<u32, String> {
    s.strip_suffix('d').unwrap_or(s).parse().map_err(|_| format!("{s:?} is not a number of days like 30d"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_day_counts_parse() {
        assert!(parse_day("2024-02-29").is_ok() && parse_day("2023-02-29").is_err());
        assert_eq!(parse_days("30d"), Ok(30));
        assert_eq!(parse_days("7"), Ok(7));
        assert!(parse_days("a week").is_err());
    }
}
