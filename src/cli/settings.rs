//! Flags (and `--config`, already turned into flags) become plain settings, here and only here.
//! Below the face nothing knows a flag: components take these structs, and messages that must
//! name a flag or an environment variable get the name from [`Labels`].

use super::cluster::{ClusterArgs, ConnectionArgs, FlavorArg, SetupArgs};
use super::source::{AwsFlags, QueueFlags, SelectArgs};
use super::{BackfillArgs, FollowArgs, IndexingArgs, LambdaArgs, ReplayArgs, ReportArgs};
use crate::aws::AwsSettings;
use crate::backoff::Backoff;
use crate::cluster::sigv4::Service;
use crate::cluster::{ClusterSettings, Labels, SigV4Settings};
use crate::command::backfill::{BackfillSettings, SelectSettings};
use crate::command::follow::{FollowSettings, ServiceSettings};
use crate::command::indexing::{IndexingSettings, Target};
use crate::command::lambda::LambdaSettings;
use crate::command::replay::ReplaySettings;
use crate::command::report::{FileInput, ReportInput, ReportSettings};
use crate::command::setup::SetupSettings;
use crate::decode::DecodeSettings;
use crate::output::batch::BatchLimits;
use crate::output::dead_letter_ship::Destination;
use crate::output::elasticsearch::refresh::{RefreshRule, RefreshSettings};
use crate::output::elasticsearch::BulkSettings;
use crate::output::elasticsearch::IndexNames;
use crate::output::file::FILE_BATCH_BYTES;
use crate::reader_pool::ReaderSettings;
use crate::setup::Options;
use crate::source::layout::LayoutFilter;
use crate::source::notice::ObjectPolicy;
use crate::source::sqs::QueueSettings;
use crate::source::SourceSpec;
use crate::transform::TransformSpec;
use std::time::Duration;

/// A non-empty environment variable.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The warning for a password given in a URL on the command line, where every user of the machine
/// can read it (`ps`, `/proc/PID/cmdline`) for as long as the process runs.
pub fn url_password_warning(flag: &str, url: &str, password_env: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    parsed.password().is_some().then(|| {
        format!(
            "the password in {flag}'s URL is visible to other users in the process list for as long as \
             this runs: give the user with --es-user and the password in {password_env} instead"
        )
    })
}

impl ConnectionArgs {
    /// Client settings from these flags and the environment (secrets only ever from the
    /// environment, in the variables --es-password-env and --es-api-key-env name).
    pub fn cluster_settings(&self, compress: bool, aws: &AwsFlags) -> ClusterSettings {
        if let Some(warning) = url_password_warning("--es", &self.url, &self.es_password_env) {
            tracing::warn!("{warning}");
        }
        ClusterSettings {
            sigv4: self.sigv4(aws),
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

impl ConnectionArgs {
    /// SigV4 when asked for, or when the cluster is Serverless (it takes nothing else): by
    /// `--flavor aoss`, `--aws-sigv4-service aoss` or an `*.aoss.amazonaws.com` host.
    fn sigv4(&self, aws: &AwsFlags) -> Option<SigV4Settings> {
        let service = match self.flavor {
            FlavorArg::Aoss => Some(Service::Aoss),
            FlavorArg::Auto => self.aws_sigv4_service,
        };
        let settings = SigV4Settings::for_url(&self.url, service, aws.aws_region.clone(), aws.settings());
        (self.aws_sigv4 || settings.service == Service::Aoss).then_some(settings)
    }
}

impl SetupArgs {
    /// What `setup` is asked to do.
    pub fn settings(&self) -> SetupSettings {
        let cluster = self.connection.cluster_settings(false, &self.aws);
        SetupSettings {
            options: Options {
                names: match self.ecs.namespace() {
                    Some(namespace) => IndexNames::ecs(namespace),
                    None => IndexNames::new(&self.index_prefix),
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

/// Default patience, in seconds, for items refused with 429/5xx inside answered requests.
const ITEM_PATIENCE: u64 = 300;

/// The shared part of backfill and follow. `default_patience`: how long a failing batch is retried
/// when `--retry-timeout` is not given; items refused with 429/5xx get `--item-retry-timeout`, or
/// `--retry-timeout`, or at most 300 s.
fn indexing(
    ix: &IndexingArgs,
    cluster: &ClusterArgs,
    aws: &AwsFlags,
    transform: &super::TransformArgs,
    default_patience: Duration,
) -> anyhow::Result<IndexingSettings> {
    let target = match &ix.output {
        Some(path) => Target::File(path.clone()),
        None => Target::Cluster {
            cluster: Box::new(cluster.connection.cluster_settings(cluster.compress, aws)),
            bulk: BulkSettings {
                concurrency: cluster.bulk_concurrency.max(1),
                backoff: Backoff {
                    initial: Duration::from_millis(200),
                    max_delay: Duration::from_secs(cluster.retry_max_delay.max(1)),
                    patience: cluster.retry_timeout.map_or(default_patience, Duration::from_secs),
                },
                item_patience: Duration::from_secs(
                    cluster.item_retry_timeout.or(cluster.retry_timeout).unwrap_or(ITEM_PATIENCE),
                ),
                // Kept unless a backfill says otherwise.
                refresh: RefreshSettings::default(),
            },
            install_template: !cluster.no_setup,
            allow_duplicates: cluster.allow_duplicates,
        },
    };
    // A file takes batches of at most 1 MiB whatever --batch-bytes says: a batch's body is held,
    // and with --output reused, so smaller bodies keep the process smaller (file.rs).
    let batch_bytes = match &target {
        Target::File(_) => cluster.batch_bytes.min(FILE_BATCH_BYTES),
        _ => cluster.batch_bytes,
    };
    let namespace = ix.ecs.namespace();
    Ok(IndexingSettings {
        transform: TransformSpec {
            ecs: namespace.map(str::to_string),
            ecs_ingested: namespace.is_some() && !ix.ecs_documents.ecs_no_ingested,
            ..transform.spec()?
        },
        target,
        dead_letter: ix.dead_letter.clone(),
        dead_letter_max: ix.dead_letter_max_bytes as usize,
        names: match namespace {
            Some(namespace) => IndexNames::ecs(namespace),
            None => IndexNames::new(&ix.index_prefix),
        },
        readers: ReaderSettings {
            readers: ix.readers.unwrap_or_else(ReaderSettings::default_readers).max(1),
            batch: BatchLimits { max_bytes: batch_bytes, max_events: cluster.batch_events.max(1) },
            // One full batch ready beside those the output holds (--bulk-concurrency): the readers
            // fill batches far faster than a cluster takes them, and each one queued is a body of
            // up to --batch-bytes in memory (docs/design/memory.md: 8 queued made a backfill 90 MB).
            queued_batches: 1,
            decode: DecodeSettings {
                max_event_bytes: ix.max_event_bytes.max(1024),
                hold_bytes: ix.gzip_hold_bytes,
                ..DecodeSettings::default()
            },
        },
        rules: ix
            .sigma_rules
            .iter()
            .map(|r| r.parse().unwrap_or_else(|e: std::convert::Infallible| match e {}))
            .collect(),
    })
}

/// Backfill and follow write dead letters to a file: an S3 or SQS destination is the Lambda
/// function's (`lambda`), whose disk does not last.
fn local_dead_letter(ix: &IndexingArgs) -> anyhow::Result<()> {
    let text = ix.dead_letter.to_string_lossy();
    if Destination::parse(&text).is_ok_and(|d| d.is_remote()) {
        anyhow::bail!("--dead-letter {text}: S3 and SQS dead letters are for `lambda`; give a file here");
    }
    Ok(())
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
        local_dead_letter(&self.indexing)?;
        let select = self.select.settings();
        let mut indexing =
            indexing(&self.indexing, &self.cluster, &self.aws, &self.transform, Duration::from_secs(300))?;
        if let Target::Cluster { bulk, .. } = &mut indexing.target {
            bulk.refresh = RefreshSettings {
                rule: match self.keep_refresh {
                    true => RefreshRule::Keep,
                    false => RefreshRule::Relax { today: self.relax_today },
                },
                legacy_state: select.state.clone(),
            };
        }
        Ok(BackfillSettings {
            sources: self.sources.iter().map(|s| SourceSpec::parse(s)).collect(),
            select,
            to_queue: self.to_queue.clone(),
            aws: self.aws.settings(),
            indexing,
        })
    }
}

impl ReplayArgs {
    /// What this replay reads and where it sends (reads the redaction key, if any). Records are
    /// encoded with backfill's settings, from the same flags; no template is installed.
    pub fn settings(&self) -> anyhow::Result<ReplaySettings> {
        let ix = IndexingArgs {
            output: None,
            dead_letter: Default::default(),
            index_prefix: self.index_prefix.clone(),
            readers: Some(1),
            max_event_bytes: crate::decode::DEFAULT_MAX_EVENT_BYTES,
            // Replay writes its own letters' limit (a letter is kept whole up to its line cap).
            dead_letter_max_bytes: u32::MAX,
            gzip_hold_bytes: crate::decode::DEFAULT_HOLD_BYTES,
            sigma_rules: Vec::new(),
            ecs: self.ecs.clone(),
            ecs_documents: self.ecs_documents.clone(),
        };
        let mut indexing =
            indexing(&ix, &self.cluster, &self.aws, &self.transform, Duration::from_secs(300))?;
        // Replay installs nothing: the mapping was fixed by hand, and letters go back to their own
        // indices; re-installing our template could undo the fix.
        if let Target::Cluster { install_template, .. } = &mut indexing.target {
            *install_template = false;
        }
        Ok(ReplaySettings {
            input: self.input.clone(),
            dead_letter: self.dead_letter.clone(),
            max_line_bytes: self.max_line_bytes,
            indexing,
        })
    }
}

impl ReportArgs {
    /// What this report reads and where it goes (reads the redaction key, if any).
    pub fn settings(&self) -> anyhow::Result<ReportSettings> {
        if self.select.state.is_some() {
            anyhow::bail!("report reads every file it is given: --state is for backfill");
        }
        let transform = self.transform.spec()?;
        let select = self.select.settings();
        let input = if self.sources.is_empty() {
            let t = &self.transform;
            if !t.include.is_empty()
                || !t.exclude.is_empty()
                || !t.redact.is_empty()
                || !t.redact_preset.is_empty()
            {
                anyhow::bail!(
                    "a report from the cluster (no SOURCE) counts what is indexed: --include, --exclude and \
                     --redact apply to files (only --console-only and --start/--end/--since apply to the cluster)"
                );
            }
            if !select.filter.accounts.is_empty() || !select.filter.regions.is_empty() {
                anyhow::bail!(
                    "--account and --region select files: give SOURCE, or report on the whole cluster"
                );
            }
            if t.console_only && !self.sigma_rules.is_empty() {
                anyhow::bail!(
                    "--rules with --console-only from a cluster: the indexed findings cannot be narrowed \
                     to console operations (give SOURCE to evaluate the rules on the console operations only)"
                );
            }
            let day = |d: Option<chrono::NaiveDate>| d.map(|d| d.format("%Y-%m-%d").to_string());
            ReportInput::Cluster {
                cluster: Box::new(self.connection.cluster_settings(false, &self.aws)),
                query: crate::report::cluster::Query {
                    prefix: self.index_prefix.clone(),
                    console_only: t.console_only,
                    start: day(select.filter.start),
                    end: day(self.select.end),
                },
            }
        } else {
            ReportInput::Files(Box::new(FileInput {
                sources: self.sources.iter().map(|s| SourceSpec::parse(s)).collect(),
                select,
                aws: self.aws.settings(),
                transform,
                readers: self.readers.unwrap_or_else(ReaderSettings::default_readers).max(1),
                decode: DecodeSettings::default(),
            }))
        };
        let launch_events = if self.launch_events.is_empty() {
            crate::report::spec::LAUNCH_EVENTS.iter().map(|s| s.to_string()).collect()
        } else {
            self.launch_events.clone()
        };
        Ok(ReportSettings {
            input,
            html: self.html.clone(),
            json: self.json.clone(),
            options: crate::report::Options {
                with_reads: self.with_reads,
                launch_events,
                findings: !self.sigma_rules.is_empty(),
            },
            rules: self
                .sigma_rules
                .iter()
                .map(|r| r.parse().unwrap_or_else(|e: std::convert::Infallible| match e {}))
                .collect(),
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
        local_dead_letter(&self.indexing)?;
        let q = &self.queue_flags;
        let mut indexing =
            indexing(&self.indexing, &self.cluster, &self.aws, &self.transform, Duration::MAX)?;
        if self.alert.no_index {
            indexing.target = Target::Nowhere;
        }
        Ok(FollowSettings {
            queue: QueueSettings {
                queue_url: self.queue.clone(),
                visibility: Duration::from_secs(q.visibility_timeout.max(1)),
                max_in_flight: q.max_in_flight.max(1),
                allow_buckets: q.objects.allow_buckets.clone(),
                any_key: q.objects.any_key,
            },
            aws: self.aws.settings(),
            // Follow retries until the cluster is back unless told otherwise: the queue keeps the rest.
            indexing,
            service: q.service(),
            alerts: self.alert.settings()?,
        })
    }
}

impl LambdaArgs {
    /// What the function reads and where it sends (reads the redaction key, if any). Its disk
    /// does not last: dead letters go to S3, SQS or a lasting file system, and `--output` only to
    /// its log.
    pub fn settings(&self) -> anyhow::Result<LambdaSettings> {
        let dead_letter = self.indexing.dead_letter.to_string_lossy();
        let destination =
            Destination::parse(&dead_letter).map_err(|e| anyhow::anyhow!("--dead-letter {e}"))?;
        if matches!(&destination, Destination::File(path) if !path.is_absolute()) {
            anyhow::bail!(
                "--dead-letter (CLOUDTRAIL_ES_DEAD_LETTER) is {dead_letter:?}: a function's disk does not last; \
                 give s3://BUCKET/PREFIX, an SQS queue URL, or an absolute path on a lasting file system (EFS)"
            );
        }
        let mut indexing =
            indexing(&self.indexing, &self.cluster, &self.aws, &self.transform, Duration::MAX)?;
        match &indexing.target {
            Target::File(path) if path.as_os_str() != "-" => anyhow::bail!(
                "--output (CLOUDTRAIL_ES_OUTPUT) {}: a function's disk does not last; only `-` (the function's \
                 log) is taken",
                path.display()
            ),
            _ => {}
        }
        if self.alert.no_index {
            indexing.target = Target::Nowhere;
        }
        indexing.dead_letter_max = destination.max_document(indexing.dead_letter_max);
        Ok(LambdaSettings {
            indexing,
            dead_letter: destination,
            objects: ObjectPolicy {
                allow_buckets: self.objects.allow_buckets.clone(),
                any_key: self.objects.any_key,
            },
            aws: self.aws.settings(),
            alerts: self.alert.settings()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::url_password_warning;

    #[test]
    fn a_password_in_a_url_is_warned_about_without_being_shown() {
        let warning = url_password_warning("--es", "https://bob:s3cret@h:9200", "CT_PW").unwrap();
        assert!(warning.contains("process list") && warning.contains("CT_PW") && !warning.contains("s3cret"));
        assert_eq!(url_password_warning("--es", "https://bob@h:9200", "CT_PW"), None);
        assert_eq!(url_password_warning("--es", "not a url", "CT_PW"), None);
    }
}
