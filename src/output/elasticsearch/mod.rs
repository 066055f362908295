//! The Elasticsearch (and OpenSearch) output: sends batches to `_bulk`, several at a time, and
//! settles every event.
//!
//! How many requests are in flight is learnt from the cluster's answers (`concurrency.rs`): up
//! to `--bulk-concurrency` batches are taken at once, and each attempt of each batch first takes
//! a permit of the adaptive limit, holding it through the backoff wait that may follow.
//!
//! For each batch: send; on a connection error or a busy cluster (429/502/503/504), wait and send
//! again; on a 413 (too large), split the batch in halves and send each (an event too large alone
//! is dead-lettered with its size); on a 200, sort the items: created or already present are
//! delivered, busy items are sent again (only them), and items rejected for good go to the
//! dead-letter file. When the retry patience runs out, what is left is *not* dead-lettered: it
//! failed for want of a cluster, so it is settled as failed and its file or message stays
//! unfinished for a later run (see `retry.rs`). Nothing is dropped.
//!
//! - `concurrency.rs`: the adaptive limit on requests in flight, and the wait of a pushback streak;
//! - `encode.rs`: the wire format (action lines), used by the readers through [`BulkFraming`];
//! - `names.rs`: the names of the daily indices (and of what `setup` installs for them);
//! - `refresh.rs`: refresh off while a backfill writes to an index, and back afterwards;
//! - `response.rs`: what a `_bulk` reply says about each item (pure);
//! - `settle.rs`: what becomes of each item once answered (delivered, dead-lettered, given up);
//! - `retry.rs`: why a batch is retried, the wake-up after an outage, the 413 split.

pub mod concurrency;
pub mod encode;
pub mod names;
pub mod refresh;
pub mod refresh_marker;
pub mod response;
pub mod retry;
mod settle;

pub use encode::{BulkFraming, Op};
pub use names::IndexNames;

use super::batch::Batch;
use super::dead_letter::DeadLetters;
use crate::backoff::Backoff;
use crate::cluster::{ClusterInfo, EsClient, Flavor};
use crate::stats::{Health, Stats};
use bytes::Bytes;
use concurrency::{Concurrency, Permit, Signal};
use futures::StreamExt;
use response::{describe_reply_error, parse_response, pushback, retryable_request, ItemOutcome};
use retry::{halves, Recovery, Why};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::Receiver;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, warn};

/// Where to send: Elasticsearch 8.18 and later can leave the document out of its rejection
/// reasons (`include_source_on_error=false`), so that no event value comes back in a reason;
/// OpenSearch refuses the parameter. The reasons are scrubbed anyway (`response.rs`).
///
/// The answer keeps only what is read of it (`filter_path`: each item's status and error, and a
/// whole-request error): a full answer repeats index, id, version and shard counts for each of
/// thousands of items, about 200 bytes each, held and parsed for nothing. Not on Serverless,
/// whose answers are left as they are.
fn bulk_path(info: &ClusterInfo) -> &'static str {
    match info.flavor {
        _ if info.serverless => "/_bulk",
        Flavor::Elasticsearch if info.major_minor() >= (8, 18) => {
            "/_bulk?include_source_on_error=false&filter_path=error,status,items.*.status,items.*.error"
        }
        _ => "/_bulk?filter_path=error,status,items.*.status,items.*.error",
    }
}

/// How the bulk output sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BulkSettings {
    /// The most bulk requests in flight at once (the adaptive limit's upper bound).
    pub concurrency: usize,
    /// Waits between retries of a batch, and how long a batch may keep failing.
    pub backoff: Backoff,
    /// How long items the cluster answers with 429/5xx inside a 200 are retried (finite even
    /// when the backoff's patience is not, so that one refused document cannot hold a slot).
    pub item_patience: Duration,
    /// Refresh relaxed on the indices written (a backfill) or kept (`refresh.rs`).
    pub refresh: refresh::RefreshSettings,
}

/// Sends batches to a cluster.
pub struct BulkOutput {
    client: EsClient,
    flavor: Flavor,
    path: &'static str,
    retry: Backoff,
    item_patience: Duration,
    concurrency: usize,
    limit: Concurrency,
    dead: Arc<DeadLetters>,
    stats: Arc<Stats>,
    abort: CancellationToken,
    recovery: Recovery,
    refresh: Option<refresh::RefreshRelax>,
}

/// What one send of a batch left to do.
enum Attempt {
    /// Every item is settled.
    Done,
    /// These items must be sent again, for this reason.
    Again(Batch, Why, String),
    /// The request was too large: send each half.
    Split(Batch, Batch),
}

impl BulkOutput {
    /// [`BulkOutput::new`], after restoring what `settings.refresh.legacy_state` says a version
    /// before left without refresh (a failure to read or rewrite that record stops the command).
    pub async fn open(
        client: EsClient,
        info: &ClusterInfo,
        settings: BulkSettings,
        dead: Arc<DeadLetters>,
        stats: Arc<Stats>,
        abort: CancellationToken,
    ) -> Result<Self, refresh::RefreshError> {
        if let Some(state) = &settings.refresh.legacy_state {
            refresh::restore_leftovers(&client, &crate::state::RefreshRecord::beside(state)).await?;
        }
        Ok(Self::new(client, info, settings, dead, stats, abort))
    }

    /// An output with `settings.concurrency` bulk requests in flight. Cancelling `abort` makes
    /// batches waiting to be retried give up (a request in flight finishes its attempt): their
    /// events are settled as failed (not dead-lettered), so their files are read again later.
    pub fn new(
        client: EsClient,
        info: &ClusterInfo,
        settings: BulkSettings,
        dead: Arc<DeadLetters>,
        stats: Arc<Stats>,
        abort: CancellationToken,
    ) -> Self {
        let concurrency = settings.concurrency.max(1);
        let item_patience = settings.item_patience;
        let recovery = Recovery::default();
        // OpenSearch Serverless has no index settings: refresh is left as it is.
        let refresh = match settings.refresh.rule {
            refresh::RefreshRule::Relax { today } if !client.serverless() => {
                Some(refresh::RefreshRelax::new(client.clone(), today))
            }
            _ => None,
        };
        stats.bulk_limit_max.store(concurrency as u64, Relaxed);
        let limit = Concurrency::new(concurrency);
        stats.bulk_limit.store(limit.limit() as u64, Relaxed);
        BulkOutput {
            client,
            flavor: info.flavor,
            path: bulk_path(info),
            retry: settings.backoff,
            item_patience,
            concurrency,
            limit,
            dead,
            stats,
            abort,
            recovery,
            refresh,
        }
    }

    /// The kind of cluster it sends to.
    pub fn flavor(&self) -> Flavor {
        self.flavor
    }

    /// The client it sends with.
    pub fn client(&self) -> &EsClient {
        &self.client
    }

    /// Delivers every batch received until the channel closes: up to `--bulk-concurrency` batches
    /// at once, their requests within the adaptive limit. Then puts back the refresh it relaxed.
    pub async fn run(&self, batches: Receiver<Batch>) {
        tokio_stream::wrappers::ReceiverStream::new(batches)
            .for_each_concurrent(self.concurrency, |batch| self.deliver(batch))
            .await;
        if let Some(relax) = &self.refresh {
            relax.restore().await;
        }
    }

    /// Sends one batch (and the halves it is split into) until each of its items is settled.
    async fn deliver(&self, batch: Batch) {
        self.stats.health.work_arrived(batch.items.len() as u64);
        if let Some(relax) = &self.refresh {
            relax.relax(&batch).await;
        }
        let mut pieces = vec![batch];
        while let Some(piece) = pieces.pop() {
            if let Some((first, second)) = self.deliver_piece(piece).await {
                pieces.push(second);
                pieces.push(first);
            }
        }
    }

    /// Sends one batch until each of its items is settled, or until it is split.
    async fn deliver_piece(&self, mut batch: Batch) -> Option<(Batch, Batch)> {
        let started = Instant::now();
        let mut items_since = None;
        let mut attempt = 0;
        // Set once an attempt may have been applied without our hearing it (see `settle`).
        let mut unheard = false;
        loop {
            let Some(permit) = self.admit(attempt > 0).await else {
                self.abandon(batch);
                return None;
            };
            let (rest, why, reason) = match self.send_once(batch, &permit, &mut unheard).await {
                Attempt::Done => return None,
                Attempt::Split(first, second) => return Some((first, second)),
                Attempt::Again(rest, why, reason) => (rest, why, reason),
            };
            attempt += 1;
            let wait = self.limit.delay(&self.retry, attempt);
            let items_out = why == Why::Items
                && Backoff { patience: self.item_patience, ..self.retry }
                    .exhausted(*items_since.get_or_insert_with(Instant::now), wait);
            if items_out || self.retry.exhausted(started, wait) {
                self.unavailable(rest, &format!("gave up after {attempt} attempts: {reason}"));
                return None;
            }
            warn!(events = rest.items.len(), attempt, "retrying in {wait:?}: {reason}");
            let back = self.recovery.back();
            tokio::pin!(back);
            back.as_mut().enable();
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                // The cluster answers again: no need to sit out a backoff grown during the outage.
                _ = &mut back, if why == Why::Cluster => attempt = 0,
                _ = self.abort.cancelled() => {
                    self.abandon(rest);
                    return None;
                }
            }
            // The permit goes back between attempts: after a cut, this batch waits its turn.
            drop(permit);
            batch = rest;
        }
    }

    /// A permit to send. After a signal (`abort`), a retry is not sent, nor a first attempt into a
    /// cluster that is failing: `None`, the batch is given up (left unfinished).
    async fn admit(&self, retry: bool) -> Option<Permit<'_>> {
        let give_up = || self.abort.is_cancelled() && (retry || self.recovery.is_failing());
        if give_up() {
            return None;
        }
        let permit = tokio::select! {
            permit = self.limit.acquire() => permit,
            _ = self.abort.cancelled(), if retry => return None,
        };
        (!give_up()).then_some(permit)
    }

    /// Tells the adaptive limit what an answer said, and shows the limit.
    fn learn(&self, permit: &Permit<'_>, signal: Signal) {
        if signal == Signal::Pushback {
            Stats::add(&self.stats.bulk_pushbacks, 1);
        }
        if let Some(limit) = self.limit.record(permit, signal) {
            debug!(limit, max = self.limit.max(), ?signal, "bulk concurrency changed");
            self.stats.bulk_limit.store(limit as u64, Relaxed);
        }
    }

    /// One attempt. `unheard` is set when the request may have been applied although no usable
    /// answer came back (no answer, 502/504 from a proxy in front, an unreadable body).
    async fn send_once(&self, batch: Batch, permit: &Permit<'_>, unheard: &mut bool) -> Attempt {
        let body = Bytes::from(batch.body);
        let items = batch.items;
        let sent = Instant::now();
        let reply = self.client.bulk(self.path, body.clone()).await;
        let rtt = sent.elapsed();
        let reply = match reply {
            Ok(reply) => reply,
            Err(e) => {
                *unheard = true;
                self.learn(permit, Signal::Pushback);
                Health::failing(&self.stats.health.es_failing_since);
                self.recovery.failed();
                return Attempt::Again(
                    Batch { body: body.into(), items, spares: None },
                    Why::Cluster,
                    e.to_string(),
                );
            }
        };
        if matches!(reply.status, 502 | 504) {
            *unheard = true;
        }
        if reply.status != 200 {
            let busy = pushback(reply.status, false);
            self.learn(permit, if busy { Signal::Pushback } else { Signal::Neutral });
        }
        if retryable_request(reply.status) {
            Health::failing(&self.stats.health.es_failing_since);
            self.recovery.failed();
        } else {
            Health::ok(&self.stats.health.es_failing_since);
            self.recovery.succeeded();
        }
        if reply.status == 413 && items.len() > 1 {
            debug!(events = items.len(), bytes = body.len(), "HTTP 413 from _bulk: splitting the batch");
            let (first, second) = halves(Batch { body: body.into(), items, spares: None });
            return Attempt::Split(first, second);
        }
        if reply.status != 200 {
            let mut reason =
                format!("HTTP {} from _bulk: {}", reply.status, describe_reply_error(&reply.body));
            if reply.status == 413 {
                reason = format!(
                    "HTTP 413 from _bulk: this event alone is too large for the cluster ({} bytes \
                     with its action line; see the cluster's http.max_content_length)",
                    body.len()
                );
            }
            let batch = Batch { body: body.into(), items, spares: None };
            if retryable_request(reply.status) {
                return Attempt::Again(batch, Why::Cluster, reason);
            }
            error!("{}: {reason}", self.client.url());
            self.dead_letter(batch, Some(reply.status), &reason);
            return Attempt::Done;
        }
        match parse_response(&reply.body, items.len()) {
            Ok(outcomes) => {
                let busy = outcomes
                    .iter()
                    .any(|o| matches!(o, ItemOutcome::Retry { status, .. } if pushback(*status, true)));
                self.learn(permit, if busy { Signal::Pushback } else { Signal::Answered(rtt) });
                self.settle(&body, items, outcomes, *unheard)
            }
            Err(reason) => {
                *unheard = true;
                self.learn(permit, Signal::Neutral);
                Attempt::Again(Batch { body: body.into(), items, spares: None }, Why::Cluster, reason)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_left_out_of_reasons_where_the_cluster_can() {
        let info = |flavor, version: &str| ClusterInfo { flavor, version: version.into(), serverless: false };
        let filter = "filter_path=error,status,items.*.status,items.*.error";
        let recent = format!("/_bulk?include_source_on_error=false&{filter}");
        assert_eq!(bulk_path(&info(Flavor::Elasticsearch, "8.19.21")), recent);
        assert_eq!(bulk_path(&info(Flavor::Elasticsearch, "9.2.0")), recent);
        assert_eq!(bulk_path(&info(Flavor::Elasticsearch, "8.17.4")), format!("/_bulk?{filter}"));
        assert_eq!(bulk_path(&info(Flavor::OpenSearch, "3.6.0")), format!("/_bulk?{filter}"));
        let serverless = ClusterInfo { serverless: true, ..info(Flavor::OpenSearch, "serverless") };
        assert_eq!(bulk_path(&serverless), "/_bulk");
    }
}
