//! `cloudtrail-es replay DEAD_LETTERS.ndjson`: the flags of the way back for dead letters. The
//! cluster, batching and transform flags are backfill's own groups, so that a record replayed is
//! encoded and sent exactly as backfill would.

use super::{parse_index_prefix, AwsFlags, ClusterArgs, EcsArgs, EcsDocumentArgs, TransformArgs};
use clap::Args;
use std::path::PathBuf;

/// `cloudtrail-es replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The dead-letter file to send again (it is only read, never changed).
    #[arg(value_name = "DEAD_LETTERS")]
    pub input: PathBuf,
    /// Where letters that fail again go (default: NAME.replay-TIMESTAMP.ndjson beside the input;
    /// never the input itself). Not backfill's `--dead-letter`, on purpose: a config file's
    /// top-level `dead-letter` names the file replay reads, not the one it writes.
    #[arg(long = "dead-letters", value_name = "PATH")]
    pub dead_letter: Option<PathBuf>,
    /// Index names for replayed records (`raw`, `raw_base64`, unsent `document`): PREFIX-YYYY.MM.DD.
    /// Letters that were sent go back to the `_index` of their action line.
    #[arg(long, value_name = "PREFIX", default_value = "cloudtrail", value_parser = parse_index_prefix)]
    pub index_prefix: String,
    /// A longer line of the input is skipped (never held in memory) and counted as invalid.
    #[arg(long, value_name = "BYTES", default_value_t = crate::command::replay::DEFAULT_MAX_LINE_BYTES)]
    pub max_line_bytes: usize,
    /// ECS fields and index names for replayed records.
    #[command(flatten)]
    pub ecs: EcsArgs,
    /// Whether replayed records' ECS fields include event.ingested.
    #[command(flatten)]
    pub ecs_documents: EcsDocumentArgs,
    /// Redaction and filters for replayed records (letters that were sent are not redacted twice).
    #[command(flatten)]
    pub transform: TransformArgs,
    /// AWS access, for --aws-sigv4.
    #[command(flatten)]
    pub aws: AwsFlags,
    /// Cluster connection and delivery.
    #[command(flatten)]
    pub cluster: ClusterArgs,
}
