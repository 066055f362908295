//! `cloudtrail-es backfill`: import log files once.
//!
//! Wiring, in data order: the sources (local folders, S3 prefixes) feed files → reader threads
//! decode and encode them into batches (`pipeline.rs`) → one sink delivers the batches (a cluster
//! or an NDJSON file) → file acknowledgements come back to the collector, which records finished
//! files in `--state`. Ctrl-C stops the sources, lets what is in flight finish, saves the state and
//! prints the summary. When every stage has drained, the outcome decides the exit status.

use crate::ack::{Delivery, FileDone};
use crate::aws::{s3_client, sdk_config, AwsArgs};
use crate::cli::{BackfillArgs, SelectArgs};
use crate::pipeline;
use crate::progress::Progress;
use crate::sink::dead_letter::DeadLetters;
use crate::sink::Sink;
use crate::source::admit::Admit;
use crate::source::feed::Feed;
use crate::source::layout::LayoutFilter;
use crate::source::s3::{crawl::Crawler, feed_prefix, fetch::Fetcher, Destination};
use crate::source::sqs::enqueue::Enqueuer;
use crate::source::{local, SourceSpec};
use crate::state::StateFile;
use crate::stats::Stats;
use crate::transform::IndexNaming;
use anyhow::{bail, Context};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, warn};

/// How a run ended (when it could run at all).
#[derive(Debug, Default)]
pub struct Outcome {
    /// Something was rejected or unreadable: exit status 2.
    pub problems: bool,
    /// Stopped by Ctrl-C before the end.
    pub interrupted: bool,
}

/// Runs a backfill to the end (or until Ctrl-C).
pub async fn run(args: BackfillArgs) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let specs = parse_sources(&args)?;
    if args.to_queue.is_some() {
        return run_to_queue(args, specs).await;
    }
    let state = args.select.state.as_deref().map(StateFile::open).transpose()?;
    let stats = Arc::new(Stats::default());
    let (ix, cluster) = (&args.indexing, &args.cluster);
    // Unusable rules stop the run before anything is created or read.
    let transform = args.transform.build(IndexNaming { prefix: ix.index_prefix.clone() })?;
    let dead = Arc::new(DeadLetters::new(ix.dead_letter.clone()));
    let cancel = CancellationToken::new();
    let patience = Some(Duration::from_secs(cluster.retry_timeout.unwrap_or(300)));
    let sink = Sink::build(ix.output.as_deref(), cluster, &ix.index_prefix, patience, &dead, &stats, &cancel)
        .await?;
    watch_ctrl_c(cancel.clone());

    let (file_tx, file_rx) = flume::bounded(64);
    let admit = Admit {
        done: state.as_ref().map(|s| s.done().clone()).unwrap_or_default(),
        shard: args.select.shard,
    };
    let filter = layout_filter(&args.select);
    let feed = Feed { files: file_tx, admit, filter, stats: stats.clone(), cancel: cancel.clone() };
    let readers = pipeline::start((ix, cluster), transform, file_rx, &dead, &stats, &cancel);
    let collector = tokio::spawn(collect(readers.done, state));
    let progress = Progress::start(stats.clone());

    let sources = feed_sources(specs, feed, &args);
    let (fed, delivered) = tokio::join!(sources, sink.run(readers.batches, &stats));
    pipeline::join(readers.threads).map_err(anyhow::Error::msg)?;
    let files_not_done = collector.await??;
    progress.finish();
    stats.report(&dead, started.elapsed(), "backfill");
    delivered?;
    fed?;
    let interrupted = cancel.is_cancelled();
    Ok(Outcome { problems: stats.has_problems() || files_not_done > 0, interrupted })
}

/// Feeds every source's files to the readers (or, with --to-queue, to the queue), in order; the
/// feed is closed at the end.
async fn feed_sources(specs: Vec<SourceSpec>, feed: Feed, args: &BackfillArgs) -> anyhow::Result<()> {
    let feed = Arc::new(feed);
    let mut aws: Option<(aws_sdk_s3::Client, Destination)> = None;
    for spec in specs {
        match spec {
            SourceSpec::Local(root) => {
                let walker = feed.clone();
                let unreadable = tokio::task::spawn_blocking(move || local::walk(&root, &walker)).await?;
                Stats::add(&feed.stats.files_failed, unreadable);
            }
            SourceSpec::S3 { bucket, prefix } => {
                if aws.is_none() {
                    aws = Some(s3_access(args, &feed.stats).await);
                }
                let (client, destination) = aws.as_ref().expect("set above");
                let filter = feed.filter.clone();
                let crawler =
                    Crawler { client: client.clone(), bucket, filter, any_key: args.select.any_key };
                feed_prefix(crawler, destination, &prefix, args.select.concurrency, &feed).await?;
            }
        }
    }
    Stats::set_flag(&feed.stats.listing_done);
    Ok(())
}

/// The S3 client, and where admitted objects go: downloaded for the readers, or announced on the
/// --to-queue queue.
async fn s3_access(args: &BackfillArgs, stats: &Arc<Stats>) -> (aws_sdk_s3::Client, Destination) {
    let config =
        sdk_config(&AwsArgs { profile: args.aws.profile.clone(), region: args.aws.aws_region.clone() }).await;
    let client = s3_client(&config);
    let destination = match &args.to_queue {
        Some(queue_url) => Destination::Enqueue(Arc::new(Enqueuer {
            sqs: aws_sdk_sqs::Client::new(&config),
            queue_url: queue_url.clone(),
            stats: stats.clone(),
        })),
        None => Destination::Read(Fetcher::new(client.clone(), tokio::runtime::Handle::current())),
    };
    (client, destination)
}

/// `--to-queue`: list and announce, read nothing.
async fn run_to_queue(args: BackfillArgs, specs: Vec<SourceSpec>) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let stats = Arc::new(Stats::default());
    let cancel = CancellationToken::new();
    watch_ctrl_c(cancel.clone());
    // Nothing is read: the readers' channel only satisfies the feed.
    let (files, _unread) = flume::bounded(1);
    let admit = Admit { done: Default::default(), shard: args.select.shard };
    let feed = Feed {
        files,
        admit,
        filter: layout_filter(&args.select),
        stats: stats.clone(),
        cancel: cancel.clone(),
    };
    let progress = Progress::start(stats.clone());
    let fed = feed_sources(specs, feed, &args).await;
    progress.finish();
    stats.report(
        &DeadLetters::new(args.indexing.dead_letter.clone()),
        started.elapsed(),
        "backfill --to-queue",
    );
    fed?;
    Ok(Outcome { problems: stats.has_problems(), interrupted: cancel.is_cancelled() })
}

/// Waits for every file's acknowledgement, recording finished files in the state journal;
/// returns how many files were not fully delivered.
async fn collect(
    mut done: mpsc::UnboundedReceiver<FileDone>,
    mut state: Option<StateFile>,
) -> anyhow::Result<u64> {
    let mut not_done = 0;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            file = done.recv() => {
                let Some(file) = file else { break };
                debug!(file = &*file.file, delivery = ?file.delivery, "file finished");
                if file.delivery == Delivery::Failed {
                    not_done += 1;
                } else if let Some(state) = state.as_mut() {
                    state.record(&file.file).context("cannot write --state")?;
                }
            }
            _ = tick.tick() => {
                if let Some(state) = state.as_mut() {
                    state.sync().context("cannot write --state")?;
                }
            }
        }
    }
    if let Some(state) = state {
        state.compact().context("cannot write --state")?;
    }
    Ok(not_done)
}

/// First Ctrl-C: stop taking files and finish what is in flight. Second: leave at once.
fn watch_ctrl_c(cancel: CancellationToken) {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            warn!("interrupted: finishing what is in flight (Ctrl-C again to quit at once)");
            cancel.cancel();
        }
        if tokio::signal::ctrl_c().await.is_ok() {
            error!("interrupted twice: quitting; re-run with the same --state to finish");
            std::process::exit(130);
        }
    });
}

/// The layout filter from --start/--end/--since/--account/--region.
fn layout_filter(select: &SelectArgs) -> LayoutFilter {
    let today = chrono::Utc::now().date_naive();
    let start = select.start.or_else(|| select.since.map(|days| today - chrono::Days::new(u64::from(days))));
    // An open-ended range ends today, so that day folders can be listed one by one.
    let end = select.end.or(start.map(|_| today));
    LayoutFilter { start, end, accounts: select.accounts.clone(), regions: select.regions.clone() }
}

fn parse_sources(args: &BackfillArgs) -> anyhow::Result<Vec<SourceSpec>> {
    let mut specs = Vec::new();
    for source in &args.sources {
        let spec = SourceSpec::parse(source);
        match &spec {
            SourceSpec::Local(_) if args.to_queue.is_some() => {
                bail!("{source}: --to-queue announces S3 objects; its sources must be s3:// prefixes")
            }
            SourceSpec::Local(path) => local::check_root(path)?,
            SourceSpec::S3 { bucket, .. } if bucket.is_empty() => bail!("{source}: no bucket name"),
            SourceSpec::S3 { .. } => {}
        }
        specs.push(spec);
    }
    Ok(specs)
}
