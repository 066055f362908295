//! What `backfill`, `follow`, `replay` and the Lambda function share: the transform, the output
//! and the reader pool, built from [`IndexingSettings`].
//!
//! The output is opened here, in one place, together with its framing ([`Opened`]): the readers
//! frame documents as that output expects them. For a cluster, the client is made, the cluster is
//! asked what it is (an unreachable or unauthenticated cluster is an error here), the index
//! template is installed (unless switched off) and the refresh an interrupted backfill left off is
//! restored; then the bulk output is opened, with its refresh settings (a backfill's relaxes
//! refresh itself: `output/elasticsearch/refresh.rs`).

use crate::cluster::{ClusterInfo, ClusterSettings, EsClient};
use crate::detect::{Detector, RuleSource};
use crate::output::alert::AlertTap;
use crate::output::batch::Frame;
use crate::output::dead_letter::DeadLetters;
use crate::output::elasticsearch::IndexNames;
use crate::output::elasticsearch::{refresh_marker, BulkFraming, BulkOutput, BulkSettings};
use crate::output::file::FileOutput;
use crate::output::Output;
use crate::reader_pool::{self, ReaderSettings, Started};
use crate::source::Unit;
use crate::stats::Stats;
use crate::transform::{Transform, TransformSpec};
use anyhow::Context;
use std::path::PathBuf;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// Where events go and how they are made into documents.
#[derive(Debug)]
pub struct IndexingSettings {
    /// Redaction and filters.
    pub transform: TransformSpec,
    /// A cluster or a file.
    pub target: Target,
    /// Where undeliverable events go.
    pub dead_letter: PathBuf,
    /// The largest document or record a dead letter keeps whole.
    pub dead_letter_max: usize,
    /// Index names are `PREFIX-YYYY.MM.DD` (with `--ecs`, the prefix is
    /// `logs-aws.cloudtrail-NAMESPACE`); the template installed at start is for them.
    pub names: IndexNames,
    /// The reader pool.
    pub readers: ReaderSettings,
    /// Sigma rules evaluated on every event (`--rules`; none: no detection).
    pub rules: Vec<RuleSource>,
}

/// A cluster checked and set up, from which outputs are made without another request.
#[derive(Clone)]
pub struct Connected {
    /// The client.
    pub client: EsClient,
    /// What the cluster said it is.
    pub info: ClusterInfo,
}

/// An output opened with its wire format: the readers frame documents with `frame` (with or
/// without `_id`, into the daily indices), `output` delivers them.
pub struct Opened {
    /// Delivers the batches.
    pub output: Output,
    /// Frames each document into a batch, as `output` expects it.
    pub frame: Arc<dyn Frame>,
}

/// Where documents are delivered.
#[derive(Debug)]
pub enum Target {
    /// A cluster.
    Cluster {
        /// How to reach it.
        cluster: Box<ClusterSettings>,
        /// How to send.
        bulk: BulkSettings,
        /// Install the index template at start.
        install_template: bool,
        /// Send documents without `_id` (the cluster picks ids: a re-run adds copies).
        allow_duplicates: bool,
    },
    /// `_bulk` NDJSON into a file (`-`: stdout).
    File(PathBuf),
    /// Nowhere (`follow --no-index`): only alerts are sent.
    Nowhere,
}

impl IndexingSettings {
    /// The transform these settings describe.
    pub fn transform(&mut self) -> anyhow::Result<Transform> {
        Ok(Transform::new(std::mem::take(&mut self.transform))?)
    }

    /// The Sigma rules, loaded and compiled (`None` without `--rules`). Each rule that cannot be
    /// used is named with its file and the reason; an explicitly named one stops the run.
    pub fn detector(&self, stats: &Stats) -> anyhow::Result<Option<Arc<Detector>>> {
        if self.rules.is_empty() {
            return Ok(None);
        }
        let (detector, skipped) = crate::detect::load(&self.rules)?;
        for s in &skipped {
            warn!("Sigma rule not loaded: {s}");
        }
        info!("{} Sigma rules loaded ({} skipped)", detector.rules().len(), skipped.len());
        Stats::add(&stats.rules_loaded, detector.rules().len() as u64);
        Ok(Some(Arc::new(detector)))
    }

    /// Opens the output with its framing: for a cluster, checks it and installs the template first.
    pub async fn open_output(
        &self,
        dead: &Arc<DeadLetters>,
        stats: &Arc<Stats>,
        abort: &CancellationToken,
    ) -> anyhow::Result<Opened> {
        let connected = self.connect().await?;
        self.output(connected.as_ref(), dead, stats, abort).await
    }

    /// For a cluster: makes the client, asks the cluster what it is and installs the template
    /// (unless switched off); `None` for a file or no output. Outputs made later from it
    /// ([`IndexingSettings::output`]) send no setup request.
    pub async fn connect(&self) -> anyhow::Result<Option<Connected>> {
        match self.client().await? {
            Some(client) => Ok(Some(self.set_up(client).await?)),
            None => Ok(None),
        }
    }

    /// The cluster's client (no request is sent); `None` for a file or no output.
    pub async fn client(&self) -> anyhow::Result<Option<EsClient>> {
        match &self.target {
            Target::Cluster { cluster, .. } => Ok(Some(super::client::build(cluster).await?)),
            _ => Ok(None),
        }
    }

    /// Asks the cluster what it is and installs the template (unless switched off).
    pub async fn set_up(&self, client: EsClient) -> anyhow::Result<Connected> {
        let (install_template, allow_duplicates) = match &self.target {
            Target::Cluster { install_template, allow_duplicates, .. } => {
                (*install_template, *allow_duplicates)
            }
            _ => (false, false),
        };
        let info = client.info().await?;
        info!("{} is {:?} {}", client.url(), info.flavor, info.version);
        if install_template {
            crate::setup::install_template(&client, &info, &self.names).await?;
        }
        if !client.serverless() {
            restore_interrupted(&client, &self.names.prefix).await;
        }
        if client.serverless() && !allow_duplicates {
            let scratch = format!("{}-id-check", self.names.prefix);
            if !client.accepts_ids(&scratch).await? {
                anyhow::bail!(
                    "{} refuses documents with their own _id (an OpenSearch Serverless time-series \
                     collection). cloudtrail-es gives each event its eventID as _id so that a re-run or a \
                     redelivered message adds nothing; use a search collection for that, or pass \
                     --allow-duplicates to send without _id, knowing that a re-run or a redelivered SQS \
                     message then adds copies",
                    client.url()
                );
            }
        } else if allow_duplicates {
            info!("--allow-duplicates: documents are sent without _id; a re-run adds copies");
        }
        Ok(Connected { client, info })
    }

    /// The output with its framing, for a cluster already `connected` (required for a cluster
    /// target). A cluster's restores what its refresh settings say an older version left relaxed
    /// (`refresh.rs`).
    pub async fn output(
        &self,
        connected: Option<&Connected>,
        dead: &Arc<DeadLetters>,
        stats: &Arc<Stats>,
        abort: &CancellationToken,
    ) -> anyhow::Result<Opened> {
        let framing = BulkFraming::for_names(self.names.clone());
        match (&self.target, connected) {
            (Target::File(path), _) => {
                let file = FileOutput::open(path)
                    .with_context(|| format!("cannot create --output {}", path.display()))?;
                Ok(Opened { output: Output::File(file), frame: Arc::new(framing) })
            }
            (Target::Nowhere, _) => Ok(Opened { output: Output::Discard, frame: Arc::new(framing) }),
            (Target::Cluster { bulk, allow_duplicates, .. }, Some(c)) => {
                let bulk = BulkOutput::open(
                    c.client.clone(),
                    &c.info,
                    bulk.clone(),
                    dead.clone(),
                    stats.clone(),
                    abort.clone(),
                )
                .await?;
                let frame: Arc<dyn Frame> =
                    if *allow_duplicates { Arc::new(framing.without_ids()) } else { Arc::new(framing) };
                Ok(Opened { output: Output::Cluster(Box::new(bulk)), frame })
            }
            (Target::Cluster { .. }, None) => {
                anyhow::bail!("the cluster output needs the cluster connected first")
            }
        }
    }

    /// Starts the reader pool on `files`, framing documents with `frame` (the output's:
    /// [`Opened::frame`]).
    #[allow(clippy::too_many_arguments)]
    pub fn start_readers(
        &self,
        transform: impl Into<Arc<Transform>>,
        frame: Arc<dyn Frame>,
        alerts: Option<AlertTap>,
        detector: Option<Arc<Detector>>,
        files: flume::Receiver<Unit>,
        dead: &Arc<DeadLetters>,
        stats: &Arc<Stats>,
        cancel: &CancellationToken,
    ) -> Started {
        return_large_buffers();
        reader_pool::start(
            &self.readers,
            transform.into(),
            frame,
            alerts,
            detector,
            files,
            dead,
            stats,
            cancel,
        )
    }
}

/// Puts back the refresh a backfill stopped before its end left off on `PREFIX-*` (any command
/// that opens the cluster does this). Never stops the command: a refusal is a warning.
pub async fn restore_interrupted(client: &crate::cluster::EsClient, prefix: &str) {
    if let Err(e) = refresh_marker::restore_interrupted(client, prefix, false).await {
        warn!("{}: cannot look for indices an interrupted backfill left without refresh: {e}", client.url());
    }
}

/// Makes glibc's allocator give every buffer of 1 MiB or more its own mapping, returned to the
/// system when freed. By default the threshold grows to the largest block freed, so after the
/// first batch bodies (up to `--batch-bytes`, 5 MB) are freed, the next ones come from the heaps of
/// the reader and runtime threads and what they leave is kept: measured on 100k events
/// (`scripts/bench/memory.sh`), a backfill into Elasticsearch peaked at 69 MB instead of 56, and
/// one into a file at 49 MB instead of 26.
fn return_large_buffers() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a tunable of the allocator; called before the reader threads start.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}
