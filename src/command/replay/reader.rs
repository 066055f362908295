//! The reading half of `replay`, on a blocking thread: letters (`source/dead_letter_reader/`) →
//! batches for the bulk output, each letter with its own acknowledgement.
//!
//! A letter that was sent (`action` + `document`) is framed again from its own action line, as it
//! is: same `_index`, same `_id`, the document as sent (redaction was applied then, and is not
//! applied twice). A record (`raw`, `raw_base64`, or a `document` refused before it was sent) goes
//! through the transform and the output's framing exactly as backfill sends an event; what the
//! transform refuses again is dead-lettered as the reader pool does. Each letter gets a
//! [`FileAck`] named by its log file: its receipt tells the collector (`replay.rs`) whether the
//! letter got in, was refused again (already dead-lettered by whoever refused it), or could not be
//! delivered (then the collector writes the letter, whole, into the new file).

use super::tally::{Rewriter, Tally};
use crate::ack::{Delivery, FileAck, Receipt};
use crate::output::batch::{ActionLine, Batch, BatchLimits, Destination, Frame};
use crate::output::dead_letter::{DeadLetter, DeadLetters, Payload};
use crate::source::dead_letter_reader::{parse, Letter, Line, LineReader, NotALetter, Replay};
use crate::stats::Stats;
use crate::transform::{Encoded, Transform};
use std::io::{self, BufReader, Read};
use std::sync::Arc;
use tokio::sync::mpsc::{Sender, UnboundedSender};
use tokio_util::sync::CancellationToken;
use tracing::warn;

/// A letter handed to the output, waiting for its receipt.
pub struct Pending {
    /// Its line in the input.
    pub line: u64,
    /// The letter, to be written again if it cannot be delivered.
    pub letter: Letter,
    /// Resolves once it is settled.
    pub receipt: Receipt,
}

/// Everything the reading thread needs.
pub struct Reader {
    /// The input's name, for messages.
    pub input: String,
    /// The longest line read.
    pub max_line: usize,
    /// Records are encoded again with these rules.
    pub transform: Transform,
    /// The output's wire format; `None` without a cluster: every replayable letter is written to
    /// the new file as it is.
    pub frame: Option<Arc<dyn Frame>>,
    /// When a batch is full.
    pub limits: BatchLimits,
    /// The new dead-letter file.
    pub dead: Arc<DeadLetters>,
    /// Counters (sent, present: the output's; dead-lettered, filtered).
    pub stats: Arc<Stats>,
    /// What replay reports by line.
    pub tally: Arc<Tally>,
    /// Cancelled by a signal: stop reading.
    pub cancel: CancellationToken,
}

impl Reader {
    /// Reads every line of `input`; sends batches to the output and pending letters to the
    /// collector. Returns the line it stopped before, if a signal stopped it.
    pub fn run(
        &self,
        input: impl Read,
        batches: Sender<Batch>,
        pending: UnboundedSender<Pending>,
    ) -> io::Result<Option<u64>> {
        let mut lines = LineReader::new(BufReader::with_capacity(256 << 10, input), self.max_line);
        let mut batch = Batch::default();
        let mut scratch = Vec::new();
        let mut offline = Rewriter::new(self.dead.clone(), self.tally.clone());
        let mut stopped = None;
        while let Some((n, line)) = lines.next_line()? {
            if self.cancel.is_cancelled() {
                stopped = Some(n);
                break;
            }
            let text = match line {
                Line::TooLong(bytes) => {
                    self.invalid(n, NotALetter::TooLong { bytes, limit: self.max_line });
                    continue;
                }
                Line::Text(text) if text.iter().all(u8::is_ascii_whitespace) => continue,
                Line::Text(text) => text,
            };
            let letter = match parse(text) {
                Ok(letter) => letter,
                Err(why) => {
                    self.invalid(n, why);
                    continue;
                }
            };
            Stats::add(&self.stats.events_read, 1);
            if let Replay::NotReplayable(kind) = letter.replay() {
                warn!("{}:{n}: a {kind} letter: not replayable (it does not hold the event)", self.input);
                self.tally.not_replayable.add(n);
                continue;
            }
            let Some(frame) = &self.frame else {
                offline.push(n, letter);
                continue;
            };
            let (ack, receipt) = FileAck::new(letter.file.as_str().into());
            match letter.replay() {
                Replay::Resend { action, index, document } => {
                    // Its day is not known here (the name is the letter's): refresh is left as it is.
                    let index = Arc::new(Destination { name: index.to_string(), day: None });
                    let document = document.get().as_bytes();
                    batch.push(ActionLine::Verbatim(action), index, document, ack.event(), 0, false);
                }
                Replay::Encode(bytes) => {
                    self.encode(frame, &ack, &letter.reason, bytes, &mut batch, &mut scratch)
                }
                // Counted and skipped above; were one to come here, its ack fails it, loudly.
                Replay::NotReplayable(_) => {}
            }
            ack.read_to_end();
            drop(ack);
            // The collector outlives this thread; if it is gone the run is going down anyway.
            let _ = pending.send(Pending { line: n, letter, receipt });
            if batch.is_full(&self.limits) && batches.blocking_send(std::mem::take(&mut batch)).is_err() {
                break;
            }
        }
        offline.flush();
        if !batch.is_empty() {
            let _ = batches.blocking_send(batch);
        }
        Ok(stopped)
    }

    fn invalid(&self, n: u64, why: NotALetter) {
        warn!("{}:{n}: not a dead letter: {why}", self.input);
        self.tally.invalid.add(n);
    }

    /// Encodes a record as the reader pool does (`reader_pool.rs`): framed into the batch, dropped
    /// by a filter, or dead-lettered again with the transform's reason.
    fn encode(
        &self,
        frame: &Arc<dyn Frame>,
        ack: &FileAck,
        first: &str,
        record: &[u8],
        batch: &mut Batch,
        scratch: &mut Vec<u8>,
    ) {
        scratch.clear();
        match self.transform.encode(record, scratch) {
            Ok(Encoded::Document(routing)) => frame.append(batch, &routing, scratch, ack.event()),
            Ok(Encoded::Filtered) => {
                Stats::add(&self.stats.events_filtered, 1);
                ack.event().settle(Delivery::Delivered);
            }
            Err(problem) => {
                // The reason never quotes a value (see EventProblem); the first reason says where
                // in its log file the record was.
                let first = first.split(" (replay: ").next().unwrap_or(first);
                let reason = format!("{first} (replay: {problem})");
                let redacted = self.transform.redacted(record);
                let event = match &redacted {
                    Some(document) => Payload::from_bytes(document),
                    None => Payload::withheld(record.len()),
                };
                let letter =
                    DeadLetter { file: ack.file(), reason: &reason, status: None, action: None, event };
                ack.settle(self.dead.write_counted(letter, &self.stats));
            }
        }
    }
}
