//! Sinks: where bulk items go. Either a cluster (`elasticsearch.rs`, through the one client layer
//! in `client.rs`) or an NDJSON file (`file.rs`). Both settle each event's acknowledgement, and both
//! send what cannot be delivered to the dead-letter file (`dead_letter.rs`).

pub mod batch;
pub mod bulk;
pub mod client;
pub mod dead_letter;
pub mod elasticsearch;
pub mod file;
pub mod retry;

use crate::cli::ClusterArgs;
use crate::stats::Stats;
use anyhow::Context;
use batch::Batch;
use client::EsClient;
use dead_letter::DeadLetters;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::Receiver;
use tokio_util::sync::CancellationToken;
use tracing::info;

/// Where batches go.
pub enum Sink {
    /// A cluster's `_bulk` API.
    Cluster(elasticsearch::BulkSink),
    /// An NDJSON file or stdout.
    File(file::FileSink),
}

impl Sink {
    /// The `--output` file if one is given, else the cluster: checked (an unreachable or
    /// unauthenticated cluster is an error here), with the index template installed unless
    /// `--no-setup`. Retries give up after `patience` (None: never).
    pub async fn build(
        output: Option<&Path>,
        cluster: &ClusterArgs,
        index_prefix: &str,
        patience: Option<Duration>,
        dead: &Arc<DeadLetters>,
        stats: &Arc<Stats>,
        abort: &CancellationToken,
    ) -> anyhow::Result<Sink> {
        if let Some(path) = output {
            let file = file::FileSink::open(path)
                .with_context(|| format!("cannot create --output {}", path.display()))?;
            return Ok(Sink::File(file));
        }
        let client = EsClient::new(&cluster.connection.client_config(cluster.compress))?;
        let info = client.info().await?;
        info!("{} is {:?} {}", client.url(), info.flavor, info.version);
        if !cluster.no_setup {
            crate::setup::install_template(&client, &info, index_prefix).await?;
        }
        let retry = retry::RetryPolicy {
            patience: patience.unwrap_or(Duration::MAX),
            ..retry::RetryPolicy::default()
        };
        let bulk = elasticsearch::BulkSink::new(
            client,
            retry,
            cluster.bulk_concurrency,
            dead.clone(),
            stats.clone(),
            abort.clone(),
        );
        Ok(Sink::Cluster(bulk))
    }

    /// Delivers batches until the readers close the channel.
    pub async fn run(self, batches: Receiver<Batch>, stats: &Arc<Stats>) -> anyhow::Result<()> {
        match self {
            Sink::Cluster(bulk) => bulk.run(batches).await,
            Sink::File(file) => {
                let stats = stats.clone();
                tokio::task::spawn_blocking(move || file.run(batches, &stats))
                    .await?
                    .context("cannot write --output")?;
            }
        }
        Ok(())
    }
}
