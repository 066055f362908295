//! `cloudtrail-es report`: the report page (and JSON) of log files, or of what a cluster holds.
//!
//! From files the wiring is backfill's, with counting in place of the output: the same sources
//! and feed (layout filters, digests skipped), the same decoder and transform (filters and
//! redaction; the transform notes the report's fields as it walks each event, so nothing is
//! parsed twice), and reader threads that each count into their own aggregator, merged at the
//! end (`report/aggregate.rs`). From a cluster, aggregations compute the same numbers
//! (`report/cluster.rs`). Either way the page and the JSON are written last, 0600.

use super::backfill::{feed_sources, SelectSettings};
use super::shutdown::{self, Messages};
use super::Outcome;
use crate::aws::AwsSettings;
use crate::cluster::ClusterSettings;
use crate::decode::{decode, DecodeError, DecodeSettings, Format, Item};
use crate::detect::{Detector, RuleSource};
use crate::private_file::{self, How};
use crate::progress::Progress;
use crate::report::cluster::Query;
use crate::report::spec;
use crate::report::{page, Aggregator, Event, Options, Report, Shared};
use crate::source::feed::Feed;
use crate::source::{local, SourceSpec, Unit};
use crate::stats::Stats;
use crate::transform::{Noted, Noting, Transform, TransformSpec};
use anyhow::Context;
use std::io::Write;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{error, warn};

/// What to report on and where the report goes.
#[derive(Debug)]
pub struct ReportSettings {
    /// Files or a cluster.
    pub input: ReportInput,
    /// The page.
    pub html: PathBuf,
    /// The JSON document, if asked for.
    pub json: Option<PathBuf>,
    /// What the report counts.
    pub options: Options,
    /// Sigma rules (`--rules`): from files, evaluated on each event as `backfill` does; from a
    /// cluster, the findings section reads `PREFIX-findings-*`.
    pub rules: Vec<RuleSource>,
}

/// Where the events come from.
#[derive(Debug)]
pub enum ReportInput {
    /// Log files, as backfill reads them.
    Files(Box<FileInput>),
    /// What is indexed.
    Cluster {
        /// How to reach it.
        cluster: Box<ClusterSettings>,
        /// Which indices and events.
        query: Query,
    },
}

/// Log files, as backfill reads them.
#[derive(Debug)]
pub struct FileInput {
    /// Files, folders and `s3://` prefixes.
    pub sources: Vec<SourceSpec>,
    /// Which files.
    pub select: SelectSettings,
    /// AWS access for `s3://` sources.
    pub aws: AwsSettings,
    /// Filters and redaction.
    pub transform: TransformSpec,
    /// Reader threads.
    pub readers: usize,
    /// The decoder's limits.
    pub decode: DecodeSettings,
}

/// Makes the report and writes it.
pub async fn run(settings: ReportSettings) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let options = &settings.options;
    let (mut report, outcome, input) = match settings.input {
        ReportInput::Files(files) => {
            let input = files.sources.iter().map(shown).collect();
            let console_only = files.transform.console_only;
            let stats = Arc::new(Stats::default());
            let detector = super::indexing::load_detector(&settings.rules, &stats)?;
            let (report, outcome) = from_files(*files, options, detector, stats, started).await?;
            (report, outcome, (input, console_only))
        }
        ReportInput::Cluster { cluster, query } => {
            let client = super::client::build(&cluster).await?;
            let mut report = crate::report::cluster::report(&client, &query, options).await?;
            if options.findings {
                report.findings = Some(crate::report::findings::from_cluster(&client, &query).await?);
            }
            let input = vec![format!("{} {}-*", crate::cluster::shown(&cluster.url), query.prefix)];
            (report, Outcome::default(), (input, query.console_only))
        }
    };
    report.about.input = input.0;
    report.about.console_only = input.1;
    report.about.generated = crate::report::model::time_text(chrono::Utc::now().timestamp());
    report.about.launch_events = settings.options.launch_events.clone();
    report.about.with_reads = settings.options.with_reads;
    write(&settings.html, page::page(&report).as_bytes())?;
    if let Some(path) = &settings.json {
        let mut json = serde_json::to_vec_pretty(&report).context("cannot write the report as JSON")?;
        json.push(b'\n');
        write(path, &json)?;
    }
    if let Some(f) = &report.findings {
        let levels: Vec<String> =
            f.levels.iter().filter(|(_, n)| **n > 0).map(|(level, n)| format!("{level} {n}")).collect();
        eprintln!("findings: {} ({})", f.total, levels.join(", "));
    }
    eprintln!("report:  {} events; written to {}", report.events, settings.html.display());
    if let Some(path) = &settings.json {
        eprintln!("json:    {}", path.display());
    }
    Ok(outcome)
}

/// A source as the page names it.
fn shown(spec: &SourceSpec) -> String {
    match spec {
        SourceSpec::Local(path) => path.display().to_string(),
        SourceSpec::S3 { bucket, prefix } => format!("s3://{bucket}/{prefix}"),
    }
}

/// Writes a report file (0600, never through a link).
fn write(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut file = private_file::open(path, How::Truncate)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(bytes).with_context(|| format!("cannot write {}", path.display()))
}

/// Reads the files and counts their events.
async fn from_files(
    files: FileInput,
    options: &Options,
    detector: Option<Arc<Detector>>,
    stats: Arc<Stats>,
    started: Instant,
) -> anyhow::Result<(Report, Outcome)> {
    for spec in &files.sources {
        if let SourceSpec::Local(path) = spec {
            local::check_root(path)?;
        }
    }
    let transform = Arc::new(Transform::noting(files.transform, spec::FIELDS, spec::RESOURCES)?);
    let cancel = CancellationToken::new();
    shutdown::cancel_on_signal(
        &cancel,
        Messages {
            stopping: "interrupted: finishing the files being read (Ctrl-C again to quit at once)",
            quitting: "interrupted twice: quitting, no report written",
        },
    )?;
    let (file_tx, file_rx) = flume::bounded(64);
    let feed = Feed {
        files: file_tx,
        // No journal: nothing is delivered, so nothing is recorded.
        receipts: tokio::sync::mpsc::unbounded_channel().0,
        admit: Default::default(),
        filter: files.select.filter.clone(),
        stats: stats.clone(),
        cancel: cancel.clone(),
    };
    let (options, shared) = (Arc::new(options.clone()), Arc::new(Shared::default()));
    let readers: Vec<_> = (0..files.readers.max(1))
        .map(|i| {
            let mut reader = Reader {
                transform: transform.clone(),
                decode: files.decode.clone(),
                stats: stats.clone(),
                cancel: cancel.clone(),
                aggregator: Aggregator::new(options.clone(), shared.clone()),
                options: Options::clone(&options),
                detector: detector.clone(),
                hits: Vec::new(),
            };
            let rx = file_rx.clone();
            std::thread::Builder::new().name(format!("report-{i}")).spawn(move || {
                reader.run(&rx);
                reader.aggregator
            })
        })
        .collect::<Result<_, _>>()
        .context("cannot start the reader threads")?;
    drop(file_rx);
    let progress = Progress::start(stats.clone());
    let fed = feed_sources(&files.sources, &files.select, &files.aws, None, feed).await;
    let aggregators = tokio::task::spawn_blocking(move || {
        readers
            .into_iter()
            .map(|t| t.join().map_err(|_| anyhow::anyhow!("a reader thread panicked")))
            .collect::<Vec<_>>()
    })
    .await?;
    progress.finish();
    fed?;
    let mut merged: Option<Aggregator> = None;
    for a in aggregators {
        let a = a?;
        match &mut merged {
            Some(m) => m.merge(a),
            None => merged = Some(a),
        }
    }
    let report = merged.map(Aggregator::report).unwrap_or_default();
    summary(&stats, started);
    let interrupted = cancel.is_cancelled();
    Ok((report, Outcome { problems: stats.has_problems(), interrupted }))
}

/// The summary line: what was read, how fast.
fn summary(stats: &Stats, started: Instant) {
    use std::sync::atomic::Ordering::Relaxed;
    let secs = started.elapsed().as_secs_f64();
    let read = stats.events_read.load(Relaxed);
    eprintln!(
        "files:   {} read, {} skipped (digest or not a log), {} failed",
        stats.files_read.load(Relaxed),
        stats.files_skipped.load(Relaxed),
        stats.files_failed.load(Relaxed)
    );
    eprintln!(
        "events:  {read} read: {} counted, {} filtered out, {} unreadable",
        stats.events_indexed.load(Relaxed),
        stats.events_filtered.load(Relaxed),
        stats.events_failed.load(Relaxed)
    );
    let rate = if secs > 0.0 { read as f64 / secs } else { 0.0 };
    eprintln!("elapsed: {secs:.2} s ({rate:.0} events/s)");
}

/// The fields the report notes of each event: [`spec::FIELDS`], then for a launch
/// [`spec::RESOURCES`].
const NOTED: usize = spec::FIELDS.len() + spec::RESOURCES.len();

/// One reader thread: decode → transform (noting) → count.
struct Reader {
    transform: Arc<Transform>,
    decode: DecodeSettings,
    stats: Arc<Stats>,
    cancel: CancellationToken,
    aggregator: Aggregator,
    /// What is counted (which events are launches): the reader's own copy, read on every event.
    options: Options,
    /// The Sigma rules (`--rules`), evaluated as `pipeline.rs` does for backfill.
    detector: Option<Arc<Detector>>,
    /// The rules an event matched (reused).
    hits: Vec<usize>,
}

impl Reader {
    fn run(&mut self, files: &flume::Receiver<Unit>) {
        let (mut scratch, mut noted) = (Vec::new(), Noted::default());
        while let Ok(Unit { file, ack }) = files.recv() {
            if self.cancel.is_cancelled() {
                break;
            }
            let name = ack.file().clone();
            let raw = match file.open() {
                Ok(raw) => raw,
                Err(e) => {
                    error!("{name}: cannot open: {e}");
                    Stats::add(&self.stats.files_failed, 1);
                    continue;
                }
            };
            let settings = self.decode.clone();
            // Counted once per file, as backfill's readers do: a shared counter added to per
            // event is a cache line the reader threads pass to each other for every event.
            let mut counts = Counts::default();
            let result = decode(raw, &settings, |item| {
                counts.read += 1;
                match item {
                    Item::Event { index, bytes } => {
                        match self.event(&name, index, bytes, &mut scratch, &mut noted) {
                            Became::Counted => counts.counted += 1,
                            Became::Filtered => counts.filtered += 1,
                            Became::Failed => counts.failed += 1,
                        }
                    }
                    Item::TooLarge(too_large) => {
                        warn!("{name}: {too_large}");
                        counts.failed += 1;
                    }
                }
                // Asked now and then (it takes a lock the readers share).
                if counts.read % CANCEL_EVERY == 0 && self.cancel.is_cancelled() {
                    return ControlFlow::Break(());
                }
                ControlFlow::Continue(())
            });
            Stats::add(&self.stats.events_read, counts.read);
            Stats::add(&self.stats.events_indexed, counts.counted);
            Stats::add(&self.stats.events_filtered, counts.filtered);
            Stats::add(&self.stats.events_failed, counts.failed);
            match result {
                Ok(decoded) if decoded.format == Format::Digest => Stats::add(&self.stats.files_skipped, 1),
                Ok(_) => Stats::add(&self.stats.files_read, 1),
                Err(failure) if matches!(failure.error, DecodeError::Stopped) => break,
                Err(failure) => {
                    error!("{name}: {failure}");
                    Stats::add(&self.stats.files_failed, 1);
                }
            }
            ack.read_to_end();
        }
    }

    fn event(
        &mut self,
        file: &str,
        index: u64,
        bytes: &[u8],
        scratch: &mut Vec<u8>,
        noted: &mut Noted,
    ) -> Became {
        scratch.clear();
        match self.transform.encode_noted(bytes, scratch, noted) {
            Ok(Noting::Kept { day, event: checked }) => {
                let mut event = Event {
                    values: [const { None }; NOTED],
                    console: noted.console(),
                    launch: false,
                    time: day.unix,
                };
                let (fields, resources) = event.values.split_at_mut(spec::FIELDS.len());
                noted.texts(bytes, checked, scratch, fields);
                event.launch = self.options.launch(fields[spec::F::EventName as usize].as_deref());
                if event.launch {
                    self.transform.later_texts(bytes, scratch, noted, resources);
                }
                self.aggregator.add(&event);
                if let Some(detector) = &self.detector {
                    // On the event as CloudTrail wrote it, as backfill evaluates it.
                    if detector.evaluate(bytes, &mut self.hits).is_err() {
                        Stats::add(&self.stats.events_unevaluable, 1);
                        warn!("{file}: record {index}: the Sigma evaluator failed on it; no finding counted");
                    }
                    for &i in &self.hits {
                        self.aggregator.finding(&detector.rules()[i], &event);
                    }
                }
                Became::Counted
            }
            Ok(Noting::Filtered) => Became::Filtered,
            Err(problem) => {
                // Never a value of the event (see EventProblem).
                warn!("{file}: record {index}: {problem}");
                Became::Failed
            }
        }
    }
}

/// What became of one event.
enum Became {
    Counted,
    Filtered,
    Failed,
}

/// One file's events, by what became of them.
#[derive(Default)]
struct Counts {
    read: u64,
    counted: u64,
    filtered: u64,
    failed: u64,
}

/// Events between two looks at the cancellation.
const CANCEL_EVERY: u64 = 64;
