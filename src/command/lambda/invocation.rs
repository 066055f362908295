//! One invocation: `follow`'s pipeline over the messages the invocation brings, within its deadline.
//!
//! The readers and the output are made for the invocation (from what lasts: the transform, the
//! cluster client, the S3 fetcher), so nothing of one invocation is left to the next. Each message's
//! objects are fetched and handed to the readers with their acknowledgements; once every message
//! has handed over its files the readers' queue is closed (so alerts waiting for a burst go out at
//! once), and each message waits for its receipts: done only if every event is indexed or
//! dead-lettered (`sqs/verdict.rs`). Dead letters are then shipped (S3 or SQS); if that fails,
//! the messages with dead letters are not done.
//!
//! Near the deadline (a tenth of the time left is kept, 1 to 10 s), what is not done is given up,
//! unfinished. An SQS batch is answered with the messages not done (`batchItemFailures`), or fails
//! as a whole while the cluster is failing (an outage: nothing of it is lost, the queue delivers
//! it again); any other invocation fails if a message is not done, so that Lambda retries it.

use super::Function;
use crate::ack::Delivery;
use crate::command::indexing::Opened;
use crate::output::alert;
use crate::output::dead_letter::DeadLetters;
use crate::reader_pool::{self, Started};
use crate::source::lambda::{self as event, Message, Trigger, Work};
use crate::source::notice::{self, Emitted};
use crate::source::sqs::notification::Notice;
use crate::source::sqs::verdict::{self, Verdict};
use crate::source::{LogFile, Unit};
use crate::stats::Stats;
use futures::StreamExt;
use lambda_runtime::LambdaEvent;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

/// Messages whose objects are fetched at once.
const EMIT_CONCURRENCY: usize = 16;

/// Kept before the deadline to give up what is not done, ship dead letters and answer.
fn reserve(left: Duration) -> Duration {
    (left / 10).clamp(Duration::from_secs(1), Duration::from_secs(10))
}

/// What became of one message.
struct Finished {
    id: String,
    /// Why it is not done, if it is not.
    failure: Option<String>,
    /// Some of its events went to the dead letters.
    dead_lettered: bool,
}

impl Function {
    /// Runs one invocation; the answer, or the error that makes Lambda retry it.
    pub(super) async fn invoke(&self, event: LambdaEvent<Value>) -> Result<Value, lambda_runtime::Error> {
        let started = Instant::now();
        let (payload, context) = event.into_parts();
        let request = context.request_id.clone();
        let invocation = event::read(&payload).map_err(|why| {
            warn!("invocation {request}: {why}");
            why
        })?;
        drop(payload);
        let left = context.deadline().duration_since(SystemTime::now()).unwrap_or_default();
        let now = tokio::time::Instant::now();
        let give_up = now + left.saturating_sub(reserve(left));
        let hard_stop = now + left.saturating_sub(reserve(left) / 2);

        let prepared = self.prepared().await.map_err(|e| {
            error!("invocation {request}: {e:#}");
            format!("{e:#}")
        })?;
        let stats = Arc::new(Stats::default());
        let spool = self.spool(&request);
        let dead = Arc::new(DeadLetters::with_limit(spool.clone(), self.settings.indexing.dead_letter_max));
        let abort = CancellationToken::new();
        let Opened { output, frame } =
            self.settings.indexing.output(prepared.connected.as_ref(), &dead, &stats, &abort).await?;
        let (tap, alerts) = if self.settings.alerts.rules.is_empty() {
            (None, None)
        } else {
            let (tap, output) = alert::start(self.settings.alerts.clone(), self.sns.clone(), &dead, &abort)?;
            (Some(tap), Some(output))
        };
        let readers = self.settings.indexing.readers.readers.max(1);
        let (file_tx, file_rx) = flume::bounded(readers);
        let transform = prepared.transform.clone();
        let detector = self.detector.clone();
        let Started { threads, batches } = self
            .settings
            .indexing
            .start_readers(transform, frame, tap, detector, file_rx, &dead, &stats, &abort);
        let messages = invocation.messages.len();
        let work = self.work(invocation.messages, file_tx, &stats, &request, &abort);
        let alerting = async move {
            if let Some(alerts) = alerts {
                alerts.run().await;
            }
        };
        let all = async { tokio::join!(work, output.run(batches, &stats), alerting) };
        tokio::pin!(all);
        let in_time = tokio::select! {
            all = &mut all => Some(all),
            _ = tokio::time::sleep_until(give_up) => None,
        };
        let (mut finished, delivered, ()) = match in_time {
            Some(all) => all,
            None => {
                warn!("invocation {request}: the deadline is near; what is not done is given up (it comes back)");
                abort.cancel();
                match tokio::time::timeout_at(hard_stop, &mut all).await {
                    Ok(all) => all,
                    Err(_) => {
                        return Err(format!(
                            "invocation {request}: the deadline came before the work stopped"
                        )
                        .into())
                    }
                }
            }
        };
        reader_pool::join(threads).map_err(|e| format!("invocation {request}: {e}"))?;
        delivered.map_err(|e| format!("{e:#}"))?;
        self.ship_dead_letters(&spool, &request, &mut finished).await;
        self.answer(invocation.trigger, &request, messages, finished, &stats, started.elapsed())
    }

    /// Where this invocation's dead letters are written: the destination file, or a spool in the
    /// temporary folder that is shipped and removed.
    fn spool(&self, request: &str) -> PathBuf {
        match &self.settings.dead_letter {
            crate::output::dead_letter_ship::Destination::File(path) => path.clone(),
            _ => {
                let safe: String =
                    request.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').take(64).collect();
                std::env::temp_dir().join(format!("cloudtrail-es-dead-letters-{safe}.ndjson"))
            }
        }
    }

    /// Hands every message's files to the readers, closes their queue, then waits for each
    /// message's receipts.
    async fn work(
        &self,
        messages: Vec<Message>,
        files: flume::Sender<Unit>,
        stats: &Stats,
        request: &str,
        abort: &CancellationToken,
    ) -> Vec<Finished> {
        let emitted: Vec<(String, Result<Emitted, String>)> = futures::stream::iter(messages)
            .map(|m| self.emit(m, &files, stats, request, abort))
            .buffered(EMIT_CONCURRENCY)
            .collect()
            .await;
        drop(files);
        let waits = emitted.into_iter().map(|(id, emitted)| async move {
            let Emitted { receipts, failures } = match emitted {
                Ok(emitted) => emitted,
                Err(why) => return Finished { id, failure: Some(why), dead_lettered: false },
            };
            let done = futures::future::join_all(receipts).await;
            let dead_lettered = done.iter().any(|d| d.delivery == Delivery::DeadLettered);
            let failure = match verdict::decide(&done, failures) {
                Verdict::Delete => None,
                Verdict::Keep(reason) => Some(reason),
            };
            Finished { id, failure, dead_lettered }
        });
        futures::future::join_all(waits).await
    }

    /// One message's files, handed to the readers; an error when the message cannot be read.
    async fn emit(
        &self,
        message: Message,
        files: &flume::Sender<Unit>,
        stats: &Stats,
        request: &str,
        abort: &CancellationToken,
    ) -> (String, Result<Emitted, String>) {
        let Message { id, work } = message;
        let result = match work {
            Work::Invalid(why) => {
                warn!("message {id}: {why}; not done (left for the dead-letter queue)");
                Err(why)
            }
            Work::Notice(Notice::Ignore(what)) => {
                debug!("message {id}: {what}, nothing to read");
                Ok(Emitted::default())
            }
            Work::Notice(Notice::Objects(objects)) => match self.settings.objects.first_refused(&objects) {
                Some((o, why)) => {
                    warn!("message {id}: s3://{}/{} refused: {why}; not done", o.bucket, o.key);
                    Err(format!("s3://{}/{} refused: {why}", o.bucket, o.key))
                }
                None => {
                    let objects = notice::without_digests(objects);
                    let sender = || (!abort.is_cancelled()).then(|| files.clone());
                    tokio::select! {
                        emitted = notice::emit(objects, &self.fetcher, sender, stats) => Ok(emitted),
                        _ = abort.cancelled() => Err("given up at the deadline".to_string()),
                    }
                }
            },
            Work::Inline(text) | Work::Notice(Notice::Record(text)) => {
                let name: Arc<str> = format!("lambda://{request}/{id}").into();
                let (unit, receipt) = Unit::track(LogFile::in_memory(name, text.into()));
                let sent = files.send_async(unit).await.is_ok();
                let failures = if sent { vec![] } else { vec!["not read: the readers stopped".to_string()] };
                Ok(Emitted { receipts: vec![receipt], failures })
            }
        };
        (id, result)
    }

    /// Ships the spooled dead letters; if that fails, the messages that have some are not done.
    async fn ship_dead_letters(&self, spool: &std::path::Path, request: &str, finished: &mut [Finished]) {
        let Some(shipper) = &self.shipper else { return };
        if let Err(why) = shipper.ship(spool, request).await {
            error!("invocation {request}: dead letters not stored in {}: {why}", shipper.destination());
            for f in finished.iter_mut().filter(|f| f.dead_lettered && f.failure.is_none()) {
                f.failure = Some(format!("its dead letters were not stored: {why}"));
            }
        }
        if let Err(e) = std::fs::remove_file(spool) {
            if e.kind() != std::io::ErrorKind::NotFound {
                warn!("cannot remove {}: {e}", spool.display());
            }
        }
    }

    /// The answer: an SQS batch's messages not done, or an error when anything is not done.
    fn answer(
        &self,
        trigger: Trigger,
        request: &str,
        messages: usize,
        finished: Vec<Finished>,
        stats: &Stats,
        took: Duration,
    ) -> Result<Value, lambda_runtime::Error> {
        let failed: Vec<&Finished> = finished.iter().filter(|f| f.failure.is_some()).collect();
        info!(
            messages,
            not_done = failed.len(),
            files_read = stats.files_read.load(Relaxed),
            events_read = stats.events_read.load(Relaxed),
            events_indexed = stats.events_indexed.load(Relaxed),
            events_present = stats.events_present.load(Relaxed),
            events_dead = stats.events_dead.load(Relaxed),
            "invocation {request} took {took:.1?}"
        );
        for f in &failed {
            warn!("message {} not done: {}", f.id, f.failure.as_deref().unwrap_or_default());
        }
        let outage = stats.health.es_failing_since.load(Relaxed) != 0;
        match (trigger, failed.first()) {
            (_, Some(first)) if outage || trigger == Trigger::Direct => Err(format!(
                "{} of {messages} messages not done{}: {}",
                failed.len(),
                if outage { " (the cluster is failing; the whole batch comes back)" } else { "" },
                first.failure.as_deref().unwrap_or_default()
            )
            .into()),
            (Trigger::Sqs, _) => {
                let ids: Vec<Value> = failed.iter().map(|f| json!({"itemIdentifier": f.id})).collect();
                Ok(json!({ "batchItemFailures": ids }))
            }
            (Trigger::Direct, _) => Ok(json!({
                "messages": messages,
                "events_read": stats.events_read.load(Relaxed),
                "events_indexed": stats.events_indexed.load(Relaxed),
                "events_present": stats.events_present.load(Relaxed),
                "events_dead": stats.events_dead.load(Relaxed),
            })),
        }
    }
}
