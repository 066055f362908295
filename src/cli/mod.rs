//! The command line: every subcommand and flag, each flag's doc comment being its `--help` text.
//!
//! Flags are grouped by the component they configure (cluster, batching, files, queue; redaction
//! and filtering in `transform.rs`). `config.rs` turns a `--config` file into flags before clap
//! parses them (`lambda.rs` the `CLOUDTRAIL_ES_*` variables, for the Lambda function), and `settings.rs` turns the parsed flags into the plain settings the commands
//! (`crate::command`) take: nothing below this module knows a flag.

mod alert;
mod cluster;
pub mod config;
mod ecs;
pub mod lambda;
mod replay;
mod report;
mod settings;
mod source;
mod transform;

pub use alert::AlertArgs;
pub use cluster::{ClusterArgs, ConnectionArgs, SetupArgs};
pub use ecs::{parse_namespace, EcsArgs, EcsDocumentArgs};
pub use lambda::LambdaArgs;
pub use replay::ReplayArgs;
pub use report::ReportArgs;
pub use source::{AwsFlags, ObjectFlags, QueueFlags, SelectArgs};
pub use transform::{TransformArgs, REDACT_KEY_ENV};

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
    /// Prepare the cluster (templates, lifecycle policy) and optionally Kibana (dashboard).
    Setup(SetupArgs),
    /// Send the letters of a dead-letter file again, once their cause is fixed; what fails again goes to a new file.
    Replay(ReplayArgs),
    /// Run as an AWS Lambda function: SQS, S3, SNS, EventBridge and CloudWatch Logs events; every
    /// flag also from `CLOUDTRAIL_ES_<FLAG>` (the function's bootstrap runs this without arguments).
    Lambda(LambdaArgs),
    /// One HTML page (and JSON) of who did what, console operations, sign-ins, errors… from log files or the cluster.
    Report(ReportArgs),
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
    /// Alerts on matching events.
    #[command(flatten)]
    pub alert: AlertArgs,
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
    /// Leave the indices' refresh as it is (by default a backfill switches refresh off on the
    /// indices it writes and restores it at the end).
    #[arg(long)]
    pub keep_refresh: bool,
    /// Switch refresh off on today's (UTC) index too (by default it is left refreshing: a follower
    /// may be writing there).
    #[arg(long, conflicts_with = "keep_refresh")]
    pub relax_today: bool,
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
    /// A dead letter keeps a document or record up to this size whole (replayable); a bigger one
    /// is written as its size, SHA-256 and first 4 KiB.
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20, value_parser = clap::value_parser!(u32).range(4096..))]
    pub dead_letter_max_bytes: u32,
    /// Index names are PREFIX-YYYY.MM.DD (UTC day of eventTime).
    #[arg(long, value_name = "PREFIX", default_value = "cloudtrail", value_parser = parse_index_prefix)]
    pub index_prefix: String,
    /// Reader threads (decompression and parsing); default: one per CPU.
    #[arg(long, value_name = "N")]
    pub readers: Option<usize>,
    /// A record bigger than this (bytes of JSON text) is skipped while it streams, never held in
    /// memory, and dead-lettered with its size and place.
    #[arg(long, value_name = "BYTES", default_value_t = crate::decode::DEFAULT_MAX_EVENT_BYTES)]
    pub max_event_bytes: usize,
    /// A gzip member whose text is at most this big is held in memory until its checksum is
    /// verified, so no event of a damaged member is sent; a bigger one streams.
    #[arg(long, value_name = "BYTES", default_value_t = crate::decode::DEFAULT_HOLD_BYTES)]
    pub gzip_hold_bytes: usize,
    /// Sigma rules evaluated on every event: a YAML file, a folder of them, or `builtin` (SigmaHQ's
    /// CloudTrail rules, shipped). Findings go to PREFIX-findings-YYYY.MM.DD (repeatable).
    #[arg(long = "rules", id = "sigma_rules", value_name = "PATH")]
    pub sigma_rules: Vec<String>,
    /// ECS fields and index names for Elastic Security.
    #[command(flatten)]
    pub ecs: EcsArgs,
    /// Whether the ECS fields include event.ingested.
    #[command(flatten)]
    pub ecs_documents: EcsDocumentArgs,
}

/// Index names must be lowercase and free of the characters Elasticsearch forbids.
pub fn parse_index_prefix(prefix: &str) -> Result<String, String> {
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

#[cfg(test)]
mod tests;
