//! What `backfill` and `follow` share: the transform, the output and the reader pool, built from
//! [`IndexingSettings`].
//!
//! The output is built here, not by the output itself: for a cluster, the client is made, the
//! cluster is asked what it is (an unreachable or unauthenticated cluster is an error here), and
//! the index template is installed (unless switched off), then the bulk output is made to send.

use crate::cluster::{ClusterSettings, EsClient};
use crate::output::batch::Frame;
use crate::output::dead_letter::DeadLetters;
use crate::output::elasticsearch::{BulkFraming, BulkOutput, BulkSettings};
use crate::output::file::FileOutput;
use crate::output::Output;
use crate::pipeline::{self, ReaderSettings, Started};
use crate::setup::templates::Names;
use crate::source::Unit;
use crate::stats::Stats;
use crate::transform::{Transform, TransformSpec};
use anyhow::Context;
use std::path::PathBuf;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tracing::info;

/// Where events go and how they are made into documents.
#[derive(Debug)]
pub struct IndexingSettings {
    /// Redaction and filters.
    pub transform: TransformSpec,
    /// A cluster or a file.
    pub target: Target,
    /// Where undeliverable events go.
    pub dead_letter: PathBuf,
    /// Index names are `PREFIX-YYYY.MM.DD` (with `--ecs`, the prefix is
    /// `logs-aws.cloudtrail-NAMESPACE`); the template installed at start is for them.
    pub names: Names,
    /// The reader pool.
    pub readers: ReaderSettings,
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
    },
    /// `_bulk` NDJSON into a file (`-`: stdout).
    File(PathBuf),
}

impl IndexingSettings {
    /// The transform these settings describe.
    pub fn transform(&mut self) -> anyhow::Result<Transform> {
        Ok(Transform::new(std::mem::take(&mut self.transform))?)
    }

    /// The documents' wire format.
    pub fn frame(&self) -> Arc<dyn Frame> {
        Arc::new(BulkFraming::create(&self.names.prefix))
    }

    /// Opens the output: for a cluster, checks it and installs the template first.
    pub async fn open_output(
        &self,
        dead: &Arc<DeadLetters>,
        stats: &Arc<Stats>,
        abort: &CancellationToken,
    ) -> anyhow::Result<Output> {
        let (cluster, bulk, install_template) = match &self.target {
            Target::File(path) => {
                let file = FileOutput::open(path)
                    .with_context(|| format!("cannot create --output {}", path.display()))?;
                return Ok(Output::File(file));
            }
            Target::Cluster { cluster, bulk, install_template } => (cluster, bulk, *install_template),
        };
        let client = EsClient::new(cluster)?;
        let info = client.info().await?;
        info!("{} is {:?} {}", client.url(), info.flavor, info.version);
        if install_template {
            crate::setup::install_template(&client, &info, &self.names).await?;
        }
        let bulk = BulkOutput::new(client, *bulk, dead.clone(), stats.clone(), abort.clone());
        Ok(Output::Cluster(Box::new(bulk)))
    }

    /// Starts the reader pool on `files`.
    pub fn start_readers(
        &self,
        transform: Transform,
        files: flume::Receiver<Unit>,
        dead: &Arc<DeadLetters>,
        stats: &Arc<Stats>,
        cancel: &CancellationToken,
    ) -> Started {
        pipeline::start(&self.readers, transform, self.frame(), files, dead, stats, cancel)
    }
}
