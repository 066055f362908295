//! `cloudtrail-es replay DEAD_LETTERS.ndjson`: the way back for dead letters, once their cause is
//! fixed (a mapping changed, an outage over).
//!
//! Wiring, in data order: the input is read letter by letter (`source/dead_letter_reader/`) on a
//! blocking thread (`replay/reader.rs`), which frames each replayable letter into batches → the same
//! bulk output backfill uses (`output/elasticsearch/`: its retries, backoff, 413 splits and
//! dead-lettering) → each letter's receipt comes back to the collector here, which writes the
//! letters that could not be delivered, whole, into the new dead-letter file (`replay/tally.rs`).
//! What the cluster or the transform refuses again is dead-lettered into that same new file by
//! whoever refuses it; a letter already indexed answers 409 (`create`) and counts as already
//! present, so a replay never adds a copy.
//!
//! The input is never written: every letter stays in it, whatever happens. When the cluster
//! cannot be reached at all, every replayable letter is written to the new file as it is, so that
//! the new file alone holds everything that is still not in.

mod reader;
mod tally;

use super::indexing::IndexingSettings;
use super::shutdown::{self, Messages};
use super::Outcome;
use crate::ack::Delivery;
use crate::output::dead_letter::{DeadLetters, DEFAULT_MAX_DOCUMENT};
use crate::stats::Stats;
use anyhow::{bail, Context};
use futures::StreamExt;
use reader::{Pending, Reader};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Instant;
use tally::{Rewriter, Tally};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{error, info};

/// The default longest line read from a dead-letter file (a letter keeps at most 1 MiB of its
/// event, which JSON escaping or base64 makes at most a few MiB).
pub const DEFAULT_MAX_LINE_BYTES: usize = 16 << 20;

/// What a replay reads and where it sends.
#[derive(Debug)]
pub struct ReplaySettings {
    /// The dead-letter file to replay (only read).
    pub input: PathBuf,
    /// Where what fails again goes; default `NAME.replay-TIMESTAMP.ndjson` beside the input.
    pub dead_letter: Option<PathBuf>,
    /// A longer line is skipped (and counted as invalid) without being held.
    pub max_line_bytes: usize,
    /// Transform (for records), cluster, batching; its `dead_letter` is not used.
    pub indexing: IndexingSettings,
}

/// Replays every letter of the input; the outcome has problems unless everything replayable is in.
pub async fn run(mut settings: ReplaySettings) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let input_path = settings.input.clone();
    let input = std::fs::File::open(&input_path)
        .with_context(|| format!("cannot read the dead letters {}", input_path.display()))?;
    let out = match &settings.dead_letter {
        Some(path) => path.clone(),
        None => derived_path(&input_path),
    };
    refuse_same(&input_path, &out)?;
    let stats = Arc::new(Stats::default());
    // Unusable rules stop the run before anything is sent.
    let mut transform = settings.indexing.transform()?;
    let limit = settings.max_line_bytes.max(DEFAULT_MAX_DOCUMENT);
    let dead = Arc::new(DeadLetters::with_limit(out, limit));
    let cancel = CancellationToken::new();
    watch_signals(&cancel)?;
    let (output, frame) = match settings.indexing.open_output(&dead, &stats, &cancel).await {
        Ok(opened) => (Some(opened.output), Some(opened.frame)),
        Err(e) => {
            error!(
                "cannot replay: {e:#}; every replayable letter is written as it is to {} (and stays in {})",
                dead.path().display(),
                input_path.display()
            );
            (None, None)
        }
    };
    transform.move_long_values(output.as_ref().is_some_and(crate::output::Output::refuses_long_leaves));
    if output.as_ref().is_some_and(crate::output::Output::refuses_long_leaves) {
        transform.copy_keyword_leaves()?;
    }
    let tally = Arc::new(Tally::default());
    let offline = output.is_none();
    let reader = Reader {
        input: input_path.display().to_string(),
        max_line: settings.max_line_bytes.max(1),
        transform,
        frame,
        limits: settings.indexing.readers.batch,
        dead: dead.clone(),
        stats: stats.clone(),
        tally: tally.clone(),
        cancel: cancel.clone(),
    };
    let (batch_tx, batches) = mpsc::channel(settings.indexing.readers.queued_batches.max(1));
    let (pending_tx, pending) = mpsc::unbounded_channel();
    let reading = tokio::task::spawn_blocking(move || reader.run(input, batch_tx, pending_tx));
    let collecting = tokio::spawn(collect(pending, Rewriter::new(dead.clone(), tally.clone())));
    let delivered = match output {
        Some(output) => output.run(batches, &stats).await,
        None => {
            drop(batches);
            Ok(())
        }
    };
    let stopped = reading.await?.with_context(|| format!("cannot read {}", input_path.display()));
    collecting.await?;
    report(&stats, &tally, &input_path, dead.path(), started);
    delivered?;
    let stopped = stopped?;
    if let Some(line) = stopped {
        eprintln!("stopped before line {line}: the letters from there on were not replayed");
    }
    let problems = tally.invalid.count()
        + tally.refused.count()
        + tally.unavailable.count()
        + tally.lost.count()
        + stats.events_failed.load(Relaxed)
        > 0
        || offline;
    Ok(Outcome { problems, interrupted: stopped.is_some() || cancel.is_cancelled() })
}

/// Awaits every letter's receipt: refused again (its new letter is written already), or not
/// delivered (written back, whole, into the new file).
async fn collect(mut pending: mpsc::UnboundedReceiver<Pending>, mut rewriter: Rewriter) {
    let mut waiting = futures::stream::FuturesUnordered::new();
    let mut open = true;
    loop {
        tokio::select! {
            next = pending.recv(), if open => match next {
                Some(Pending { line, letter, receipt }) => {
                    waiting.push(async move { (line, letter, receipt.await) });
                }
                None => open = false,
            },
            Some((line, letter, done)) = waiting.next(), if !waiting.is_empty() => match done.delivery {
                Delivery::Delivered => {}
                Delivery::DeadLettered => rewriter.tally().refused.add(line),
                Delivery::Failed => tokio::task::block_in_place(|| rewriter.push(line, letter)),
            },
            else => break,
        }
        if !open && waiting.is_empty() {
            break;
        }
    }
    tokio::task::block_in_place(|| rewriter.flush());
}

/// The summary on stderr: one line of counts, the line numbers of what needs a look, never content.
fn report(stats: &Stats, tally: &Tally, input: &Path, out: &Path, started: Instant) {
    let get = |c: &std::sync::atomic::AtomicU64| c.load(Relaxed);
    let failed = tally.refused.count() + tally.unavailable.count();
    let mut line = format!(
        "replay:  {} letters read: {} sent, {} already present, {} failed again, {} not replayable{}, {} invalid{}",
        get(&stats.events_read),
        get(&stats.events_indexed),
        get(&stats.events_present),
        failed,
        tally.not_replayable.count(),
        tally.not_replayable.shown(),
        tally.invalid.count(),
        tally.invalid.shown(),
    );
    if get(&stats.events_filtered) > 0 {
        line.push_str(&format!(", {} filtered out", get(&stats.events_filtered)));
    }
    eprintln!("{line}");
    if tally.refused.count() > 0 {
        eprintln!("refused again: {}{}", tally.refused.count(), tally.refused.shown());
    }
    if tally.unavailable.count() > 0 {
        eprintln!(
            "not delivered (the cluster was unavailable): {}{}; replay the new file once it is back",
            tally.unavailable.count(),
            tally.unavailable.shown()
        );
    }
    if failed > 0 {
        eprintln!("failed again, written to: {}", out.display());
    }
    if tally.lost.count() > 0 {
        eprintln!(
            "not written anywhere but the input (see the errors above): {}{}",
            tally.lost.count(),
            tally.lost.shown()
        );
    }
    eprintln!("elapsed: {:.2} s (input {} unchanged)", started.elapsed().as_secs_f64(), input.display());
    info!(
        letters = get(&stats.events_read),
        sent = get(&stats.events_indexed),
        present = get(&stats.events_present),
        failed,
        not_replayable = tally.not_replayable.count(),
        invalid = tally.invalid.count(),
        "replay finished"
    );
}

/// `NAME.replay-YYYYMMDDTHHMMSS.mmmZ.ndjson` beside `input` (`NAME`: the input's name without
/// `.ndjson` and without an earlier `.replay-…`).
pub fn derived_path(input: &Path) -> PathBuf {
    let at = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
    let name = input.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let stem = name.strip_suffix(".ndjson").unwrap_or(&name);
    let stem = stem.split(".replay-").next().unwrap_or(stem);
    input.with_file_name(format!("{stem}.replay-{at}.ndjson"))
}

/// Refuses to write the new letters into the file being read (by name, link or the same inode),
/// or into a folder that does not exist (found before anything is sent, not at the first letter).
fn refuse_same(input: &Path, out: &Path) -> anyhow::Result<()> {
    let canonical = |p: &Path| -> Option<PathBuf> {
        p.canonicalize().ok().or_else(|| {
            let parent = p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
            Some(parent.canonicalize().ok()?.join(p.file_name()?))
        })
    };
    let same_name = canonical(input).is_some() && canonical(input) == canonical(out);
    #[cfg(unix)]
    let same_file = {
        use std::os::unix::fs::MetadataExt;
        match (std::fs::metadata(input), std::fs::metadata(out)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    };
    #[cfg(not(unix))]
    let same_file = false;
    let folder = out.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !folder.is_dir() {
        bail!("{}: no such folder for the new dead letters", folder.display());
    }
    if same_name || same_file {
        bail!(
            "{}: the new dead letters cannot go into the file being replayed; give another --dead-letters PATH",
            out.display()
        );
    }
    Ok(())
}

/// First signal: stop reading letters and finish what is in flight. Second: leave at once.
fn watch_signals(cancel: &CancellationToken) -> anyhow::Result<()> {
    shutdown::cancel_on_signal(
        cancel,
        Messages {
            stopping: "interrupted: finishing what is in flight (Ctrl-C again to quit at once)",
            quitting: "interrupted twice: quitting; the input still holds every letter",
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_new_file_is_named_after_the_input_and_never_is_it() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("dl.ndjson");
        std::fs::write(&input, "").unwrap();
        let out = derived_path(&input);
        let name = out.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("dl.replay-") && name.ends_with("Z.ndjson"), "{name}");
        assert_eq!(out.parent(), input.parent());
        let again = derived_path(&out).file_name().unwrap().to_string_lossy().into_owned();
        assert!(again.starts_with("dl.replay-") && again.matches(".replay-").count() == 1, "{again}");
        assert!(refuse_same(&input, &out).is_ok());
        assert!(refuse_same(&input, &input).is_err());
        assert!(refuse_same(&input, &dir.path().join(".").join("dl.ndjson")).is_err());
        let link = dir.path().join("link.ndjson");
        std::os::unix::fs::symlink(&input, &link).unwrap();
        assert!(refuse_same(&input, &link).is_err(), "a link to the input");
        let hard = dir.path().join("hard.ndjson");
        std::fs::hard_link(&input, &hard).unwrap();
        assert!(refuse_same(&input, &hard).is_err(), "a hard link to the input");
        assert!(refuse_same(&input, &dir.path().join("missing/new.ndjson")).is_err(), "no such folder");
    }
}
