//! `cloudtrail-es backfill`: import log files once.
//!
//! Wiring, in data order: a walker thread lists the sources' files → reader threads decode and
//! encode them into batches (`pipeline.rs`) → one sink delivers the batches (a cluster or an NDJSON
//! file) → file acknowledgements come back to a collector. When every stage has drained, the
//! summary is printed and the outcome decides the exit status.

use crate::ack::{Delivery, FileDone};
use crate::cli::{BackfillArgs, ClusterArgs};
use crate::pipeline::Readers;
use crate::sink::batch::{Batch, BatchLimits};
use crate::sink::client::{ClientConfig, EsClient};
use crate::sink::dead_letter::DeadLetters;
use crate::sink::elasticsearch::BulkSink;
use crate::sink::file::FileSink;
use crate::sink::retry::RetryPolicy;
use crate::source::{local, SourceSpec};
use crate::stats::Stats;
use crate::transform::IndexNaming;
use anyhow::{bail, Context};
use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tracing::{debug, info};

/// How a run ended (when it could run at all).
#[derive(Debug)]
pub struct Outcome {
    /// Something was rejected or unreadable: exit status 2.
    pub problems: bool,
}

/// Where batches go.
enum Sink {
    Cluster(BulkSink),
    File(FileSink),
}

/// Runs a backfill to the end.
pub async fn run(args: BackfillArgs) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let roots = local_roots(&args.sources)?;
    let naming = IndexNaming { prefix: valid_prefix(&args.index_prefix)? };
    let stats = Arc::new(Stats::default());
    let dead = Arc::new(DeadLetters::new(args.dead_letter.clone()));
    let sink = build_sink(&args, &naming, &dead, &stats).await?;

    let (file_tx, file_rx) = crossbeam_channel::bounded(1024);
    let walker = std::thread::spawn(move || local::walk(&roots, &file_tx));
    let (batch_tx, batch_rx) = mpsc::channel::<Batch>(args.cluster.bulk_concurrency.max(1) * 2);
    let (done_tx, done_rx) = mpsc::unbounded_channel();
    let limits =
        BatchLimits { max_bytes: args.cluster.batch_bytes, max_events: args.cluster.batch_events.max(1) };
    let readers = Readers { naming, limits, dead: dead.clone(), stats: stats.clone(), done: done_tx };
    let reader_count = args.readers.unwrap_or_else(default_readers);
    let handles = readers.spawn(reader_count, file_rx, batch_tx);
    let collector = tokio::spawn(collect(done_rx));

    deliver(sink, batch_rx, &stats).await?;
    for h in handles {
        h.join().map_err(|_| anyhow::anyhow!("a reader thread panicked"))?;
    }
    let unreadable = walker.join().map_err(|_| anyhow::anyhow!("the file walker panicked"))?;
    Stats::add(&stats.files_failed, unreadable);
    let files_not_done = collector.await?;

    report(&stats, &dead, started.elapsed());
    Ok(Outcome { problems: stats.has_problems() || files_not_done > 0 })
}

/// Runs the sink until the readers close the channel.
async fn deliver(sink: Sink, batches: mpsc::Receiver<Batch>, stats: &Arc<Stats>) -> anyhow::Result<()> {
    match sink {
        Sink::Cluster(bulk) => bulk.run(batches).await,
        Sink::File(file) => {
            let stats = stats.clone();
            tokio::task::spawn_blocking(move || file.run(batches, &stats))
                .await?
                .context("cannot write --output")?;
        }
    }
    Ok(())
}

/// Waits for every file's acknowledgement; returns how many were not fully delivered.
async fn collect(mut done: mpsc::UnboundedReceiver<FileDone>) -> u64 {
    let mut not_done = 0;
    while let Some(file) = done.recv().await {
        debug!(file = &*file.file, delivery = ?file.delivery, "file finished");
        if file.delivery == Delivery::Failed {
            not_done += 1;
        }
    }
    not_done
}

async fn build_sink(
    args: &BackfillArgs,
    naming: &IndexNaming,
    dead: &Arc<DeadLetters>,
    stats: &Arc<Stats>,
) -> anyhow::Result<Sink> {
    if let Some(path) = &args.output {
        let file =
            FileSink::open(path).with_context(|| format!("cannot create --output {}", path.display()))?;
        return Ok(Sink::File(file));
    }
    let c = &args.cluster;
    let client = EsClient::new(&client_config(c))?;
    let cluster = client.info().await?;
    info!("{} is {:?} {}", client.url(), cluster.flavor, cluster.version);
    if !c.no_setup {
        crate::setup::install_template(&client, &cluster, &naming.prefix).await?;
    }
    let retry = RetryPolicy { patience: Duration::from_secs(c.retry_timeout), ..RetryPolicy::default() };
    Ok(Sink::Cluster(BulkSink::new(client, retry, c.bulk_concurrency, dead.clone(), stats.clone())))
}

/// Cluster settings from flags and the environment (secrets only ever from the environment).
pub fn client_config(c: &ClusterArgs) -> ClientConfig {
    c.connection.client_config(c.compress)
}

fn local_roots(sources: &[String]) -> anyhow::Result<Vec<PathBuf>> {
    let mut roots = Vec::new();
    for source in sources {
        match SourceSpec::parse(source) {
            SourceSpec::Local(path) => roots.push(path),
            SourceSpec::S3 { .. } => bail!("{source}: S3 sources are not supported yet"),
        }
    }
    local::check_roots(&roots)?;
    Ok(roots)
}

/// Index names must be lowercase and free of the characters Elasticsearch forbids.
fn valid_prefix(prefix: &str) -> anyhow::Result<String> {
    crate::cli::parse_prefix(prefix).map_err(|e| anyhow::anyhow!("--index-prefix {e}"))
}

fn default_readers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

fn report(stats: &Stats, dead: &DeadLetters, elapsed: Duration) {
    eprintln!("{}", stats.summary(elapsed));
    if stats.events_dead.load(Relaxed) > 0 {
        eprintln!("dead letters: {}", dead.path().display());
    }
    info!(
        files_read = stats.files_read.load(Relaxed),
        files_failed = stats.files_failed.load(Relaxed),
        events_read = stats.events_read.load(Relaxed),
        events_indexed = stats.events_indexed.load(Relaxed),
        events_present = stats.events_present.load(Relaxed),
        events_dead = stats.events_dead.load(Relaxed),
        "backfill finished"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_checked() {
        assert!(valid_prefix("cloudtrail").is_ok());
        assert!(valid_prefix("ct-prod").is_ok());
        for bad in ["", "CT", "-x", "a b", "a*", "a/b"] {
            assert!(valid_prefix(bad).is_err(), "{bad}");
        }
    }
}
