//! `cloudtrail-es report SOURCE... --html FILE`: the flags of the report. Files are chosen,
//! filtered and redacted with backfill's own groups of flags; with no SOURCE the report is made
//! from the cluster `--es` names (the connection flags of every command).

use super::{parse_index_prefix, AwsFlags, ConnectionArgs, SelectArgs, TransformArgs};
use clap::Args;
use std::path::PathBuf;

/// `cloudtrail-es report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Log files or folders of them, or s3://BUCKET/PREFIX, as for backfill. None: report on what
    /// the cluster (--es, --index-prefix) holds, through aggregations.
    #[arg(value_name = "SOURCE")]
    pub sources: Vec<String>,
    /// Write the report page here (one self-contained HTML file).
    #[arg(long, value_name = "FILE")]
    pub html: PathBuf,
    /// Also write the report's numbers here as JSON (top-level `events`: the total).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// "Who did what" counts read-only calls too (by default only calls that change something).
    #[arg(long)]
    pub with_reads: bool,
    /// An event name listed under launches and creations, with who, when and from where
    /// (repeatable; replaces the default list: RunInstances, CreateBucket, CreateUser, …).
    #[arg(long = "launch-event", value_name = "NAME")]
    pub launch_events: Vec<String>,
    /// Sigma rules (a YAML file, a folder of them, or `builtin`; repeatable): add the findings by
    /// rule and level, evaluated on the files as backfill does, or with no SOURCE read from
    /// PREFIX-findings-*.
    #[arg(long = "rules", id = "sigma_rules", value_name = "PATH")]
    pub sigma_rules: Vec<String>,
    /// With no SOURCE: the indices are PREFIX-YYYY.MM.DD.
    #[arg(long, value_name = "PREFIX", default_value = "cloudtrail", value_parser = parse_index_prefix)]
    pub index_prefix: String,
    /// Reader threads (decompression and parsing); default: one per CPU.
    #[arg(long, value_name = "N")]
    pub readers: Option<usize>,
    /// Redaction and filters, as for backfill (from a cluster: only --console-only).
    #[command(flatten)]
    pub transform: TransformArgs,
    /// Which files to read (from a cluster: --start/--end/--since select events by time).
    #[command(flatten)]
    pub select: SelectArgs,
    /// AWS access for s3:// sources and --aws-sigv4.
    #[command(flatten)]
    pub aws: AwsFlags,
    /// The cluster, with no SOURCE.
    #[command(flatten)]
    pub connection: ConnectionArgs,
}
