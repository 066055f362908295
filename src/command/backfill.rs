//! `cloudtrail-es backfill`: import log files once.
//!
//! Wiring, in data order: the sources (local folders, S3 prefixes) feed files, each with its
//! acknowledgement → the reader pool decodes, transforms and frames them into batches
//! (`reader_pool.rs`) → one output delivers the batches (a cluster or an NDJSON file) → each file's
//! receipt resolves back at the journal, which records finished files in `--state` as soon as they
//! are settled. A signal stops the sources, lets what is in flight finish, saves the state and
//! prints the summary. When every stage has drained, the outcome decides the exit status.

use super::indexing::{IndexingSettings, Opened};
use super::shutdown::{self, Messages};
use super::Outcome;
use crate::aws::{s3_client, sdk_config, AwsSettings};
use crate::output::dead_letter::DeadLetters;
use crate::output::queue::Enqueuer;
use crate::progress::Progress;
use crate::reader_pool;
use crate::source::admit::{Admit, Shard};
use crate::source::feed::Feed;
use crate::source::layout::LayoutFilter;
use crate::source::s3::{crawl::Crawler, feed_prefix, fetch::Fetcher};
use crate::source::{local, SourceSpec};
use crate::state::StateFile;
use crate::stats::Stats;
use anyhow::bail;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// What a backfill reads and where it goes.
#[derive(Debug)]
pub struct BackfillSettings {
    /// Files, folders and `s3://` prefixes, in order.
    pub sources: Vec<SourceSpec>,
    /// Which files, and how the run resumes and splits.
    pub select: SelectSettings,
    /// Announce S3 objects on this queue instead of reading them.
    pub to_queue: Option<String>,
    /// AWS access for `s3://` sources.
    pub aws: AwsSettings,
    /// Transform, output (into a cluster, with refresh relaxed unless `--keep-refresh`:
    /// `output/elasticsearch/refresh.rs`), readers.
    pub indexing: IndexingSettings,
}

/// Which files a backfill reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SelectSettings {
    /// Days, accounts, regions (from the layout's folders).
    pub filter: LayoutFilter,
    /// On S3, every key under the prefix, not only CloudTrail layout keys.
    pub any_key: bool,
    /// The journal of finished files.
    pub state: Option<PathBuf>,
    /// This run's share of the files.
    pub shard: Option<Shard>,
    /// S3 downloads in flight.
    pub concurrency: usize,
}

/// Runs a backfill to the end (or until a signal).
pub async fn run(mut settings: BackfillSettings) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    check_sources(&settings)?;
    if settings.to_queue.is_some() {
        return run_to_queue(settings).await;
    }
    let state = settings.select.state.as_deref().map(StateFile::open).transpose()?;
    let stats = Arc::new(Stats::default());
    // Unusable rules stop the run before anything is created or read.
    let mut transform = settings.indexing.transform()?;
    let detector = settings.indexing.detector(&stats)?;
    let dead = Arc::new(DeadLetters::with_limit(
        settings.indexing.dead_letter.clone(),
        settings.indexing.dead_letter_max,
    ));
    let cancel = CancellationToken::new();
    let Opened { output, frame } = settings.indexing.open_output(&dead, &stats, &cancel).await?;
    transform.move_long_values(output.refuses_long_leaves());
    if output.refuses_long_leaves() {
        transform.copy_keyword_leaves()?;
    }
    watch_signals(&cancel)?;

    let (file_tx, file_rx) = flume::bounded(64);
    let (receipt_tx, receipts) = mpsc::unbounded_channel();
    let admit = Admit {
        done: state.as_ref().map(|s| s.done().clone()).unwrap_or_default(),
        shard: settings.select.shard,
        replace: state.as_ref().map(|s| s.to_replace().clone()).unwrap_or_default(),
    };
    let feed = Feed {
        files: file_tx,
        receipts: receipt_tx,
        admit,
        filter: settings.select.filter.clone(),
        stats: stats.clone(),
        cancel: cancel.clone(),
    };
    let readers =
        settings.indexing.start_readers(transform, frame, None, detector, file_rx, &dead, &stats, &cancel);
    let journal = tokio::spawn(super::journal::journal(receipts, state));
    let progress = Progress::start(stats.clone());

    let sources =
        feed_sources(&settings.sources, &settings.select, &settings.aws, settings.to_queue.as_ref(), feed);
    let (fed, delivered) = tokio::join!(sources, output.run(readers.batches, &stats));
    reader_pool::join(readers.threads).map_err(anyhow::Error::msg)?;
    let files_not_done = journal.await??;
    progress.finish();
    stats.report(dead.path(), started.elapsed(), "backfill");
    delivered?;
    fed?;
    let interrupted = cancel.is_cancelled();
    Ok(Outcome { problems: stats.has_problems() || files_not_done > 0, interrupted })
}

/// First signal: stop taking files and finish what is in flight. Second: leave at once.
fn watch_signals(cancel: &CancellationToken) -> anyhow::Result<()> {
    shutdown::cancel_on_signal(
        cancel,
        Messages {
            stopping: "interrupted: finishing what is in flight (Ctrl-C again to quit at once)",
            quitting: "interrupted twice: quitting; re-run with the same --state to finish",
        },
    )
}

/// Feeds every source's files to the readers (or, with `to_queue`, to the queue), in order; the
/// feed is closed at the end. Also `report`'s.
pub(super) async fn feed_sources(
    sources: &[SourceSpec],
    select: &SelectSettings,
    aws: &AwsSettings,
    to_queue: Option<&String>,
    feed: Feed,
) -> anyhow::Result<()> {
    let feed = Arc::new(feed);
    let mut s3: Option<(aws_sdk_s3::Client, aws_sdk_sqs::Client)> = None;
    for spec in sources {
        match spec {
            SourceSpec::Local(root) => {
                let (walker, root) = (feed.clone(), root.clone());
                let unreadable = tokio::task::spawn_blocking(move || local::walk(&root, &walker)).await?;
                Stats::add(&feed.stats.files_failed, unreadable);
            }
            SourceSpec::S3 { bucket, prefix } => {
                if s3.is_none() {
                    let config = sdk_config(aws).await;
                    s3 = Some((s3_client(&config), aws_sdk_sqs::Client::new(&config)));
                }
                let (client, sqs) = s3.as_ref().expect("set above");
                let crawler = Crawler {
                    client: client.clone(),
                    bucket: bucket.clone(),
                    filter: select.filter.clone(),
                    any_key: select.any_key,
                };
                match to_queue {
                    Some(queue_url) => {
                        let queue = Arc::new(Enqueuer {
                            sqs: sqs.clone(),
                            queue_url: queue_url.clone(),
                            stats: feed.stats.clone(),
                        });
                        feed_prefix(crawler, &queue, prefix, select.concurrency, &feed).await?
                    }
                    None => {
                        let fetcher = Fetcher::new(client.clone(), tokio::runtime::Handle::current());
                        feed_prefix(crawler, &fetcher, prefix, select.concurrency, &feed).await?
                    }
                }
            }
        }
    }
    Stats::set_flag(&feed.stats.listing_done);
    Ok(())
}

/// `--to-queue`: list and announce, read nothing.
async fn run_to_queue(settings: BackfillSettings) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let stats = Arc::new(Stats::default());
    let cancel = CancellationToken::new();
    watch_signals(&cancel)?;
    // Nothing is read: the readers' channel and the receipts only satisfy the feed.
    let (files, _unread) = flume::bounded(1);
    let admit = Admit { shard: settings.select.shard, ..Admit::default() };
    let feed = Feed {
        files,
        receipts: mpsc::unbounded_channel().0,
        admit,
        filter: settings.select.filter.clone(),
        stats: stats.clone(),
        cancel: cancel.clone(),
    };
    let progress = Progress::start(stats.clone());
    let fed =
        feed_sources(&settings.sources, &settings.select, &settings.aws, settings.to_queue.as_ref(), feed)
            .await;
    progress.finish();
    stats.report(&settings.indexing.dead_letter, started.elapsed(), "backfill --to-queue");
    fed?;
    Ok(Outcome { problems: stats.has_problems(), interrupted: cancel.is_cancelled() })
}

/// Stops before anything starts when a source cannot be used.
fn check_sources(settings: &BackfillSettings) -> anyhow::Result<()> {
    for spec in &settings.sources {
        match spec {
            SourceSpec::Local(path) if settings.to_queue.is_some() => bail!(
                "{}: --to-queue announces S3 objects; its sources must be s3:// prefixes",
                path.display()
            ),
            SourceSpec::Local(path) => local::check_root(path)?,
            SourceSpec::S3 { bucket, prefix } if bucket.is_empty() => {
                bail!("s3://{bucket}/{prefix}: no bucket name")
            }
            SourceSpec::S3 { .. } => {}
        }
    }
    Ok(())
}
