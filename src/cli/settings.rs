//! Flags (and `--config`, already turned into flags) become plain settings, here and only here.
//! Below the face nothing knows a flag: components take these structs, and messages that must
//! name a flag or an environment variable get the name from [`Labels`].

use super::cluster::{ClusterArgs, ConnectionArgs, SetupArgs};
use super::select::{AwsFlags, QueueFlags, SelectArgs};
use super::{BackfillArgs, FollowArgs, IndexingArgs};
use crate::aws::AwsSettings;
use crate::backoff::Backoff;
use crate::cluster::{ClusterSettings, Labels};
use crate::command::backfill::{BackfillSettings, SelectSettings};
use crate::command::follow::{FollowSettings, ServiceSettings};
use crate::command::indexing::{IndexingSettings, Target};
use crate::command::setup::SetupSettings;
use crate::output::batch::BatchLimits;
use crate::output::elasticsearch::BulkSettings;
use crate::pipeline::ReaderSettings;
use crate::setup::templates::Names;
use crate::setup::Options;
use crate::source::layout::LayoutFilter;
use crate::source::sqs::QueueSettings;
use crate::source::SourceSpec;
use crate::transform::TransformSpec;
use std::time::Duration;

/// A non-empty environment variable.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl ConnectionArgs {
    /// Client settings from these flags and the environment (secrets only ever from the
    /// environment, in the variables --es-password-env and --es-api-key-env name).
    pub fn cluster_settings(&self, compress: bool) -> ClusterSettings {
        ClusterSettings {
            url: self.url.clone(),
            user: self.es_user.clone(),
            password: env(&self.es_password_env),
            api_key: env(&self.es_api_key_env),
            ca_cert: self.ca_cert.clone(),
            insecure: self.insecure,
            compress,
            timeout: Duration::from_secs(self.request_timeout.max(1)),
            labels: Labels {
                password_env: self.es_password_env.clone(),
                api_key_env: self.es_api_key_env.clone(),
                ..Labels::default()
            },
        }
    }
}

impl SetupArgs {
    /// What `setup` is asked to do.
    pub fn settings(&self) -> SetupSettings {
        let cluster = self.connection.cluster_settings(false);
        SetupSettings {
            options: Options {
                names: match self.ecs.namespace() {
                    Some(namespace) => Names::ecs(namespace),
                    None => Names::new(&self.index_prefix),
                },
                retention_days: self.retention_days,
                dry_run: self.dry_run,
            },
            kibana: self.kibana.as_ref().map(|url| self.kibana_settings(url, &cluster)),
            cluster,
        }
    }

    /// Kibana: its own user if given, else the cluster's credentials; the cluster's TLS settings.
    fn kibana_settings(&self, url: &str, cluster: &ClusterSettings) -> ClusterSettings {
        let mut kibana = ClusterSettings { url: url.to_string(), ..cluster.clone() };
        kibana.labels.url = "--kibana".into();
        if self.kibana_user.is_some() {
            kibana.user = self.kibana_user.clone();
            kibana.password = env("KIBANA_PASSWORD");
            kibana.api_key = None;
            kibana.labels.user = "--kibana-user".into();
            kibana.labels.password_env = "KIBANA_PASSWORD".into();
            kibana.labels.api_key_env = String::new();
        }
        kibana
    }
}

/// The shared part of backfill and follow. `default_patience`: how long a failing batch is retried
/// when `--retry-timeout` is not given.
fn indexing(
    ix: &IndexingArgs,
    cluster: &ClusterArgs,
    transform: &super::TransformArgs,
    default_patience: Duration,
) -> anyhow::Result<IndexingSettings> {
    let target = match &ix.output {
        Some(path) => Target::File(path.clone()),
        None => Target::Cluster {
            cluster: Box::new(cluster.connection.cluster_settings(cluster.compress)),
            bulk: BulkSettings {
                concurrency: cluster.bulk_concurrency.max(1),
                backoff: Backoff {
                    initial: Duration::from_millis(200),
                    max_delay: Duration::from_secs(cluster.retry_max_delay.max(1)),
                    patience: cluster.retry_timeout.map_or(default_patience, Duration::from_secs),
                },
            },
            install_template: !cluster.no_setup,
        },
    };
    let namespace = ix.ecs.namespace();
    Ok(IndexingSettings {
        transform: TransformSpec { ecs: namespace.map(str::to_string), ..transform.spec()? },
        target,
        dead_letter: ix.dead_letter.clone(),
        names: match namespace {
            Some(namespace) => Names::ecs(namespace),
            None => Names::new(&ix.index_prefix),
        },
        readers: ReaderSettings {
            readers: ix.readers.unwrap_or_else(ReaderSettings::default_readers).max(1),
            batch: BatchLimits { max_bytes: cluster.batch_bytes, max_events: cluster.batch_events.max(1) },
            queued_batches: cluster.bulk_concurrency.max(1) * 2,
        },
    })
}

impl AwsFlags {
    fn settings(&self) -> AwsSettings {
        AwsSettings { profile: self.profile.clone(), region: self.aws_region.clone() }
    }
}

impl SelectArgs {
    fn settings(&self) -> SelectSettings {
        let today = chrono::Utc::now().date_naive();
        let start = self.start.or_else(|| self.since.map(|days| today - chrono::Days::new(u64::from(days))));
        // An open-ended range ends today, so that day folders can be listed one by one.
        let end = self.end.or(start.map(|_| today));
        SelectSettings {
            filter: LayoutFilter {
                start,
                end,
                accounts: self.accounts.clone(),
                regions: self.regions.clone(),
            },
            any_key: self.any_key,
            state: self.state.clone(),
            shard: self.shard,
            concurrency: self.concurrency.max(1),
        }
    }
}

impl BackfillArgs {
    /// What this backfill reads and where it goes (reads the redaction key, if any).
    pub fn settings(&self) -> anyhow::Result<BackfillSettings> {
        Ok(BackfillSettings {
            sources: self.sources.iter().map(|s| SourceSpec::parse(s)).collect(),
            select: self.select.settings(),
            to_queue: self.to_queue.clone(),
            aws: self.aws.settings(),
            indexing: indexing(&self.indexing, &self.cluster, &self.transform, Duration::from_secs(300))?,
        })
    }
}

impl QueueFlags {
    fn service(&self) -> ServiceSettings {
        ServiceSettings {
            shutdown_timeout: Duration::from_secs(self.shutdown_timeout),
            status_interval: Duration::from_secs(self.status_interval.max(1)),
            metrics_addr: self.metrics_addr,
            unhealthy_after: Duration::from_secs(self.unhealthy_after),
        }
    }
}

impl FollowArgs {
    /// What this follower consumes and where it sends (reads the redaction key, if any).
    pub fn settings(&self) -> anyhow::Result<FollowSettings> {
        let q = &self.queue_flags;
        Ok(FollowSettings {
            queue: QueueSettings {
                queue_url: self.queue.clone(),
                visibility: Duration::from_secs(q.visibility_timeout.max(1)),
                max_in_flight: q.max_in_flight.max(1),
            },
            aws: self.aws.settings(),
            // Follow retries until the cluster is back unless told otherwise: the queue keeps the rest.
            indexing: indexing(&self.indexing, &self.cluster, &self.transform, Duration::MAX)?,
            service: q.service(),
        })
    }
}
