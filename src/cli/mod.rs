//! The command line: every subcommand and flag, each flag's doc comment being its `--help` text.
//!
//! Flags are grouped by the component they configure (cluster, batching, files, queue; redaction
//! and filtering in `transform.rs`); the structs here hold plain values, and the commands
//! (`backfill.rs`, `follow.rs`) turn them into running parts.

mod transform;

pub use transform::{TransformArgs, REDACT_KEY_ENV};

use crate::source::admit::Shard;
use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Put AWS CloudTrail logs into Elasticsearch or OpenSearch.
#[derive(Debug, Parser)]
#[command(name = "cloudtrail-es", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// More detail in logs (-v: debug, -vv: trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only warnings and errors in logs.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Settings from a TOML file (keys are long flag names; flags given here win). Env: CLOUDTRAIL_ES_CONFIG.
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
}

/// Log output format.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Import CloudTrail log files once: local files or folders (read recursively), or s3://BUCKET/PREFIX.
    Backfill(BackfillArgs),
    /// Index new log files as they land, from an SQS queue fed by CloudTrail/SNS, S3 events or EventBridge.
    Follow(FollowArgs),
}

/// `cloudtrail-es follow`.
#[derive(Debug, Args)]
pub struct FollowArgs {
    /// The SQS queue URL.
    #[arg(long, env = "CLOUDTRAIL_ES_QUEUE", value_name = "SQS_URL")]
    pub queue: String,
    /// Where events go and how they are named.
    #[command(flatten)]
    pub indexing: IndexingArgs,
    /// What to hide in documents and which events to keep.
    #[command(flatten)]
    pub transform: TransformArgs,
    /// Queue handling.
    #[command(flatten)]
    pub queue_flags: QueueFlags,
    /// AWS access for SQS and S3.
    #[command(flatten)]
    pub aws: AwsFlags,
    /// Cluster connection and delivery.
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// How `follow` works its queue and reports on itself.
#[derive(Debug, Args)]
#[command(next_help_heading = "Queue")]
pub struct QueueFlags {
    /// Seconds a received message stays invisible to other consumers; extended while it is worked on.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
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
    /// /healthz fails when Elasticsearch or SQS has been failing for this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub unhealthy_after: u64,
}

/// `cloudtrail-es backfill`.
#[derive(Debug, Args)]
pub struct BackfillArgs {
    /// Log files or folders of them, or s3://BUCKET/PREFIX (gzip or plain JSON; digests are skipped).
    #[arg(required = true, value_name = "SOURCE")]
    pub sources: Vec<String>,
    /// Where events go and how they are named.
    #[command(flatten)]
    pub indexing: IndexingArgs,
    /// Announce each S3 object found on this SQS queue (as an S3 event) instead of reading it, so
    /// that `follow` processes consuming the queue share the work.
    #[arg(long, value_name = "SQS_URL", conflicts_with_all = ["output", "state"])]
    pub to_queue: Option<String>,
    /// What to hide in documents and which events to keep.
    #[command(flatten)]
    pub transform: TransformArgs,
    /// Which files to read.
    #[command(flatten)]
    pub select: SelectArgs,
    /// AWS access for s3:// sources.
    #[command(flatten)]
    pub aws: AwsFlags,
    /// Cluster connection and delivery.
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// Where events go and how they are named; shared by `backfill` and `follow`.
#[derive(Debug, Args)]
pub struct IndexingArgs {
    /// Write the bulk NDJSON to PATH (`-` for stdout) instead of sending it to a cluster.
    #[arg(long, short, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Where events that cannot be indexed are written, with their reasons (JSON lines, appended).
    #[arg(long, value_name = "PATH", default_value = "cloudtrail-es-dead-letters.ndjson")]
    pub dead_letter: PathBuf,
    /// Index names are PREFIX-YYYY.MM.DD (UTC day of eventTime).
    #[arg(long, value_name = "PREFIX", default_value = "cloudtrail", value_parser = parse_index_prefix)]
    pub index_prefix: String,
    /// Reader threads (decompression and parsing); default: one per CPU.
    #[arg(long, value_name = "N")]
    pub readers: Option<usize>,
}

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

/// Index names must be lowercase and free of the characters Elasticsearch forbids.
fn parse_index_prefix(prefix: &str) -> Result<String, String> {
    let bad = prefix.is_empty()
        || prefix.starts_with(['-', '_', '+', '.'])
        || prefix.chars().any(|c| c.is_uppercase() || " \"*\\<|,>/?#:".contains(c));
    if bad {
        return Err(format!(
            "{prefix:?} is not a valid index name start (lowercase, no spaces or \\/*?\"<>|,#:)"
        ));
    }
    Ok(prefix.to_string())
}

fn parse_day(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|e| format!("{s:?} is not a YYYY-MM-DD date: {e}"))
}

fn parse_days(s: &str) -> Result<u32, String> {
    s.strip_suffix('d').unwrap_or(s).parse().map_err(|_| format!("{s:?} is not a number of days like 30d"))
}

/// How to reach the cluster and send to it.
#[derive(Debug, Args)]
#[command(next_help_heading = "Cluster")]
pub struct ClusterArgs {
    /// Elasticsearch or OpenSearch URL.
    #[arg(
        long = "es",
        env = "ELASTICSEARCH_URL",
        value_name = "URL",
        default_value = "http://127.0.0.1:9200"
    )]
    pub url: String,
    /// Basic-auth user; the password is read from the environment (see --es-password-env).
    #[arg(long, env = "ELASTICSEARCH_USER", value_name = "USER")]
    pub es_user: Option<String>,
    /// The environment variable holding the basic-auth password.
    #[arg(long, value_name = "NAME", default_value = "ELASTICSEARCH_PASSWORD")]
    pub es_password_env: String,
    /// The environment variable holding the API key (encoded, or `id:key`).
    #[arg(long, value_name = "NAME", default_value = "ELASTICSEARCH_API_KEY")]
    pub es_api_key_env: String,
    /// PEM file of the CA that signed the cluster's certificate.
    #[arg(long, value_name = "PATH")]
    pub ca_cert: Option<PathBuf>,
    /// Do not verify the cluster's TLS certificate.
    #[arg(long)]
    pub insecure: bool,
    /// Gzip bulk request bodies.
    #[arg(long)]
    pub compress: bool,
    /// Maximum bulk request size in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 5 * 1024 * 1024)]
    pub batch_bytes: usize,
    /// Maximum events per bulk request.
    #[arg(long, value_name = "N", default_value_t = 5000)]
    pub batch_events: usize,
    /// Bulk requests in flight at once.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub bulk_concurrency: usize,
    /// Seconds a failing batch is retried before what is left is dead-lettered
    /// (default: 300 for backfill; follow retries until the cluster is back).
    #[arg(long, value_name = "SECS")]
    pub retry_timeout: Option<u64>,
    /// The longest wait, in seconds, between two retries of a batch.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub retry_max_delay: u64,
    /// Seconds one request may take.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub request_timeout: u64,
    /// Do not install the index template at start.
    #[arg(long)]
    pub no_setup: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_prefixes_are_checked() {
        assert!(parse_index_prefix("cloudtrail").is_ok());
        assert!(parse_index_prefix("ct-prod").is_ok());
        for bad in ["", "CT", "-x", "a b", "a*", "a/b"] {
            assert!(parse_index_prefix(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn days_and_day_counts_parse() {
        assert!(parse_day("2024-02-29").is_ok() && parse_day("2023-02-29").is_err());
        assert_eq!(parse_days("30d"), Ok(30));
        assert_eq!(parse_days("7"), Ok(7));
        assert!(parse_days("a week").is_err());
    }
}
