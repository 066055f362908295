//! How to reach the cluster (shared by every command that talks to it), how to send to it, and
//! Kibana for `setup`.

use super::source::AwsFlags;
use super::{parse_index_prefix, EcsArgs};
use crate::cluster::sigv4::Service;
use clap::{Args, ValueEnum};
use std::path::PathBuf;

/// Where the cluster is and how to log in.
#[derive(Debug, Args)]
#[command(next_help_heading = "Cluster")]
pub struct ConnectionArgs {
    /// Elasticsearch or OpenSearch URL.
    #[arg(
        long = "es",
        env = "ELASTICSEARCH_URL",
        hide_env_values = true,
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
    /// Seconds one request may take.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub request_timeout: u64,
    /// Sign every request with AWS SigV4 (Amazon OpenSearch Service with IAM access control,
    /// OpenSearch Serverless), with the credentials of the AWS chain (--profile, AWS_* variables, roles).
    #[arg(long = "aws-sigv4", visible_alias = "sigv4", help_heading = "AWS")]
    pub aws_sigv4: bool,
    /// The service to sign for: es (a domain) or aoss (Serverless); default: from the host, else es.
    #[arg(long, value_name = "SERVICE", value_parser = parse_service, help_heading = "AWS")]
    pub aws_sigv4_service: Option<Service>,
    /// aoss: the cluster is an OpenSearch Serverless collection (signed for aoss; no cluster APIs, no
    /// ISM). Default: auto, Serverless for an *.aoss.amazonaws.com host or --aws-sigv4-service aoss.
    #[arg(long, value_enum, value_name = "FLAVOR", default_value = "auto")]
    pub flavor: FlavorArg,
}

/// `--flavor`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FlavorArg {
    /// Asked of the server (GET /), or Serverless by the host name.
    Auto,
    /// OpenSearch Serverless.
    Aoss,
}

fn parse_service(name: &str) -> Result<Service, String> {
    Service::parse(name)
        .ok_or_else(|| format!("{name:?} is not a SigV4 service for OpenSearch: use es or aoss"))
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
    /// Seconds a failing batch is retried before what is left is given up, unfinished
    /// (default: 300 for backfill; follow retries until the cluster is back).
    #[arg(long, value_name = "SECS")]
    pub retry_timeout: Option<u64>,
    /// Seconds events the cluster keeps refusing with 429/5xx in its answers are retried before
    /// they are left unfinished (default: --retry-timeout; 300 in follow).
    #[arg(long, value_name = "SECS")]
    pub item_retry_timeout: Option<u64>,
    /// The longest wait, in seconds, between two retries of a batch.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub retry_max_delay: u64,
    /// Do not install the index template at start.
    #[arg(long)]
    pub no_setup: bool,
    /// Send documents without _id, for an OpenSearch Serverless time-series collection (which
    /// refuses them): a re-run or a redelivered message then adds copies.
    #[arg(long)]
    pub allow_duplicates: bool,
}

/// `cloudtrail-es setup`.
#[derive(Debug, Args)]
pub struct SetupArgs {
    /// Install for indices named PREFIX-YYYY.MM.DD.
    #[arg(long, value_name = "PREFIX", default_value = "cloudtrail", value_parser = parse_index_prefix)]
    pub index_prefix: String,
    /// Delete each daily index DAYS days after its day (ILM; on OpenSearch ISM: after its
    /// creation). Without it no lifecycle policy is installed and nothing is ever deleted.
    #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..))]
    pub retention_days: Option<u32>,
    /// Print what would be installed or changed, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Install for --ecs documents: logs-aws.cloudtrail-NAMESPACE-*, with the ECS mappings.
    #[command(flatten)]
    pub ecs: EcsArgs,
    /// Kibana or OpenSearch Dashboards URL: import the data view and the dashboard there.
    #[arg(long, env = "KIBANA_URL", hide_env_values = true, value_name = "URL", help_heading = "Kibana")]
    pub kibana: Option<String>,
    /// Kibana basic-auth user, password from KIBANA_PASSWORD; default: the cluster's credentials.
    #[arg(long, env = "KIBANA_USER", value_name = "USER", help_heading = "Kibana")]
    pub kibana_user: Option<String>,
    /// Where the cluster is and how to log in.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// AWS profile and region, for --aws-sigv4.
    #[command(flatten)]
    pub aws: AwsFlags,
}
