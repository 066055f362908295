//! Outputs: where documents go. Each output owns its wire format (its [`batch::Frame`]) and
//! settles every event's acknowledgement; what cannot be delivered goes to the dead-letter file
//! (`dead_letter/`, the writer), which every stage shares; `dead_letter_ship.rs` carries them on to S3 or SQS
//! where a local file would not last (the Lambda function).
//!
//! - `elasticsearch/`: a cluster's `_bulk` API (framing in `encode.rs`, replies in `response.rs`,
//!   sending and retrying in `mod.rs`), through the cluster client (`crate::cluster`);
//! - `file.rs`: the same `_bulk` NDJSON into a file or stdout (`--output`);
//! - `queue.rs`: announcing S3 objects on an SQS queue instead of reading them (`--to-queue`);
//! - `alert/`: messages about matching events (chat, webhook, SNS), beside the index or instead
//!   of it (`--no-index`: [`Output::Discard`]).
//!
//! The command's wiring opens the output with its framing (`command/indexing.rs`): it probes the
//! cluster and installs templates first, so an output only sends (and, for a backfill, relaxes
//! and restores the refresh of the indices it writes: `elasticsearch/refresh.rs`).

pub mod alert;
pub mod batch;
pub mod dead_letter;
pub mod dead_letter_ship;
pub mod elasticsearch;
pub mod file;
pub mod queue;

use crate::stats::Stats;
use anyhow::Context;
use batch::Batch;
use std::sync::Arc;
use tokio::sync::mpsc::Receiver;

/// Where batches go.
pub enum Output {
    /// A cluster's `_bulk` API.
    Cluster(Box<elasticsearch::BulkOutput>),
    /// An NDJSON file or stdout.
    File(file::FileOutput),
    /// Nowhere (`--no-index`): documents are settled at once; only alerts are sent.
    Discard,
}

impl Output {
    /// True when the documents go to an engine that refuses a leaf of a free-form object too long
    /// for one term (OpenSearch's `flat_object`): the transform must move such leaves
    /// (`transform/long_values.rs`), and gets the keyword copies of
    /// `transform/keyword_copies.rs`. Elasticsearch and files take the event as written.
    pub fn refuses_long_leaves(&self) -> bool {
        matches!(self, Output::Cluster(bulk) if bulk.flavor() == crate::cluster::Flavor::OpenSearch)
    }

    /// Delivers batches until the readers close the channel.
    pub async fn run(self, batches: Receiver<Batch>, stats: &Arc<Stats>) -> anyhow::Result<()> {
        match self {
            Output::Cluster(bulk) => bulk.run(batches).await,
            Output::File(file) => {
                let stats = stats.clone();
                tokio::task::spawn_blocking(move || file.run(batches, &stats))
                    .await?
                    .context("cannot write --output")?;
            }
            Output::Discard => alert::discard(batches).await,
        }
        Ok(())
    }
}
