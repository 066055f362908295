//! The SQS source for `follow`: receive notifications, read the files they name, delete each
//! message only once everything it points to is safe.
//!
//! - `notification.rs` reads a message body (CloudTrail/SNS, S3 events, EventBridge; an
//!   EventBridge CloudTrail event is one record, read from the message itself as a one-event log);
//! - `verdict.rs` decides, from its files' acknowledgements, whether a message is deleted or kept;
//! - `queue.rs` is the seam to the queue (receive, delete, change visibility) and to the objects a
//!   message names, with the AWS SDK behind it (tests use in-memory ones: `tests.rs`);
//! - this file runs the receive loop (long polling, at most `max_in_flight` messages at once, which
//!   is also the backpressure when the cluster is slow or down) and one task per message: it
//!   emits the message's files with their acknowledgements, keeps the message invisible to others
//!   while it waits for their receipts, then deletes it (or leaves it) by the verdict.

pub mod notification;
pub mod queue;
pub mod verdict;

use crate::ack::Receipt;
use crate::backoff::Backoff;
use crate::source::layout::{classify, is_digest, KeyKind};
use crate::source::s3::fetch::Fetcher;
use crate::source::s3::S3Object;
use crate::source::{Location, LogFile, Unit};
use crate::stats::{Health, Stats};
use notification::Notice;
use queue::{Queue, Received};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};
use verdict::Verdict;

/// SQS long-poll wait. Less than the API's maximum (20 s): a poll still waiting at shutdown is let
/// finish (within the grace period) so that what it takes can be given back.
const WAIT: Duration = Duration::from_secs(10);
/// Messages per receive, the API's maximum.
const MAX_PER_RECEIVE: usize = 10;
/// Waits after a failed receive.
const RECEIVE_BACKOFF: Backoff = Backoff::unbounded(Duration::from_secs(2), Duration::from_secs(32));

/// How `follow` uses its queue.
#[derive(Clone, Debug)]
pub struct QueueSettings {
    /// The queue URL.
    pub queue_url: String,
    /// Visibility timeout set on received messages, and kept extended while they are worked on.
    pub visibility: Duration,
    /// Messages worked on at once.
    pub max_in_flight: usize,
    /// Only objects in these buckets are read (empty: any bucket).
    pub allow_buckets: Vec<String>,
    /// Read keys outside CloudTrail's layout too.
    pub any_key: bool,
}

impl QueueSettings {
    /// Why an object named by a message must not be read, if it must not: a follower reads with
    /// its own IAM role whatever a message names, so a message can only point it at the trail.
    pub fn refusal(&self, bucket: &str, key: &str) -> Option<&'static str> {
        if !self.allow_buckets.is_empty() && !self.allow_buckets.iter().any(|b| b == bucket) {
            return Some("the bucket is not in --allow-bucket");
        }
        match classify(key) {
            KeyKind::Log(_) | KeyKind::Digest => None,
            _ if self.any_key => None,
            _ => Some("the key is not in CloudTrail's layout (AWSLogs/…/CloudTrail*/REGION/YYYY/MM/DD/); --any-key reads it"),
        }
    }
}

/// Where the objects a message names are read from: S3 through [`Fetcher`] (tests: in memory).
pub trait Fetch: Send + Sync + 'static {
    /// The object, ready to be read, or why it cannot be.
    fn ready(&self, object: S3Object) -> impl Future<Output = Result<LogFile, String>> + Send;
}

impl Fetch for Arc<Fetcher> {
    fn ready(&self, object: S3Object) -> impl Future<Output = Result<LogFile, String>> + Send {
        Fetcher::ready(self, object)
    }
}

/// Consumes one queue.
pub struct Consumer<Q: Queue, F: Fetch = Arc<Fetcher>> {
    sqs: Q,
    fetcher: F,
    settings: QueueSettings,
    files: Mutex<Option<flume::Sender<Unit>>>,
    slots: Arc<Semaphore>,
    stats: Arc<Stats>,
}

impl<Q: Queue, F: Fetch> Consumer<Q, F> {
    /// A consumer feeding `files` to the readers.
    pub fn new(
        queue: Q,
        fetcher: F,
        settings: QueueSettings,
        files: flume::Sender<Unit>,
        stats: Arc<Stats>,
    ) -> Arc<Self> {
        let slots = Arc::new(Semaphore::new(settings.max_in_flight.max(1)));
        Arc::new(Consumer { sqs: queue, fetcher, settings, files: Mutex::new(Some(files)), slots, stats })
    }

    /// Runs until `stop`; then finishes the messages in flight within `grace`, and if they do not
    /// finish in time cancels `abort` (their messages stay in the queue). Returns when every
    /// message's task has ended.
    pub async fn run(self: Arc<Self>, stop: CancellationToken, abort: CancellationToken, grace: Duration) {
        // The grace period runs from the signal, for the long poll and the messages in flight alike.
        let deadline = async {
            stop.cancelled().await;
            tokio::time::Instant::now() + grace
        };
        let (deadline, ()) = tokio::join!(deadline, self.receive(&stop, grace));
        let all = self.settings.max_in_flight.max(1) as u32;
        match tokio::time::timeout_at(deadline, self.slots.acquire_many(all)).await {
            Ok(_) => info!("stopped: every message in flight finished"),
            Err(_) => {
                let left = all as usize - self.slots.available_permits();
                warn!("stopped: {left} messages not finished within the grace period stay in the queue");
                abort.cancel();
            }
        }
        // Closing the readers' queue lets them, and then the output, drain and stop.
        self.files.lock().ok().and_then(|mut f| f.take());
        // Every message task holds a slot until it ends.
        let _ = self.slots.acquire_many(all).await;
    }

    /// The receive loop: a receive only when a slot is free, so work in flight is bounded.
    async fn receive(self: &Arc<Self>, stop: &CancellationToken, grace: Duration) {
        let mut failures = 0u32;
        loop {
            let first = tokio::select! {
                slot = self.slots.clone().acquire_owned() => match slot { Ok(s) => s, Err(_) => return },
                _ = stop.cancelled() => return,
            };
            let mut slots = vec![first];
            while slots.len() < MAX_PER_RECEIVE {
                match self.slots.clone().try_acquire_owned() {
                    Ok(s) => slots.push(s),
                    Err(_) => break,
                }
            }
            let request = self.sqs.receive(slots.len(), WAIT, self.settings.visibility);
            tokio::pin!(request);
            let received = tokio::select! {
                r = &mut request => r,
                _ = stop.cancelled() => {
                    // Dropping a long poll would leave whatever it takes invisible for a whole
                    // visibility timeout, with nobody working on it: let it end, give it back.
                    let limit = (WAIT + Duration::from_secs(5)).min(grace);
                    if let Ok(Ok(messages)) = tokio::time::timeout(limit, request).await {
                        self.release(messages).await;
                    }
                    return;
                }
            };
            match received {
                Ok(messages) => {
                    failures = 0;
                    Health::ok(&self.stats.health.sqs_failing_since);
                    for message in messages {
                        let Some(slot) = slots.pop() else { break };
                        Stats::add(&self.stats.messages_received, 1);
                        tokio::spawn(self.clone().handle(message, slot));
                    }
                }
                Err(e) => {
                    failures += 1;
                    Health::failing(&self.stats.health.sqs_failing_since);
                    let wait = RECEIVE_BACKOFF.delay(failures);
                    error!("{}: cannot receive: {e} (retrying in {wait:?})", self.sqs.name());
                    tokio::select! { _ = tokio::time::sleep(wait) => {}, _ = stop.cancelled() => return }
                }
            }
        }
    }

    /// One message: understand it, then hand its files to the readers.
    async fn handle(self: Arc<Self>, message: Received, slot: OwnedSemaphorePermit) {
        let Received { id, receipt, body } = message;
        let objects = match notification::parse(&body) {
            Err(why) => {
                Stats::add(&self.stats.messages_invalid, 1);
                let excerpt: String = body.chars().take(200).collect();
                warn!("SQS message {id}: {why}; left in the queue for its dead-letter queue: {excerpt:?}");
                return;
            }
            Ok(Notice::Ignore(what)) => {
                debug!("SQS message {id}: {what}, deleted");
                return self.delete(&id, &receipt).await;
            }
            Ok(Notice::Objects(objects)) => objects,
            Ok(Notice::Record(log)) => return self.handle_record(id, receipt, log, slot).await,
        };
        if let Some((o, why)) =
            objects.iter().find_map(|o| Some((o, self.settings.refusal(&o.bucket, &o.key)?)))
        {
            Stats::add(&self.stats.messages_refused, 1);
            warn!(
                "SQS message {id}: s3://{}/{} refused: {why}; the message is left for its dead-letter queue",
                o.bucket, o.key
            );
            return;
        }
        let objects: Vec<_> = objects
            .into_iter()
            .filter(|o| {
                let digest = is_digest(&o.key);
                if digest {
                    debug!("s3://{}/{}: digest file, skipped", o.bucket, o.key);
                }
                !digest
            })
            .collect();
        if objects.is_empty() {
            return self.delete(&id, &receipt).await;
        }
        let mut receipts = Vec::with_capacity(objects.len());
        let mut failures = Vec::new();
        for o in objects {
            let object = S3Object { bucket: o.bucket, key: o.key, size: 0, region: o.region };
            let url = object.url();
            match self.fetcher.ready(object).await {
                Ok(file) => {
                    let (unit, file_receipt) = Unit::track(file);
                    let sender = self.files.lock().ok().and_then(|f| f.clone());
                    let sent = match sender {
                        Some(tx) => tx.send_async(unit).await.is_ok(),
                        None => false,
                    };
                    // A unit that was not sent is dropped unread: its receipt resolves as failed.
                    receipts.push(file_receipt);
                    if !sent {
                        failures.push(format!("{url}: not read, shutting down"));
                    }
                }
                Err(reason) => {
                    error!("{url}: {reason}");
                    Stats::add(&self.stats.files_failed, 1);
                    failures.push(format!("{url}: {reason}"));
                }
            }
        }
        let done = self.await_receipts(&id, &receipt, receipts).await;
        match verdict::decide(&done, failures) {
            Verdict::Delete => self.delete(&id, &receipt).await,
            Verdict::Keep(reason) => {
                Stats::add(&self.stats.messages_kept, 1);
                warn!("SQS message {id} left in the queue (it will be received again): {reason}");
            }
        }
        drop(slot);
    }

    /// An EventBridge CloudTrail event: its record is read like a one-event log file, and the
    /// message deleted once it is safe (indexed, its findings written, its alerts delivered).
    async fn handle_record(
        self: Arc<Self>,
        id: String,
        receipt: String,
        log: Vec<u8>,
        slot: OwnedSemaphorePermit,
    ) {
        let name: Arc<str> = format!("sqs message {id} (EventBridge)").into();
        let file = LogFile { name, location: Location::Stream(Box::new(std::io::Cursor::new(log))) };
        let (unit, file_receipt) = Unit::track(file);
        let sender = self.files.lock().ok().and_then(|f| f.clone());
        let mut failures = Vec::new();
        let sent = match sender {
            Some(tx) => tx.send_async(unit).await.is_ok(),
            None => false,
        };
        if !sent {
            failures.push("not read, shutting down".to_string());
        }
        let done = self.await_receipts(&id, &receipt, vec![file_receipt]).await;
        match verdict::decide(&done, failures) {
            Verdict::Delete => self.delete(&id, &receipt).await,
            Verdict::Keep(reason) => {
                Stats::add(&self.stats.messages_kept, 1);
                warn!("SQS message {id} left in the queue (it will be received again): {reason}");
            }
        }
        drop(slot);
    }

    /// Waits for every file of a message, keeping the message invisible to other consumers
    /// meanwhile.
    async fn await_receipts(
        &self,
        id: &str,
        receipt: &str,
        receipts: Vec<Receipt>,
    ) -> Vec<crate::ack::FileDone> {
        let visibility = self.settings.visibility;
        let every = (visibility / 2).clamp(Duration::from_secs(1), Duration::from_secs(60));
        let all = futures::future::join_all(receipts);
        tokio::pin!(all);
        let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            tokio::select! {
                done = &mut all => return done,
                _ = heartbeat.tick() => self.extend_visibility(id, receipt).await,
            }
        }
    }

    async fn delete(&self, id: &str, receipt: &str) {
        match self.sqs.delete(receipt).await {
            Ok(()) => {
                debug!("SQS message {id} deleted");
                Stats::add(&self.stats.messages_deleted, 1);
            }
            // It will be received again; its events are already in, and re-sending them is a no-op.
            Err(e) => error!("SQS message {id}: cannot delete: {e}"),
        }
    }

    /// Gives back messages received but not started (visibility 0), so that another consumer
    /// takes them at once.
    async fn release(&self, messages: Vec<Received>) {
        for Received { id, receipt, .. } in messages {
            match self.sqs.change_visibility(&receipt, Duration::ZERO).await {
                Ok(()) => info!("SQS message {id} received while stopping: released to the queue"),
                Err(e) => warn!("SQS message {id}: cannot release: {e}"),
            }
        }
    }

    /// Keeps one message invisible to other consumers for another visibility timeout.
    async fn extend_visibility(&self, id: &str, receipt: &str) {
        let visibility = self.settings.visibility;
        match self.sqs.change_visibility(receipt, visibility).await {
            Ok(()) => debug!("SQS message {id}: visibility extended by {visibility:?}"),
            Err(e) => warn!("SQS message {id}: cannot extend visibility: {e}"),
        }
    }
}

#[cfg(test)]
mod tests;
