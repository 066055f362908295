//! The reading half of the pipeline: source → decode → transform → batches for the sink.
//!
//! A few reader threads (decompression and JSON scanning are CPU work) each take the next
//! [`LogFile`], stream its events, encode each into the current [`Batch`], and hand full batches
//! to the sink. Batches span files: a reader only sends a partial batch when it has no next file
//! waiting, so a backfill sends full batches and a quiet follower does not sit on events.
//!
//! Every event carries an ack from its file's [`FileAck`]; events that cannot become documents are
//! dead-lettered here, with the file and record number in the reason (redacted, or withheld, when
//! redaction is on); events a filter drops are counted and settled as delivered.

use crate::ack::{Delivery, FileAck, FileDone};
use crate::cli::{ClusterArgs, IndexingArgs};
use crate::decode::{read_records, DecodeError, FileKind};
use crate::sink::batch::{Batch, BatchLimits};
use crate::sink::dead_letter::{DeadLetter, DeadLetters, Payload};
use crate::source::LogFile;
use crate::stats::Stats;
use crate::transform::{Encoded, Transform};
use flume::{Receiver, TryRecvError};
use std::io::{self, Read};
use std::ops::ControlFlow;
use std::sync::Arc;
use std::thread::JoinHandle;
use tokio::sync::mpsc::{self, Sender, UnboundedSender};
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, warn};

/// One reader per CPU: decompression and JSON scanning are CPU work.
fn default_readers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// The reading half once started: its threads, the batches they fill, the files they finish.
pub struct Started {
    /// Reader threads; see [`Started::join`].
    pub threads: Vec<JoinHandle<()>>,
    /// Full batches, for the sink.
    pub batches: mpsc::Receiver<Batch>,
    /// Each file's acknowledgement, once the file and all its events are settled.
    pub done: mpsc::UnboundedReceiver<FileDone>,
}

/// Starts the readers configured by the command line, taking files from `files`.
pub fn start(
    (indexing, cluster): (&IndexingArgs, &ClusterArgs),
    transform: Transform,
    files: Receiver<LogFile>,
    dead: &Arc<DeadLetters>,
    stats: &Arc<Stats>,
    cancel: &CancellationToken,
) -> Started {
    let (batch_tx, batches) = mpsc::channel(cluster.bulk_concurrency.max(1) * 2);
    let (done_tx, done) = mpsc::unbounded_channel();
    let readers = Readers {
        transform,
        limits: BatchLimits { max_bytes: cluster.batch_bytes, max_events: cluster.batch_events.max(1) },
        dead: dead.clone(),
        stats: stats.clone(),
        done: done_tx,
        cancel: cancel.clone(),
    };
    let threads = readers.spawn(indexing.readers.unwrap_or_else(default_readers), files, batch_tx);
    Started { threads, batches, done }
}

/// Waits for reader threads to end (they do once their files and the sink are done).
pub fn join(threads: Vec<JoinHandle<()>>) -> Result<(), &'static str> {
    for t in threads {
        t.join().map_err(|_| "a reader thread panicked")?;
    }
    Ok(())
}

/// Everything a reader thread needs, shared by all of them.
pub struct Readers {
    /// Events to documents: naming, redaction, filters.
    pub transform: Transform,
    /// When a batch is full.
    pub limits: BatchLimits,
    /// Where events that cannot become documents go.
    pub dead: Arc<DeadLetters>,
    /// Run counters.
    pub stats: Arc<Stats>,
    /// Where finished files are announced.
    pub done: UnboundedSender<FileDone>,
    /// Cancelled when the run must stop: readers stop between events.
    pub cancel: CancellationToken,
}

impl Readers {
    /// Starts `count` reader threads taking files from `files` and sending batches to `batches`.
    pub fn spawn(
        self,
        count: usize,
        files: Receiver<LogFile>,
        batches: Sender<Batch>,
    ) -> Vec<JoinHandle<()>> {
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

    fn run(&self, files: &Receiver<LogFile>, batches: &Sender<Batch>) {
        let mut batch = self.new_batch();
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
            if self.cancel.is_cancelled() || self.read_file(file, &mut batch, batches).is_break() {
                break;
            }
        }
        if !batch.is_empty() {
            let _ = batches.blocking_send(batch);
        }
    }

    /// An empty batch with room for a full one, so filling it never reallocates.
    fn new_batch(&self) -> Batch {
        let room = self.limits.max_bytes.saturating_add(64 * 1024).min(64 << 20);
        Batch {
            body: Vec::with_capacity(room),
            items: Vec::with_capacity(self.limits.max_events.min(100_000)),
        }
    }

    /// Reads one file into batches. `Break` means the run is stopping (sink gone or cancelled).
    fn read_file(&self, file: LogFile, batch: &mut Batch, batches: &Sender<Batch>) -> ControlFlow<()> {
        let ack = FileAck::new(file.name.clone(), file.ticket, self.done.clone());
        if file.is_digest_path() {
            debug!("{}: digest file, skipped", file.name);
            Stats::add(&self.stats.files_skipped, 1);
            return ControlFlow::Continue(());
        }
        let raw = match file.open() {
            Ok(raw) => Counted { inner: raw, stats: &self.stats },
            Err(e) => {
                // Nothing was read: the file must be tried again by a later run.
                ack.settle(Delivery::Failed);
                self.file_failed(&ack, format!("cannot open: {e}"));
                return ControlFlow::Continue(());
            }
        };
        let result = read_records(raw, |index, event| {
            Stats::add(&self.stats.events_read, 1);
            self.encode(&ack, index, event, batch);
            let full = batch.is_full(&self.limits);
            if self.cancel.is_cancelled()
                || (full && batches.blocking_send(std::mem::replace(batch, self.new_batch())).is_err())
            {
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        });
        match result {
            Ok(FileKind::Log(_)) => Stats::add(&self.stats.files_read, 1),
            Ok(FileKind::Digest) => {
                debug!("{}: digest file, skipped", ack.file());
                Stats::add(&self.stats.files_skipped, 1);
            }
            Err(DecodeError::Stopped) => {
                // Part of the file was read: it is not finished, and a later run reads it again.
                ack.settle(Delivery::Failed);
                return ControlFlow::Break(());
            }
            Err(e) => self.file_failed(&ack, e.to_string()),
        }
        ControlFlow::Continue(())
    }

    /// Encodes one event into the batch, drops it (filters), or dead-letters it.
    fn encode(&self, ack: &FileAck, index: u64, event: &[u8], batch: &mut Batch) {
        let start = batch.body.len();
        match self.transform.encode(event, &mut batch.body) {
            Ok(Encoded::Written { time }) => batch.push_written(start, ack.event(), time),
            Ok(Encoded::Filtered) => {
                // Intentionally not indexed: as done as an indexed event.
                Stats::add(&self.stats.events_filtered, 1);
                ack.event().settle(Delivery::Delivered);
            }
            Err(problem) => {
                // The reason never quotes a value that could be redacted (see EventProblem).
                let reason = format!("record {index}: {problem}");
                warn!("{}: {reason}", ack.file());
                let redacted;
                let event = if !self.transform.redacts() {
                    Payload::from_bytes(event)
                } else {
                    match self.transform.redacted(event) {
                        Some(document) => {
                            redacted = document;
                            Payload::from_bytes(&redacted)
                        }
                        None => Payload::withheld(event.len()),
                    }
                };
                let letter =
                    DeadLetter { file: ack.file(), reason: &reason, status: None, action: None, event };
                match self.dead.write_all([letter]) {
                    Ok(()) => {
                        Stats::add(&self.stats.events_dead, 1);
                        ack.settle(Delivery::DeadLettered);
                    }
                    Err(e) => {
                        error!("cannot write dead letter to {}: {e}", self.dead.path().display());
                        Stats::add(&self.stats.events_failed, 1);
                        ack.settle(Delivery::Failed);
                    }
                }
            }
        }
    }

    fn file_failed(&self, ack: &FileAck, reason: String) {
        error!("{}: {reason}", ack.file());
        Stats::add(&self.stats.files_failed, 1);
        ack.broken(reason);
    }
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
