//! The Elasticsearch (and OpenSearch) output: sends batches to `_bulk`, several at a time, and
//! settles every event.
//!
//! For each batch: send; on a connection error or a busy cluster (429/502/503/504), wait and send
//! again; on a 200, sort the items: created or already present are delivered, busy items are sent
//! again (only them), and items rejected for good go to the dead-letter file. When the retry
//! patience runs out, what is left is dead-lettered with the last reason. Nothing is dropped.
//!
//! - `encode.rs`: the wire format (action lines), used by the readers through [`BulkFraming`];
//! - `response.rs`: what a `_bulk` reply says about each item (pure).

pub mod encode;
pub mod response;

pub use encode::{BulkFraming, IndexNaming, Op};

use super::batch::{line, Batch, BatchItem};
use super::dead_letter::{DeadLetter, DeadLetters, Payload};
use crate::ack::Delivery;
use crate::backoff::Backoff;
use crate::cluster::{ClusterInfo, EsClient, Flavor};
use crate::stats::{Health, Stats};
use bytes::Bytes;
use futures::StreamExt;
use response::{describe_reply_error, parse_response, retryable_request, ItemOutcome};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc::Receiver;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, warn};

/// Where to send: Elasticsearch 8.18 and later can leave the document out of its rejection
/// reasons (`include_source_on_error=false`), so that no event value comes back in a reason;
/// OpenSearch refuses the parameter. The reasons are scrubbed anyway (`response.rs`).
fn bulk_path(info: &ClusterInfo) -> &'static str {
    match info.flavor {
        Flavor::Elasticsearch if info.major_minor() >= (8, 18) => "/_bulk?include_source_on_error=false",
        _ => "/_bulk",
    }
}

/// How the bulk output sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BulkSettings {
    /// Bulk requests in flight at once.
    pub concurrency: usize,
    /// Waits between retries of a batch, and how long a batch may keep failing.
    pub backoff: Backoff,
}

/// Sends batches to a cluster.
pub struct BulkOutput {
    client: EsClient,
    path: &'static str,
    retry: Backoff,
    concurrency: usize,
    dead: Arc<DeadLetters>,
    stats: Arc<Stats>,
    abort: CancellationToken,
}

/// What one send of a batch left to do.
enum Attempt {
    /// Every item is settled.
    Done,
    /// These items must be sent again, for this reason.
    Again(Batch, String),
}

impl BulkOutput {
    /// An output with `settings.concurrency` bulk requests in flight. Cancelling `abort` makes
    /// batches waiting to be retried give up: their events are settled as failed (not
    /// dead-lettered), so their files are read again by a later run.
    pub fn new(
        client: EsClient,
        info: &ClusterInfo,
        settings: BulkSettings,
        dead: Arc<DeadLetters>,
        stats: Arc<Stats>,
        abort: CancellationToken,
    ) -> Self {
        let concurrency = settings.concurrency.max(1);
        let path = bulk_path(info);
        BulkOutput { client, path, retry: settings.backoff, concurrency, dead, stats, abort }
    }

    /// Delivers every batch received until the channel closes.
    pub async fn run(&self, batches: Receiver<Batch>) {
        tokio_stream::wrappers::ReceiverStream::new(batches)
            .for_each_concurrent(self.concurrency, |batch| self.deliver(batch))
            .await;
    }

    /// Sends one batch until each of its items is delivered or dead-lettered.
    async fn deliver(&self, mut batch: Batch) {
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            let (rest, reason) = match self.send_once(batch).await {
                Attempt::Done => return,
                Attempt::Again(rest, reason) => (rest, reason),
            };
            attempt += 1;
            let wait = self.retry.delay(attempt);
            if self.retry.exhausted(started, wait) {
                let reason = format!("gave up after {attempt} attempts: {reason}");
                error!(events = rest.items.len(), "{}: {reason}", self.client.url());
                self.dead_letter(rest, None, &reason);
                return;
            }
            warn!(events = rest.items.len(), attempt, "retrying in {wait:?}: {reason}");
            tokio::select! {
                _ = tokio::time::sleep(wait) => batch = rest,
                _ = self.abort.cancelled() => return self.abandon(rest),
            }
        }
    }

    async fn send_once(&self, batch: Batch) -> Attempt {
        let body = Bytes::from(batch.body);
        let items = batch.items;
        let reply = match self.client.bulk(self.path, body.clone()).await {
            Ok(reply) => reply,
            Err(e) => {
                Health::failing(&self.stats.health.es_failing_since);
                return Attempt::Again(Batch { body: body.into(), items }, e.to_string());
            }
        };
        if retryable_request(reply.status) {
            Health::failing(&self.stats.health.es_failing_since);
        } else {
            Health::ok(&self.stats.health.es_failing_since);
        }
        if reply.status != 200 {
            let reason = format!("HTTP {} from _bulk: {}", reply.status, describe_reply_error(&reply.body));
            let batch = Batch { body: body.into(), items };
            if retryable_request(reply.status) {
                return Attempt::Again(batch, reason);
            }
            error!("{}: {reason}", self.client.url());
            self.dead_letter(batch, Some(reply.status), &reason);
            return Attempt::Done;
        }
        match parse_response(&reply.body, items.len()) {
            Ok(outcomes) => self.settle(&body, items, outcomes),
            Err(reason) => Attempt::Again(Batch { body: body.into(), items }, reason),
        }
    }

    /// Settles items by their outcomes; returns the ones to send again.
    fn settle(&self, body: &[u8], items: Vec<BatchItem>, outcomes: Vec<ItemOutcome>) -> Attempt {
        let (mut again, mut rejected) = (Batch::default(), Batch::default());
        let mut reasons = Vec::new();
        let (mut created, mut present, mut last_retry) = (0, 0, String::new());
        for (item, outcome) in items.into_iter().zip(outcomes) {
            match outcome {
                ItemOutcome::Created => {
                    created += 1;
                    self.stats.delivered_time(item.time);
                    item.ack.settle(Delivery::Delivered);
                }
                ItemOutcome::AlreadyPresent => {
                    present += 1;
                    self.stats.delivered_time(item.time);
                    item.ack.settle(Delivery::Delivered);
                }
                ItemOutcome::Retry(reason) => {
                    last_retry = reason;
                    again.push_from(body, item);
                }
                ItemOutcome::Rejected { status, reason } => {
                    reasons.push((status, reason));
                    rejected.push_from(body, item);
                }
            }
        }
        Stats::add(&self.stats.events_indexed, created);
        Stats::add(&self.stats.events_present, present);
        debug!(created, present, retry = again.items.len(), rejected = rejected.items.len(), "bulk response");
        if !rejected.is_empty() {
            self.dead_letter_each(rejected, reasons);
        }
        if again.is_empty() {
            Attempt::Done
        } else {
            let reason = format!("{} events not accepted yet ({last_retry})", again.items.len());
            Attempt::Again(again, reason)
        }
    }

    /// Gives up on a batch without dead-lettering it: its files are not finished.
    fn abandon(&self, batch: Batch) {
        Stats::add(&self.stats.events_failed, batch.items.len() as u64);
        for item in batch.items {
            item.ack.settle(Delivery::Failed);
        }
    }

    /// Dead-letters every item of `batch` with the same reason.
    fn dead_letter(&self, batch: Batch, status: Option<u16>, reason: &str) {
        let reasons = vec![(status.unwrap_or(0), reason.to_string()); batch.items.len()];
        self.dead_letter_each(batch, reasons);
    }

    /// Writes each item with its own `(status, reason)`, then settles it.
    fn dead_letter_each(&self, batch: Batch, reasons: Vec<(u16, String)>) {
        let letters = batch.items.iter().zip(&reasons).map(|(item, (status, reason))| DeadLetter {
            file: item.ack.file(),
            reason,
            status: (*status != 0).then_some(*status),
            action: serde_json::from_slice(line(&batch.body, &item.action)).ok(),
            event: Payload::from_bytes(line(&batch.body, &item.document)),
        });
        let written = self.dead.write_all(letters);
        let n = batch.items.len() as u64;
        let delivery = match &written {
            Ok(()) => {
                Stats::add(&self.stats.events_dead, n);
                warn!(
                    events = n,
                    "rejected: {} (dead letters in {})",
                    reasons[0].1,
                    self.dead.path().display()
                );
                Delivery::DeadLettered
            }
            Err(e) => {
                Stats::add(&self.stats.events_failed, n);
                error!(events = n, "cannot write dead letters to {}: {e}", self.dead.path().display());
                Delivery::Failed
            }
        };
        for item in batch.items {
            item.ack.settle(delivery);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_left_out_of_reasons_where_the_cluster_can() {
        let info = |flavor, version: &str| ClusterInfo { flavor, version: version.into() };
        assert_eq!(
            bulk_path(&info(Flavor::Elasticsearch, "8.19.21")),
            "/_bulk?include_source_on_error=false"
        );
        assert_eq!(bulk_path(&info(Flavor::Elasticsearch, "9.2.0")), "/_bulk?include_source_on_error=false");
        assert_eq!(bulk_path(&info(Flavor::Elasticsearch, "8.17.4")), "/_bulk");
        assert_eq!(bulk_path(&info(Flavor::OpenSearch, "3.6.0")), "/_bulk");
    }
}
