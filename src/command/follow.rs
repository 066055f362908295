//! `cloudtrail-es follow`: a long-running service that indexes new log files as their
//! notifications arrive on an SQS queue.
//!
//! Wiring, in data order: the SQS source receives notifications and downloads the files they name,
//! each with its acknowledgement → the reader pool decodes, transforms and frames them
//! (`reader_pool.rs`) → the output delivers (a cluster, retried until it is back; or an NDJSON file) →
//! each message's task awaits its files' receipts and deletes the message only when all of them are
//! safe. With alert rules (`output/alert/`), the readers also hand matching events to the alert
//! output, whose deliveries settle second acks of the same files, so a message also waits for its
//! alerts; `--no-index` replaces the cluster by an output that settles at once. SIGTERM/SIGINT stop the receiving; what is in flight gets `--shutdown-timeout` to finish,
//! and the rest is left to reappear in the queue.

use super::indexing::{IndexingSettings, Opened};
use super::shutdown::{self, Messages};
use super::Outcome;
use crate::aws::{sdk_config, AwsSettings};
use crate::backoff::Backoff;
use crate::cluster::ClientError;
use crate::errors::chain;
use crate::metrics::Metrics;
use crate::output::alert::{self, AlertSettings};
use crate::output::dead_letter::DeadLetters;
use crate::progress::{counts, human_duration, Meter};
use crate::reader_pool;
use crate::source::s3::fetch::Fetcher;
use crate::source::sqs::queue::SqsQueue;
use crate::source::sqs::{Consumer, QueueSettings};
use crate::stats::{Line, Stats};
use anyhow::{anyhow, Context};
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// What `follow` consumes and how it runs as a service.
#[derive(Debug)]
pub struct FollowSettings {
    /// The queue and how it is worked.
    pub queue: QueueSettings,
    /// AWS access for SQS and S3.
    pub aws: AwsSettings,
    /// Transform, output, readers.
    pub indexing: IndexingSettings,
    /// Shutdown, status and health.
    pub service: ServiceSettings,
    /// Alert rules (none: no alerts).
    pub alerts: AlertSettings,
}

/// How `follow` behaves as a service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceSettings {
    /// Time to finish the messages in flight after SIGTERM/SIGINT.
    pub shutdown_timeout: Duration,
    /// Between status lines.
    pub status_interval: Duration,
    /// Where to serve `/metrics` and `/healthz`.
    pub metrics_addr: Option<SocketAddr>,
    /// `/healthz` fails when the cluster or SQS has been failing this long.
    pub unhealthy_after: Duration,
}

/// How long to wait between tries of a cluster that does not answer at start.
const CONNECT_BACKOFF: Backoff = Backoff::unbounded(Duration::from_secs(1), Duration::from_secs(10));

/// Runs until SIGTERM/SIGINT.
pub async fn run(mut settings: FollowSettings) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let stats = Arc::new(Stats::default());
    let dead = Arc::new(DeadLetters::with_limit(
        settings.indexing.dead_letter.clone(),
        settings.indexing.dead_letter_max,
    ));
    // Unusable rules stop the service before it connects to anything.
    let mut transform = settings.indexing.transform()?;
    let detector = settings.indexing.detector(&stats)?;
    if detector.is_none() && settings.alerts.rules.iter().any(|r| r.findings.is_some()) {
        anyhow::bail!("an alert on findings needs Sigma rules: give --rules (e.g. --rules builtin)");
    }
    let stop = shutdown::watch(Messages {
        stopping: "stopping: no new messages; finishing the ones in flight",
        quitting: "stopping at once: messages in flight will reappear in the queue",
    })?;
    let abort = CancellationToken::new();
    let Some(Opened { output, frame }) = connect(&settings, &dead, &stats, &stop, &abort).await? else {
        return Ok(Outcome::default());
    };
    transform.move_long_values(output.refuses_long_leaves());
    if output.refuses_long_leaves() {
        transform.copy_keyword_leaves()?;
    }
    let aws = sdk_config(&settings.aws).await;
    let sqs = aws_sdk_sqs::Client::new(&aws);
    check_queue(&sqs, &settings.queue.queue_url).await?;
    let fetcher = Fetcher::with_regions(&aws, tokio::runtime::Handle::current());

    let (tap, alerts) = if settings.alerts.rules.is_empty() {
        (None, None)
    } else {
        let wants_sns =
            settings.alerts.rules.iter().any(|r| matches!(r.destination, alert::rules::Destination::Sns(_)));
        let sns = wants_sns.then(|| aws_sdk_sns::Client::new(&aws));
        let (tap, output) = alert::start(settings.alerts.clone(), sns, &dead, &abort)?;
        (Some(tap), Some(output))
    };
    let (file_tx, file_rx) = flume::bounded(settings.queue.max_in_flight.max(1));
    let readers =
        settings.indexing.start_readers(transform, frame, tap, detector, file_rx, &dead, &stats, &abort);
    let queue = SqsQueue::new(sqs, settings.queue.queue_url.clone());
    let consumer = Consumer::new(queue, fetcher, settings.queue.clone(), file_tx, stats.clone());
    let side_tasks = start_side_tasks(&settings.service, &stats).await?;
    info!("following {}", settings.queue.queue_url);
    if settings.queue.allow_buckets.is_empty() {
        warn!(
            "no --allow-bucket given: any bucket a message names is read with this follower's credentials; \
             name the trail's bucket to refuse the others"
        );
    }

    let grace = settings.service.shutdown_timeout;
    let alerting = async move {
        if let Some(alerts) = alerts {
            alerts.run().await;
        }
    };
    let (_, delivered, ()) =
        tokio::join!(consumer.clone().run(stop, abort, grace), output.run(readers.batches, &stats), alerting);
    reader_pool::join(readers.threads).map_err(anyhow::Error::msg)?;
    side_tasks.iter().for_each(|t| t.abort());
    eprintln!("{}", queue_line(&stats));
    stats.report(dead.path(), started.elapsed(), "follow");
    delivered?;
    Ok(Outcome::default())
}

/// The output; a cluster that does not answer yet is waited for (a service may start before its
/// cluster), while refused credentials, an untrusted certificate or a bad URL stop at once.
/// `None`: stopped while waiting.
async fn connect(
    settings: &FollowSettings,
    dead: &Arc<DeadLetters>,
    stats: &Arc<Stats>,
    stop: &CancellationToken,
    abort: &CancellationToken,
) -> anyhow::Result<Option<Opened>> {
    let mut attempt = 0;
    loop {
        match settings.indexing.open_output(dead, stats, abort).await {
            Ok(output) => return Ok(Some(output)),
            Err(e) if matches!(e.downcast_ref(), Some(ClientError::Unreachable { .. })) => {
                attempt += 1;
                let wait = CONNECT_BACKOFF.delay(attempt);
                warn!("{e:#}; trying again in {wait:.1?}");
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.cancelled() => return Ok(None),
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// Fails early, naming the queue, when it does not exist or cannot be read.
async fn check_queue(sqs: &aws_sdk_sqs::Client, queue: &str) -> anyhow::Result<()> {
    use aws_sdk_sqs::types::QueueAttributeName;
    let request = sqs.get_queue_attributes().queue_url(queue).attribute_names(QueueAttributeName::QueueArn);
    request.send().await.map_err(|e| {
        let code = aws_sdk_sqs::error::ProvideErrorMetadata::code(&e).unwrap_or_default().to_string();
        let hint = match code.as_str() {
            "AWS.SimpleQueueService.NonExistentQueue" | "QueueDoesNotExist" => "the queue does not exist",
            "AccessDenied" => {
                "access denied: the credentials need sqs:ReceiveMessage, sqs:DeleteMessage, \
                               sqs:ChangeMessageVisibility and sqs:GetQueueAttributes"
            }
            _ => "",
        };
        if hint.is_empty() {
            anyhow!("--queue {queue}: {}", chain(&e))
        } else {
            anyhow!("--queue {queue}: {hint}")
        }
    })?;
    Ok(())
}

/// The status line and, with a metrics address, the metrics server.
async fn start_side_tasks(
    service: &ServiceSettings,
    stats: &Arc<Stats>,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    let mut tasks = Vec::new();
    if let Some(addr) = service.metrics_addr {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on --metrics-addr {addr}"))?;
        info!("metrics on http://{addr}/metrics, health on http://{addr}/healthz");
        let metrics = Arc::new(Metrics { stats: stats.clone(), unhealthy_after: service.unhealthy_after });
        tasks.push(tokio::spawn(metrics.serve(listener)));
    }
    let stats = stats.clone();
    let every = service.status_interval.max(Duration::from_secs(1));
    let (started, mut meter) = (Instant::now(), Meter::new());
    tasks.push(tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let files = stats.files_read.load(Relaxed);
            let lag = stats.lag().map_or_else(|| "none yet".into(), |l| human_duration(l.as_secs_f64()));
            let counts = counts(&stats, meter.observe(started.elapsed(), &stats));
            info!("status: {}; files {files} read · {counts} · lag {lag}", queue_line(&stats));
        }
    }));
    Ok(tasks)
}

/// `messages: N received, …`: the queue's rows of the table.
fn queue_line(stats: &Stats) -> String {
    stats.line(Line::Messages).unwrap_or_default()
}
