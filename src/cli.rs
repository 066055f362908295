//! The command line: every subcommand and flag, each flag's doc comment being its `--help` text.
//!
//! Flags are grouped by the component they configure (cluster, batching, files, redaction and
//! filtering); the structs here hold plain values, and `backfill.rs` turns them into running parts.

use crate::transform::{FieldFilter, HashKey, IndexNaming, Preset, RedactRule, Transform, TransformSpec};
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Deserialize;
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
    /// Import CloudTrail log files once: local files or folders (read recursively).
    Backfill(BackfillArgs),
}

/// `cloudtrail-es backfill`.
#[derive(Debug, Args)]
pub struct BackfillArgs {
    /// Log files or folders of them (gzip or plain JSON; digest files are skipped).
    #[arg(required = true, value_name = "SOURCE")]
    pub sources: Vec<String>,
    /// Write the bulk NDJSON to PATH (`-` for stdout) instead of sending it to a cluster.
    #[arg(long, short, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Where events that cannot be indexed are written, with their reasons (JSON lines, appended).
    #[arg(long, value_name = "PATH", default_value = "cloudtrail-es-dead-letters.ndjson")]
    pub dead_letter: PathBuf,
    /// Index names are PREFIX-YYYY.MM.DD (UTC day of eventTime).
    #[arg(long, value_name = "PREFIX", default_value = "cloudtrail")]
    pub index_prefix: String,
    /// Reader threads (decompression and parsing); default: one per CPU.
    #[arg(long, value_name = "N")]
    pub readers: Option<usize>,
    /// Cluster connection and delivery.
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// What to hide in documents and which events to keep.
    #[command(flatten)]
    pub transform: TransformArgs,
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
    /// Basic-auth user; the password is read from ELASTICSEARCH_PASSWORD.
    #[arg(long, env = "ELASTICSEARCH_USER", value_name = "USER")]
    pub es_user: Option<String>,
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
    /// Seconds a failing batch is retried before what is left is dead-lettered.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub retry_timeout: u64,
    /// Seconds one request may take.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub request_timeout: u64,
    /// Do not install the index template at start.
    #[arg(long)]
    pub no_setup: bool,
}

/// The environment variable that may hold the `hash` key (when `--redact-key-file` is not given).
pub const REDACT_KEY_ENV: &str = "CLOUDTRAIL_ES_REDACT_KEY";

/// Redaction and filtering, shared by every command that indexes events. Field names are dotted
/// paths: `*` is one key or array element, `**` any number of levels, `\` escapes `.`, `*` or `=`
/// inside a key. The rule types also read from strings in a config file (same syntax).
#[derive(Clone, Debug, Default, Args, Deserialize)]
#[command(next_help_heading = "Redaction and filtering")]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct TransformArgs {
    /// Hide a field in every document: PATH[=remove|mask|hash] (default remove; repeatable).
    ///
    /// PATH is dotted from the top of the event: `*` is one key or array element, `**` any number
    /// of levels, and `\` before `.`, `*` or `=` makes it part of a key name. Examples:
    /// userIdentity.accessKeyId, responseElements.credentials.*=mask,
    /// requestParameters.**.password=hash, resources.*.ARN. `mask` keeps the last 4 characters of strings longer
    /// than 8 (`****WXYZ`); `hash` writes the hex HMAC-SHA256 of the value with the redaction key,
    /// so equal values stay equal. A matched object or array is hidden whole. When several rules
    /// match a field, the last one given wins (presets come first). The original value is written
    /// nowhere: not in documents, dead letters or logs.
    #[arg(long = "redact", value_name = "PATH[=MODE]")]
    pub redact: Vec<RedactRule>,
    /// Hide a preset list of fields: `credentials` (access key IDs, session tokens, secret keys;
    /// listed in the README), optionally with a mode: credentials=hash.
    #[arg(long = "redact-preset", value_name = "NAME[=MODE]")]
    pub redact_preset: Vec<Preset>,
    /// File holding the secret key for `hash` (its bytes, trailing newlines ignored). Without it,
    /// the key is read from env CLOUDTRAIL_ES_REDACT_KEY.
    #[arg(long, value_name = "PATH")]
    pub redact_key_file: Option<PathBuf>,
    /// Keep only events whose FIELD has a value matching GLOB (`*`: any characters, `?`: one).
    ///
    /// FIELD is a path as for --redact. Repeatable: globs given for the same FIELD are
    /// alternatives, and every FIELD named must match: --include eventSource=s3.amazonaws.com --include eventSource=iam.amazonaws.com
    /// --include userIdentity.userName=alice keeps alice's S3 and IAM events. Numbers and booleans
    /// compare as their JSON text (readOnly=false); arrays by their elements; a missing field
    /// never matches.
    #[arg(long = "include", value_name = "FIELD=GLOB")]
    pub include: Vec<FieldFilter>,
    /// Drop events whose FIELD has a value matching GLOB (repeatable; any match drops the event,
    /// whatever the --include flags say): --exclude 'eventName=Describe*' --exclude 'eventName=Get*'.
    #[arg(long = "exclude", value_name = "FIELD=GLOB")]
    pub exclude: Vec<FieldFilter>,
    /// Keep only operations people did in the AWS Management Console (the rule is in the README,
    /// "What counts as a console operation"). Combines with --include/--exclude: all must pass.
    #[arg(long)]
    pub console_only: bool,
}

impl TransformArgs {
    /// The transform step these flags describe (reads the key file or the environment).
    pub fn build(&self, naming: IndexNaming) -> anyhow::Result<Transform> {
        let key = match (&self.redact_key_file, std::env::var_os(REDACT_KEY_ENV)) {
            (Some(path), _) => Some(HashKey::from_file(path)?),
            (None, Some(value)) if !value.is_empty() => {
                Some(HashKey::new(value.as_encoded_bytes(), REDACT_KEY_ENV)?)
            }
            _ => None,
        };
        let spec = TransformSpec {
            presets: self.redact_preset.clone(),
            redact: self.redact.clone(),
            key,
            include: self.include.clone(),
            exclude: self.exclude.clone(),
            console_only: self.console_only,
        };
        Ok(Transform::new(naming, spec)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<BackfillArgs, clap::Error> {
        let argv = ["cloudtrail-es", "backfill", "src"].iter().chain(args);
        Cli::try_parse_from(argv).map(|cli| match cli.command {
            Command::Backfill(b) => b,
        })
    }

    #[test]
    fn transform_flags_parse_into_rules() {
        let b = parse(&[
            "--redact",
            "userIdentity.accessKeyId",
            "--redact=responseElements.credentials.*=mask",
            "--redact-preset",
            "credentials=hash",
            "--include",
            "eventSource=s3.amazonaws.com",
            "--exclude",
            "eventName=Describe*",
            "--console-only",
        ])
        .unwrap();
        let t = &b.transform;
        assert_eq!(t.redact.len(), 2);
        assert_eq!(t.redact[1].to_string(), "responseElements.credentials.*=mask");
        assert_eq!(t.redact_preset[0].to_string(), "credentials=hash");
        assert_eq!(t.include[0].to_string(), "eventSource=s3.amazonaws.com");
        assert!(t.console_only);
    }

    #[test]
    fn bad_rules_are_flag_errors() {
        for (args, want) in [
            (&["--redact", "a..b"][..], "empty segment"),
            (&["--redact", "a=scramble"], "remove, mask or hash"),
            (&["--redact-preset", "secrets"], "expected credentials"),
            (&["--include", "eventName"], "FIELD=GLOB"),
        ] {
            let err = parse(args).unwrap_err().to_string();
            assert!(err.contains(want), "{args:?}: {err}");
        }
    }

    #[test]
    fn hash_without_a_key_names_the_flags() {
        let args = TransformArgs { redact: vec!["a=hash".parse().unwrap()], ..Default::default() };
        // The test environment does not set the key variable.
        if std::env::var_os(REDACT_KEY_ENV).is_none() {
            let err = args.build(IndexNaming { prefix: "ct".into() }).err().unwrap().to_string();
            assert!(err.contains("--redact a=hash needs a secret key"), "{err}");
            assert!(err.contains("--redact-key-file") && err.contains(REDACT_KEY_ENV), "{err}");
        }
    }

    #[test]
    fn the_group_reads_from_a_config_document() {
        let t: TransformArgs = serde_json::from_value(serde_json::json!({
            "redact": ["userIdentity.accessKeyId=hash"],
            "redact-preset": ["credentials"],
            "exclude": ["eventName=Get*"],
            "console-only": true
        }))
        .unwrap();
        assert_eq!(t.redact[0].to_string(), "userIdentity.accessKeyId=hash");
        assert!(t.console_only);
        assert!(serde_json::from_value::<TransformArgs>(serde_json::json!({"redakt": []})).is_err());
    }
}
