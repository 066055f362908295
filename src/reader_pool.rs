//! The reader pool: the CPU half of a run, decode → transform → output framing, into batches.
//!
//! A few reader threads (decompression and JSON scanning are CPU work) each take the next
//! [`Unit`] from the sources, stream its events (`decode`), turn each into a document
//! (`transform`), frame it in the output's wire format ([`Frame`]) into the current [`Batch`], and
//! hand full batches to the output. Batches span files: a reader only sends a partial batch when it
//! has no next file waiting, so a backfill sends full batches and a quiet follower does not sit on
//! events.
//!
//! Every event carries an ack from its file's [`FileAck`]; events that cannot become documents are
//! dead-lettered here, with the file and record number in the reason (redacted, or withheld, when
//! redaction is on); events a filter drops are counted and settled as delivered.
//!
//! With Sigma rules (`detect/`), each event that becomes a document is evaluated as CloudTrail
//! wrote it, and each match adds a finding document to the batch (with its own ack from the file).
//! With alert rules, each framed document (and its findings) is also offered to the [`AlertTap`]:
//! a matching event or finding gets another ack from its file, settled by the alert output
//! (`output/alert/`).

use crate::ack::{Delivery, FileAck};
use crate::decode::{decode, DecodeError, DecodeSettings, Format, Item, TooLarge};
use crate::detect::{finding, Detector};
use crate::output::alert::{AlertTap, Finding};
use crate::output::batch::{Batch, BatchLimits, Frame, Spares};
use crate::output::dead_letter::{DeadLetter, DeadLetters, Payload};
use crate::source::Unit;
use crate::stats::Stats;
use crate::transform::{Encoded, Routing, TopLevel, Transform};
use flume::{Receiver, TryRecvError};
use std::io::{self, Read};
use std::ops::ControlFlow;
use std::sync::Arc;
use std::thread::JoinHandle;
use tokio::sync::mpsc::{self, Sender};
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, warn};

/// How the readers work.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReaderSettings {
    /// Reader threads.
    pub readers: usize,
    /// When a batch is full.
    pub batch: BatchLimits,
    /// Full batches waiting for the output (beyond those it is sending).
    pub queued_batches: usize,
    /// Limits of the decoder (the largest event read, how much of a gzip member is held).
    pub decode: DecodeSettings,
}

impl ReaderSettings {
    /// One reader per CPU: decompression and JSON scanning are CPU work.
    pub fn default_readers() -> usize {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    }
}

/// The reading half once started: its threads and the batches they fill.
pub struct Started {
    /// Reader threads; see [`join`].
    pub threads: Vec<JoinHandle<()>>,
    /// Full batches, for the output.
    pub batches: mpsc::Receiver<Batch>,
}

/// Starts the readers, taking files from `files` and framing documents with `frame` (and offering
/// them to `alerts`, if any).
#[allow(clippy::too_many_arguments)]
pub fn start(
    settings: &ReaderSettings,
    transform: Arc<Transform>,
    frame: Arc<dyn Frame>,
    alerts: Option<AlertTap>,
    detector: Option<Arc<Detector>>,
    files: Receiver<Unit>,
    dead: &Arc<DeadLetters>,
    stats: &Arc<Stats>,
    cancel: &CancellationToken,
) -> Started {
    let (batch_tx, batches) = mpsc::channel(settings.queued_batches.max(1));
    let readers = Readers {
        decode: settings.decode.clone(),
        transform,
        frame,
        alerts,
        detector,
        limits: settings.batch,
        // One spare per reader and one more: enough that a batch handed back is never freed
        // while a reader allocates another, and no more than the batches already in flight
        // (readers filling, one queued, one written).
        spares: Spares::new(settings.readers.max(1) + 1, batch_room(&settings.batch)),
        dead: dead.clone(),
        stats: stats.clone(),
        cancel: cancel.clone(),
    };
    let threads = readers.spawn(settings.readers, files, batch_tx);
    Started { threads, batches }
}

/// The room a batch body is made with: a full batch plus the event that makes it full.
fn batch_room(limits: &BatchLimits) -> usize {
    limits.max_bytes.saturating_add(64 * 1024).min(64 << 20)
}

/// Waits for reader threads to end (they do once their files and the output are done).
pub fn join(threads: Vec<JoinHandle<()>>) -> Result<(), &'static str> {
    for t in threads {
        t.join().map_err(|_| "a reader thread panicked")?;
    }
    Ok(())
}

/// Everything a reader thread needs, shared by all of them.
pub struct Readers {
    /// The decoder's limits.
    pub decode: DecodeSettings,
    /// Events to documents: redaction, filters, routing (shared: a Lambda function's reader
    /// pools, one per invocation, share one).
    pub transform: Arc<Transform>,
    /// The output's wire format.
    pub frame: Arc<dyn Frame>,
    /// Alert rules, offered every document.
    pub alerts: Option<AlertTap>,
    /// Sigma rules, evaluated on every event that becomes a document.
    pub detector: Option<Arc<Detector>>,
    /// When a batch is full.
    pub limits: BatchLimits,
    /// Batches an output emptied, for the next ones (one per reader and one more, at most).
    pub spares: Arc<Spares>,
    /// Where events that cannot become documents go.
    pub dead: Arc<DeadLetters>,
    /// Run counters.
    pub stats: Arc<Stats>,
    /// Cancelled when the run must stop: readers stop between events.
    pub cancel: CancellationToken,
}

impl Readers {
    /// Starts `count` reader threads taking files from `files` and sending batches to `batches`.
    pub fn spawn(self, count: usize, files: Receiver<Unit>, batches: Sender<Batch>) -> Vec<JoinHandle<()>> {
        let shared = Arc::new(self);
        (0..count.max(1))
            .map(|i| {
                let (shared, files, batches) = (shared.clone(), files.clone(), batches.clone());
                std::thread::Builder::new()
                    .name(format!("reader-{i}"))
                    .spawn(move || shared.run(&files, &batches))
                    .expect("spawning a reader thread")
            })
            .collect()
    }

    fn run(&self, files: &Receiver<Unit>, batches: &Sender<Batch>) {
        let mut batch = self.new_batch();
        let mut scratch = Scratch::default();
        loop {
            let file = match files.try_recv() {
                Ok(file) => file,
                Err(TryRecvError::Empty) => {
                    // Nothing waiting: send what we have rather than sit on it.
                    if !batch.is_empty()
                        && batches.blocking_send(std::mem::replace(&mut batch, self.new_batch())).is_err()
                    {
                        return;
                    }
                    match files.recv() {
                        Ok(file) => file,
                        Err(_) => break,
                    }
                }
                Err(TryRecvError::Disconnected) => break,
            };
            if self.cancel.is_cancelled()
                || self.read_file(file, &mut batch, &mut scratch, batches).is_break()
            {
                break;
            }
        }
        if !batch.is_empty() {
            let _ = batches.blocking_send(batch);
        }
    }

    /// An empty batch with room for a full one, so filling it never reallocates: one an output
    /// handed back if there is (`Spares`), else a new one.
    fn new_batch(&self) -> Batch {
        let mut batch = self.spares.take().unwrap_or_default();
        batch.body.reserve(batch_room(&self.limits));
        batch.items.reserve(self.limits.max_events.min(100_000));
        batch.spares = Some(self.spares.clone());
        batch
    }

    /// Reads one file into batches. `Break` means the run is stopping (the output gone, or cancelled).
    fn read_file(
        &self,
        unit: Unit,
        batch: &mut Batch,
        scratch: &mut Scratch,
        batches: &Sender<Batch>,
    ) -> ControlFlow<()> {
        let Unit { file, ack } = unit;
        let raw = match file.open() {
            Ok(raw) => Counted { inner: raw, stats: &self.stats },
            Err(e) => {
                // Nothing was read: the file must be tried again by a later run.
                ack.settle(Delivery::Failed);
                self.file_failed(&ack, format!("cannot open: {e}"));
                return ControlFlow::Continue(());
            }
        };
        // Counted once per file: a shared counter added to per event is a cache line the
        // reader threads pass to each other for every event.
        let mut read = 0;
        let result = decode(raw, &self.decode, |item| {
            read += 1;
            match item {
                Item::Event { index, bytes } => self.encode(&ack, index, bytes, batch, scratch),
                Item::TooLarge(too_large) => self.too_large(&ack, &too_large),
            }
            let full = batch.is_full(&self.limits);
            if self.cancel.is_cancelled()
                || (full && batches.blocking_send(std::mem::replace(batch, self.new_batch())).is_err())
            {
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        });
        Stats::add(&self.stats.events_read, read);
        for (level, n) in std::mem::take(&mut scratch.findings).into_iter().enumerate() {
            if n > 0 {
                Stats::add(&self.stats.findings[level], n);
            }
        }
        match result {
            Ok(decoded) => {
                ack.read_to_end();
                if let Some(trailing) = &decoded.trailing {
                    let what = if trailing.padding { "padding" } else { "bytes that are not gzip" };
                    warn!(
                        "{}: every event read; {} trailing bytes ({what}) after gzip member {} ignored",
                        ack.file(),
                        trailing.bytes,
                        trailing.members
                    );
                }
                Stats::add(&self.stats.control_messages, decoded.control_messages);
                if decoded.format == Format::Digest {
                    debug!("{}: digest file, skipped", ack.file());
                    Stats::add(&self.stats.files_skipped, 1);
                    Stats::add(&self.stats.digests_read, 1);
                } else {
                    Stats::add(&self.stats.files_read, 1);
                }
            }
            Err(failure) if matches!(failure.error, DecodeError::Stopped) => {
                // Part of the file was read: it is not finished, and a later run reads it again.
                ack.settle(Delivery::Failed);
                return ControlFlow::Break(());
            }
            Err(failure) => {
                if failure.unverified > 0 {
                    ack.sent_unverified();
                }
                self.file_failed(&ack, failure.to_string());
            }
        }
        ControlFlow::Continue(())
    }

    /// Dead-letters a record too big to read: its size and place, and (redaction off) its first bytes.
    fn too_large(&self, ack: &FileAck, too_large: &TooLarge) {
        let reason = too_large.to_string();
        warn!("{}: {reason}", ack.file());
        let prefix = if self.transform.redacts() { &[][..] } else { too_large.prefix };
        let event = Payload::Skipped { bytes: too_large.size, prefix };
        let letter = DeadLetter { file: ack.file(), reason: &reason, status: None, action: None, event };
        self.write_dead_letter(ack, letter);
    }

    /// Encodes one event into the batch, drops it (filters), or dead-letters it.
    fn encode(&self, ack: &FileAck, index: u64, event: &[u8], batch: &mut Batch, scratch: &mut Scratch) {
        let Scratch { document, top, findings: counts, hits, body } = scratch;
        document.clear();
        // With rules, the walk notes where the top-level members are: the rules and the findings
        // read them there.
        let encoded = match &self.detector {
            Some(_) => self.transform.encode_top(event, document, top),
            None => self.transform.encode(event, document),
        };
        match encoded {
            Ok(Encoded::Document(routing)) => {
                if routing.omitted {
                    Stats::add(&self.stats.events_omitted, 1);
                }
                self.frame.append(batch, &routing, document, ack.event());
                let findings = match &self.detector {
                    Some(detector) => {
                        let room = (&mut *hits, &mut *body);
                        self.findings(detector, (event, top), &routing, document, batch, ack, counts, room)
                    }
                    None => Vec::new(),
                };
                if let Some(alerts) = &self.alerts {
                    alerts.offer(event, &routing.id, document, ack, &mut Vec::new(), &findings);
                }
            }
            Ok(Encoded::Filtered) => {
                // Intentionally not indexed: as done as an indexed event.
                Stats::add(&self.stats.events_filtered, 1);
                ack.event().settle(Delivery::Delivered);
            }
            Err(problem) => {
                // The reason never quotes a value that could be redacted (see EventProblem).
                let reason = format!("record {index}: {problem}");
                warn!("{}: {reason}", ack.file());
                // What may be kept of it: the event, or with redaction on its redacted form.
                let redacted = self.transform.redacted(event);
                let event = match &redacted {
                    Some(document) => Payload::from_bytes(document),
                    None => Payload::withheld(event.len()),
                };
                let letter =
                    DeadLetter { file: ack.file(), reason: &reason, status: None, action: None, event };
                self.write_dead_letter(ack, letter);
            }
        }
    }

    /// Evaluates the Sigma rules on `event` (as CloudTrail wrote it) and adds a finding to the batch
    /// for each match, made from `document` (the event as written, redacted), counted in
    /// `counts` by level (`hits`, `body`: the reader's room for the rules matched and a finding,
    /// kept from one event to the next). Returns them when there are alerts to offer them to.
    #[allow(clippy::too_many_arguments)]
    fn findings(
        &self,
        detector: &Detector,
        (event, top): (&[u8], &TopLevel),
        routing: &Routing,
        document: &[u8],
        batch: &mut Batch,
        ack: &FileAck,
        counts: &mut [u64; 5],
        (hits, body): (&mut Vec<usize>, &mut Vec<u8>),
    ) -> Vec<Finding> {
        if detector.evaluate_walked(event, top, hits).is_err() {
            Stats::add(&self.stats.events_unevaluable, 1);
            warn!("{}: the Sigma evaluator failed on an event; it is indexed without findings", ack.file());
        }
        if hits.is_empty() {
            return Vec::new();
        }
        // Written by the transform: valid JSON.
        let Some(source) = finding::Source::walked(document, event, top) else { return Vec::new() };
        let event_id = routing.id.to_text();
        let index = self.frame.index_name(&routing.day);
        let mut found = Vec::new();
        for &rule_index in hits.iter() {
            let rule = &detector.rules()[rule_index];
            counts[rule.level.index()] += 1;
            let id = finding::id(rule, &event_id);
            body.clear();
            source.write(detector.rule_json(rule_index), &index, &event_id, body);
            self.frame.append_finding(batch, &id, routing.day, body, ack.event());
            if self.alerts.is_some() {
                found.push(Finding { rule: rule.clone(), id, document: body.clone() });
            }
        }
        found
    }

    /// Writes one dead letter for an event of `ack`'s file, and settles it by the outcome.
    fn write_dead_letter(&self, ack: &FileAck, letter: DeadLetter) {
        ack.settle(self.dead.write_counted(letter, &self.stats));
    }

    fn file_failed(&self, ack: &FileAck, reason: String) {
        error!("{}: {reason}", ack.file());
        Stats::add(&self.stats.files_failed, 1);
        ack.broken(reason);
    }
}

/// A reader thread's buffers, kept from one event to the next.
#[derive(Default)]
struct Scratch {
    /// The event's document.
    document: Vec<u8>,
    /// Where its top-level members are (with rules).
    top: TopLevel,
    /// Findings made in the file being read, by level: counted once per file, as events are.
    findings: [u64; 5],
    /// The rules an event matched (with rules).
    hits: Vec<usize>,
    /// A finding's document (with rules).
    body: Vec<u8>,
}

/// Counts the raw bytes read from a source.
struct Counted<'a> {
    inner: Box<dyn Read + Send>,
    stats: &'a Stats,
}

impl Read for Counted<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        Stats::add(&self.stats.bytes_read, n as u64);
        Ok(n)
    }
}
