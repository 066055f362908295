//! The command line: every subcommand and flag, each flag's doc comment being its `--help` text.
//!
//! Flags are grouped by the component they configure (connection, delivery, files, Kibana); the
//! structs here hold plain values, and `backfill.rs` / `setup/` turn them into running parts.

use crate::sink::client::ClientConfig;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

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
    /// Prepare the cluster (templates, lifecycle policy) and optionally Kibana (dashboard).
    Setup(SetupArgs),
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
    #[arg(long, value_name = "PREFIX", default_value = "cloudtrail", value_parser = parse_prefix)]
    pub index_prefix: String,
    /// Reader threads (decompression and parsing); default: one per CPU.
    #[arg(long, value_name = "N")]
    pub readers: Option<usize>,
    /// Cluster connection and delivery.
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// How to reach the cluster and send to it.
#[derive(Debug, Args)]
#[command(next_help_heading = "Cluster")]
pub struct ClusterArgs {
    /// Where the cluster is and how to log in.
    #[command(flatten)]
    pub connection: ConnectionArgs,
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
    /// Do not install the index template at start.
    #[arg(long)]
    pub no_setup: bool,
}

/// Where the cluster is and how to log in (shared by every command that talks to it).
#[derive(Debug, Args)]
#[command(next_help_heading = "Cluster")]
pub struct ConnectionArgs {
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
    /// Seconds one request may take.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub request_timeout: u64,
}

impl ConnectionArgs {
    /// Client settings from these flags and the environment (secrets only ever from the
    /// environment: ELASTICSEARCH_PASSWORD, ELASTICSEARCH_API_KEY).
    pub fn client_config(&self, compress: bool) -> ClientConfig {
        ClientConfig {
            url: self.url.clone(),
            user: self.es_user.clone(),
            password: env("ELASTICSEARCH_PASSWORD"),
            api_key: env("ELASTICSEARCH_API_KEY"),
            ca_cert: self.ca_cert.clone(),
            insecure: self.insecure,
            compress,
            timeout: Duration::from_secs(self.request_timeout.max(1)),
        }
    }
}

/// `cloudtrail-es setup`.
#[derive(Debug, Args)]
pub struct SetupArgs {
    /// Install for indices named PREFIX-YYYY.MM.DD.
    #[arg(long, value_name = "PREFIX", default_value = "cloudtrail", value_parser = parse_prefix)]
    pub index_prefix: String,
    /// Delete each daily index DAYS days after its day (ILM; on OpenSearch ISM: after its
    /// creation). Without it no lifecycle policy is installed and nothing is ever deleted.
    #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..))]
    pub retention_days: Option<u32>,
    /// Print what would be installed or changed, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Kibana or OpenSearch Dashboards URL: import the data view and the dashboard there.
    #[arg(long, env = "KIBANA_URL", value_name = "URL", help_heading = "Kibana")]
    pub kibana: Option<String>,
    /// Kibana basic-auth user, password from KIBANA_PASSWORD; default: the cluster's credentials.
    #[arg(long, env = "KIBANA_USER", value_name = "USER", help_heading = "Kibana")]
    pub kibana_user: Option<String>,
    /// Where the cluster is and how to log in.
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

impl SetupArgs {
    /// Kibana client settings: its own user if given, else the cluster's credentials; the
    /// cluster's TLS settings.
    pub fn kibana_config(&self, url: &str) -> ClientConfig {
        let mut config = self.connection.client_config(false);
        config.url = url.to_string();
        if self.kibana_user.is_some() {
            config.user = self.kibana_user.clone();
            config.password = env("KIBANA_PASSWORD");
            config.api_key = None;
        }
        config
    }
}

/// A non-empty environment variable.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Index names must be lowercase and free of the characters Elasticsearch forbids.
pub fn parse_prefix(prefix: &str) -> Result<String, String> {
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
