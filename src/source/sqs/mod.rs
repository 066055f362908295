//! The SQS source for `follow`: receive notifications, read the files they name, delete each
//! message only once everything it points to is safe.
//!
//! - `notification.rs` reads a message body (CloudTrail/SNS, S3 events, EventBridge);
//! - `inflight.rs` keeps the messages being worked on and decides delete or keep;
//! - this file runs the loops: receive (long polling, at most `max_in_flight` messages at once,
//!   which is also the backpressure when the cluster is slow or down), acknowledge (delete on a
//!   safe verdict), and keep the visibility timeout of in-flight messages extended.

pub mod enqueue;
pub mod inflight;
pub mod notification;

use crate::ack::FileDone;
use crate::errors::chain;
use crate::source::layout::{classify, KeyKind};
use crate::source::s3::fetch::Fetcher;
use crate::source::s3::S3Object;
use crate::source::LogFile;
use crate::stats::{Health, Stats};
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};
use inflight::{InFlight, Tracker, Verdict};
use notification::Notice;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

/// SQS long-poll wait, the API's maximum.
const WAIT_SECONDS: i32 = 20;
/// Messages per receive, the API's maximum.
const MAX_PER_RECEIVE: usize = 10;

/// How `follow` uses its queue.
#[derive(Clone, Debug)]
pub struct QueueSettings {
    /// The queue URL.
    pub queue_url: String,
    /// Visibility timeout set on received messages, and kept extended while they are worked on.
    pub visibility: Duration,
    /// Messages worked on at once.
    pub max_in_flight: usize,
}

/// Counters about the queue.
#[derive(Debug, Default)]
pub struct QueueStats {
    /// Messages received.
    pub received: AtomicU64,
    /// Messages deleted after their files were safe (or that needed no work).
    pub deleted: AtomicU64,
    /// Messages left in the queue because a file failed.
    pub kept: AtomicU64,
    /// Messages that are not notifications we understand, left for the dead-letter queue.
    pub invalid: AtomicU64,
}

/// Consumes one queue.
pub struct Consumer {
    sqs: aws_sdk_sqs::Client,
    fetcher: Arc<Fetcher>,
    settings: QueueSettings,
    files: Mutex<Option<flume::Sender<LogFile>>>,
    tracker: Mutex<Tracker>,
    slots: Arc<Semaphore>,
    /// Counters about the queue.
    pub queue: Arc<QueueStats>,
    stats: Arc<Stats>,
}

impl Consumer {
    /// A consumer feeding `files` to the readers.
    pub fn new(
        sqs: aws_sdk_sqs::Client,
        fetcher: Arc<Fetcher>,
        settings: QueueSettings,
        files: flume::Sender<LogFile>,
        stats: Arc<Stats>,
    ) -> Arc<Self> {
        let slots = Arc::new(Semaphore::new(settings.max_in_flight.max(1)));
        Arc::new(Consumer {
            sqs,
            fetcher,
            settings,
            files: Mutex::new(Some(files)),
            tracker: Mutex::new(Tracker::default()),
            slots,
            queue: Arc::new(QueueStats::default()),
            stats,
        })
    }

    /// Runs until `stop`; then finishes the messages in flight within `grace`, and if they do not
    /// finish in time cancels `abort` (their messages stay in the queue). Returns when the readers'
    /// acknowledgements (`done`) have all come back.
    pub async fn run(
        self: Arc<Self>,
        done: UnboundedReceiver<FileDone>,
        stop: CancellationToken,
        abort: CancellationToken,
        grace: Duration,
    ) {
        let acks = tokio::spawn(self.clone().acknowledge(done));
        let extender = tokio::spawn(self.clone().extend_visibility());
        self.receive(&stop).await;
        let all = self.settings.max_in_flight.max(1) as u32;
        match tokio::time::timeout(grace, self.slots.acquire_many(all)).await {
            Ok(_) => info!("stopped: every message in flight finished"),
            Err(_) => {
                let left = self.tracker.lock().map(|t| t.len()).unwrap_or(0);
                warn!("stopped: {left} messages not finished within the grace period stay in the queue");
                abort.cancel();
            }
        }
        // Closing the readers' queue lets them, and then the sink, drain and stop.
        self.files.lock().ok().and_then(|mut f| f.take());
        let _ = acks.await;
        extender.abort();
    }

    /// The receive loop: a receive only when a slot is free, so work in flight is bounded.
    async fn receive(self: &Arc<Self>, stop: &CancellationToken) {
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
            let request = self
                .sqs
                .receive_message()
                .queue_url(&self.settings.queue_url)
                .max_number_of_messages(slots.len() as i32)
                .wait_time_seconds(WAIT_SECONDS)
                .visibility_timeout(self.settings.visibility.as_secs() as i32)
                .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
                .send();
            let received = tokio::select! { r = request => r, _ = stop.cancelled() => return };
            match received {
                Ok(output) => {
                    failures = 0;
                    Health::ok(&self.stats.health.sqs_failing_since);
                    for message in output.messages.unwrap_or_default() {
                        let Some(slot) = slots.pop() else { break };
                        Stats::add(&self.queue.received, 1);
                        tokio::spawn(self.clone().handle(message, slot));
                    }
                }
                Err(e) => {
                    failures += 1;
                    Health::failing(&self.stats.health.sqs_failing_since);
                    let wait = Duration::from_secs(1 << failures.min(5));
                    error!(
                        "{}: cannot receive: {} (retrying in {wait:?})",
                        self.settings.queue_url,
                        chain(&e)
                    );
                    tokio::select! { _ = tokio::time::sleep(wait) => {}, _ = stop.cancelled() => return }
                }
            }
        }
    }

    /// One message: understand it, then hand its files to the readers.
    async fn handle(self: Arc<Self>, message: Message, slot: OwnedSemaphorePermit) {
        let id = message.message_id.clone().unwrap_or_default();
        let receipt = message.receipt_handle.clone().unwrap_or_default();
        let body = message.body.as_deref().unwrap_or_default();
        let objects = match notification::parse(body) {
            Err(why) => {
                Stats::add(&self.queue.invalid, 1);
                let excerpt: String = body.chars().take(200).collect();
                warn!("SQS message {id}: {why}; left in the queue for its dead-letter queue: {excerpt:?}");
                return;
            }
            Ok(Notice::Ignore(what)) => {
                debug!("SQS message {id}: {what}, deleted");
                return self.delete(&id, &receipt).await;
            }
            Ok(Notice::Objects(objects)) => objects,
        };
        let objects: Vec<_> = objects
            .into_iter()
            .filter(|o| match classify(&o.key) {
                KeyKind::Digest => {
                    debug!("s3://{}/{}: digest file, skipped", o.bucket, o.key);
                    false
                }
                _ => true,
            })
            .collect();
        if objects.is_empty() {
            return self.delete(&id, &receipt).await;
        }
        let in_flight = InFlight {
            message_id: id,
            receipt,
            waiting: objects.len(),
            failure: None,
            extended_at: Instant::now(),
            _slot: slot,
        };
        let Some(ticket) = self.tracker.lock().ok().map(|mut t| t.start(in_flight)) else { return };
        for o in objects {
            let object = S3Object { bucket: o.bucket, key: o.key, size: 0 };
            let url = object.url();
            match self.fetcher.ready(object).await {
                Ok(file) => {
                    let sender = self.files.lock().ok().and_then(|f| f.clone());
                    let sent = match sender {
                        Some(tx) => tx.send_async(LogFile { ticket, ..file }).await.is_ok(),
                        None => false,
                    };
                    if !sent {
                        self.file_failed(ticket, format!("{url}: not read, shutting down")).await;
                    }
                }
                Err(reason) => {
                    error!("{url}: {reason}");
                    Stats::add(&self.stats.files_failed, 1);
                    self.file_failed(ticket, format!("{url}: {reason}")).await;
                }
            }
        }
    }

    async fn file_failed(&self, ticket: u64, reason: String) {
        let verdict = self.tracker.lock().ok().and_then(|mut t| t.file_failed(ticket, reason));
        self.conclude(verdict).await;
    }

    /// The acknowledgement loop: each file that comes back may finish its message.
    async fn acknowledge(self: Arc<Self>, mut done: UnboundedReceiver<FileDone>) {
        while let Some(file) = done.recv().await {
            let verdict = self.tracker.lock().ok().and_then(|mut t| t.file_done(&file));
            self.conclude(verdict).await;
        }
    }

    async fn conclude(&self, verdict: Option<Verdict>) {
        match verdict {
            None => {}
            Some(Verdict::Delete { message_id, receipt }) => self.delete(&message_id, &receipt).await,
            Some(Verdict::Keep { message_id, reason }) => {
                Stats::add(&self.queue.kept, 1);
                warn!("SQS message {message_id} left in the queue (it will be received again): {reason}");
            }
        }
    }

    async fn delete(&self, id: &str, receipt: &str) {
        let request = self.sqs.delete_message().queue_url(&self.settings.queue_url).receipt_handle(receipt);
        match request.send().await {
            Ok(_) => {
                debug!("SQS message {id} deleted");
                Stats::add(&self.queue.deleted, 1);
            }
            // It will be received again; its events are already in, and re-sending them is a no-op.
            Err(e) => error!("SQS message {id}: cannot delete: {}", chain(&e)),
        }
    }

    /// Keeps messages in flight invisible to other consumers while they are worked on.
    async fn extend_visibility(self: Arc<Self>) {
        let visibility = self.settings.visibility;
        let every = (visibility / 3).clamp(Duration::from_secs(1), Duration::from_secs(60));
        loop {
            tokio::time::sleep(every).await;
            let due = Instant::now().checked_sub(visibility / 2).unwrap_or_else(Instant::now);
            let messages = self.tracker.lock().map(|mut t| t.due_for_extension(due)).unwrap_or_default();
            for (id, receipt) in messages {
                let request = self
                    .sqs
                    .change_message_visibility()
                    .queue_url(&self.settings.queue_url)
                    .receipt_handle(receipt)
                    .visibility_timeout(visibility.as_secs() as i32);
                match request.send().await {
                    Ok(_) => debug!("SQS message {id}: visibility extended by {visibility:?}"),
                    Err(e) => warn!("SQS message {id}: cannot extend visibility: {}", chain(&e)),
                }
            }
        }
    }
}
