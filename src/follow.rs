//! `cloudtrail-es follow`: a long-running service that indexes new log files as their
//! notifications arrive on an SQS queue.
//!
//! Wiring, in data order: the SQS consumer receives notifications and downloads the files they name
//! → reader threads decode and encode them (`pipeline.rs`) → the sink delivers (a cluster, retried
//! until it is back; or an NDJSON file) → file acknowledgements go back to the consumer, which
//! deletes a message only when all of its files are safe. SIGTERM/SIGINT stop the receiving; what is
//! in flight gets `--shutdown-timeout` to finish, and the rest is left to reappear in the queue.

use crate::aws::{s3_client, sdk_config, AwsArgs};
use crate::backfill::Outcome;
use crate::cli::FollowArgs;
use crate::errors::chain;
use crate::metrics::Metrics;
use crate::pipeline;
use crate::progress::counts;
use crate::sink::client::ClientError;
use crate::sink::dead_letter::DeadLetters;
use crate::sink::Sink;
use crate::source::s3::fetch::Fetcher;
use crate::source::sqs::{Consumer, QueueSettings, QueueStats};
use crate::stats::Stats;
use crate::transform::IndexNaming;
use anyhow::{anyhow, Context};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// Runs until SIGTERM/SIGINT.
pub async fn run(args: FollowArgs) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let stats = Arc::new(Stats::default());
    let dead = Arc::new(DeadLetters::new(args.indexing.dead_letter.clone()));
    // Unusable rules stop the service before it connects to anything.
    let transform = args.transform.build(IndexNaming { prefix: args.indexing.index_prefix.clone() })?;
    let (stop, abort) = (CancellationToken::new(), CancellationToken::new());
    watch_signals(stop.clone())?;
    let Some(sink) = connect_sink(&args, &dead, &stats, &stop, &abort).await? else {
        return Ok(Outcome { problems: false, interrupted: false });
    };
    let aws =
        sdk_config(&AwsArgs { profile: args.aws.profile.clone(), region: args.aws.aws_region.clone() }).await;
    let sqs = aws_sdk_sqs::Client::new(&aws);
    check_queue(&sqs, &args.queue).await?;
    let fetcher = Fetcher::new(s3_client(&aws), tokio::runtime::Handle::current());

    let q = &args.queue_flags;
    let (file_tx, file_rx) = flume::bounded(q.max_in_flight.max(1));
    let readers = pipeline::start((&args.indexing, &args.cluster), transform, file_rx, &dead, &stats, &abort);
    let settings = QueueSettings {
        queue_url: args.queue.clone(),
        visibility: Duration::from_secs(q.visibility_timeout.max(1)),
        max_in_flight: q.max_in_flight.max(1),
    };
    let consumer = Consumer::new(sqs, fetcher, settings, file_tx, stats.clone());
    let side_tasks = start_side_tasks(&args, &stats, &consumer.queue).await?;
    info!("following {}", args.queue);

    let grace = Duration::from_secs(q.shutdown_timeout);
    let (_, delivered) = tokio::join!(
        consumer.clone().run(readers.done, stop, abort, grace),
        sink.run(readers.batches, &stats)
    );
    pipeline::join(readers.threads).map_err(anyhow::Error::msg)?;
    side_tasks.iter().for_each(|t| t.abort());
    eprintln!("{}", queue_line(&consumer.queue));
    stats.report(&dead, started.elapsed(), "follow");
    delivered?;
    Ok(Outcome { problems: false, interrupted: false })
}

/// The sink; a cluster that does not answer yet is waited for (a service may start before its
/// cluster), while refused credentials, an untrusted certificate or a bad URL stop at once.
/// `None`: stopped while waiting.
async fn connect_sink(
    args: &FollowArgs,
    dead: &Arc<DeadLetters>,
    stats: &Arc<Stats>,
    stop: &CancellationToken,
    abort: &CancellationToken,
) -> anyhow::Result<Option<Sink>> {
    let patience = args.cluster.retry_timeout.map(Duration::from_secs);
    loop {
        let built = Sink::build(
            args.indexing.output.as_deref(),
            &args.cluster,
            &args.indexing.index_prefix,
            patience,
            dead,
            stats,
            abort,
        )
        .await;
        match built {
            Ok(sink) => return Ok(Some(sink)),
            Err(e) if matches!(e.downcast_ref(), Some(ClientError::Unreachable { .. })) => {
                warn!("{e:#}; trying again in 5 s");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(5)) => {}
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

/// The status line and, with --metrics-addr, the metrics server.
async fn start_side_tasks(
    args: &FollowArgs,
    stats: &Arc<Stats>,
    queue: &Arc<QueueStats>,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    let mut tasks = Vec::new();
    let q = &args.queue_flags;
    if let Some(addr) = q.metrics_addr {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on --metrics-addr {addr}"))?;
        info!("metrics on http://{addr}/metrics, health on http://{addr}/healthz");
        let metrics = Arc::new(Metrics {
            stats: stats.clone(),
            queue: queue.clone(),
            unhealthy_after: Duration::from_secs(q.unhealthy_after),
        });
        tasks.push(tokio::spawn(metrics.serve(listener)));
    }
    let (stats, queue) = (stats.clone(), queue.clone());
    let every = Duration::from_secs(q.status_interval.max(1));
    let started = Instant::now();
    tasks.push(tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let files = stats.files_read.load(Relaxed);
            let lag = stats.lag().map_or_else(|| "none yet".to_string(), |l| format!("{}s", l.as_secs()));
            let counts = counts(&stats, started.elapsed());
            info!("status: {}; files {files} read · {counts} · lag {lag}", queue_line(&queue));
        }
    }));
    Ok(tasks)
}

fn queue_line(q: &QueueStats) -> String {
    format!(
        "messages: {} received, {} deleted, {} left in the queue after a failure, {} not notifications",
        q.received.load(Relaxed),
        q.deleted.load(Relaxed),
        q.kept.load(Relaxed),
        q.invalid.load(Relaxed)
    )
}

/// SIGTERM or SIGINT: stop receiving (a second one quits at once).
fn watch_signals(stop: CancellationToken) -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    tokio::spawn(async move {
        tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
        info!("stopping: no new messages; finishing the ones in flight");
        stop.cancel();
        tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
        warn!("stopping at once: messages in flight will reappear in the queue");
        std::process::exit(130);
    });
    Ok(())
}
