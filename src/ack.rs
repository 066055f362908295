//! Acknowledgements: when is a log file finished?
//!
//! A file is finished only when every one of its events has been settled by the output: accepted by
//! Elasticsearch (or already there), written to the output, or written as a dead letter. Nothing
//! else may move a checkpoint or delete an SQS message.
//!
//! This works through ownership, not bookkeeping: the source that emits a file creates its
//! [`FileAck`] and keeps the matching [`Receipt`]; the reader of the file holds the `FileAck`, and
//! each event carries an [`EventAck`] (a clone of the same shared record). Settling an event merges
//! its [`Delivery`] into the file's worst-so-far; an `EventAck` dropped without being settled counts
//! as [`Delivery::Failed`]. When the last reference goes, the receipt resolves to a [`FileDone`]: the
//! SQS source awaits its message's receipts before deleting it, backfill's journal awaits them
//! before recording a file.
//!
//! Two flags ride along for a file whose damaged gzip member was too big to hold back until its
//! checksum: the reader marks that events of it were sent unverified ([`FileAck::sent_unverified`]),
//! the journal remembers it, and the next run's ack of that file says its events replace what is
//! in the index ([`FileAck::replace_earlier_sends`], read by the output as `index`, not `create`).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::sync::oneshot;

/// How an event (or, merged, a whole file) ended. Ordered from best to worst.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Delivery {
    /// In the index (or in the output), or was there already.
    Delivered = 0,
    /// Rejected for good and written, with its reason, to the dead-letter file.
    DeadLettered = 1,
    /// Neither delivered nor dead-lettered (abandoned, or the dead-letter write failed):
    /// the file must be read again.
    Failed = 2,
}

impl Delivery {
    fn from_u8(v: u8) -> Self {
        match v {
            0 => Delivery::Delivered,
            1 => Delivery::DeadLettered,
            _ => Delivery::Failed,
        }
    }
}

/// What a receipt resolves to, once the file and all of its events are settled.
#[derive(Debug)]
pub struct FileDone {
    /// The file, as shown to users (`path` or `s3://bucket/key`).
    pub file: Arc<str>,
    /// The worst outcome among its events.
    pub delivery: Delivery,
    /// Set when the file itself could not be read to the end (it is then also counted as failed).
    pub broken: Option<String>,
    /// Events of a damaged gzip member were sent before its checksum failed: they may be altered,
    /// and the run that reads the file again must replace them.
    pub sent_unverified: bool,
}

impl FileDone {
    /// True when the file may be recorded as done (a checkpoint moved, a message deleted): it was
    /// read to its end and every event is indexed or dead-lettered.
    pub fn finished(&self) -> bool {
        self.broken.is_none() && self.delivery != Delivery::Failed
    }

    /// Why the file is not finished, if it is not.
    pub fn failure(&self) -> Option<String> {
        match (&self.broken, self.delivery) {
            (Some(why), _) => Some(format!("{}: {why}", self.file)),
            (None, Delivery::Failed) => Some(format!("{}: not every event was delivered", self.file)),
            (None, _) => None,
        }
    }
}

struct Shared {
    file: Arc<str>,
    worst: AtomicU8,
    /// Set by the reader once it has read the file to its end.
    ended: AtomicBool,
    /// Its events replace what an earlier run sent (see the module docs).
    replace: AtomicBool,
    /// Events were sent before their gzip member's checksum failed.
    unverified: AtomicBool,
    broken: Mutex<Option<String>>,
    done: Option<oneshot::Sender<FileDone>>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        let mut broken = self.broken.get_mut().map(Option::take).unwrap_or_default();
        if broken.is_none() && !*self.ended.get_mut() {
            broken = Some("not read to its end (the run stopped first)".into());
        }
        let delivery = Delivery::from_u8(*self.worst.get_mut());
        // Nobody may be waiting any more (shutdown): then the result has no one to tell.
        if let Some(done) = self.done.take() {
            let sent_unverified = *self.unverified.get_mut();
            let _ = done.send(FileDone { file: self.file.clone(), delivery, broken, sent_unverified });
        }
    }
}

/// Held by the reader of a file while it reads; its events get [`EventAck`]s from it.
pub struct FileAck(Arc<Shared>);

/// Kept by the source that emitted a file: resolves when the file is settled.
pub struct Receipt {
    file: Arc<str>,
    done: oneshot::Receiver<FileDone>,
}

impl Future for Receipt {
    type Output = FileDone;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<FileDone> {
        Pin::new(&mut self.done).poll(cx).map(|result| {
            // The sender is consumed by the drop that settles the file; a closed channel can only
            // mean the process is going down. Counted as failed, to be read again.
            result.unwrap_or_else(|_| FileDone {
                file: self.file.clone(),
                delivery: Delivery::Failed,
                broken: None,
                sent_unverified: false,
            })
        })
    }
}

impl FileAck {
    /// Starts tracking `file`: the ack for its reader, and the receipt its source awaits.
    pub fn new(file: Arc<str>) -> (FileAck, Receipt) {
        let (tx, rx) = oneshot::channel();
        let ack = FileAck(Arc::new(Shared {
            file: file.clone(),
            worst: AtomicU8::new(Delivery::Delivered as u8),
            ended: AtomicBool::new(false),
            replace: AtomicBool::new(false),
            unverified: AtomicBool::new(false),
            broken: Mutex::new(None),
            done: Some(tx),
        }));
        (ack, Receipt { file, done: rx })
    }

    /// The file's display name.
    pub fn file(&self) -> &Arc<str> {
        &self.0.file
    }

    /// A handle for one event of this file.
    pub fn event(&self) -> EventAck {
        EventAck { shared: Some(self.0.clone()) }
    }

    /// Records that the file was read to its end: without it, the file is not finished, whatever
    /// became of the events read so far.
    pub fn read_to_end(&self) {
        self.0.ended.store(true, Ordering::Release);
    }

    /// Records that the file could not be read to the end.
    pub fn broken(&self, reason: String) {
        if let Ok(mut b) = self.0.broken.lock() {
            *b = Some(reason);
        }
    }

    /// Records that events were sent before their gzip member's checksum failed.
    pub fn sent_unverified(&self) {
        self.0.unverified.store(true, Ordering::Release);
    }

    /// Makes this file's events replace what is indexed under their ids (an earlier run sent
    /// events of it unverified). Call before its events are read.
    pub fn replace_earlier_sends(&self) {
        self.0.replace.store(true, Ordering::Release);
    }

    /// Merges an outcome that concerns the file as a whole (e.g. an event dead-lettered while decoding).
    pub fn settle(&self, delivery: Delivery) {
        self.0.worst.fetch_max(delivery as u8, Ordering::AcqRel);
    }
}

/// One event's share of its file's acknowledgement. Settle it exactly once.
pub struct EventAck {
    shared: Option<Arc<Shared>>,
}

impl EventAck {
    /// The file this event came from.
    pub fn file(&self) -> &str {
        self.shared.as_ref().map_or("", |s| &s.file)
    }

    /// True when this event must replace what is indexed under its id (see [`FileAck::replace_earlier_sends`]).
    pub fn replaces(&self) -> bool {
        self.shared.as_ref().is_some_and(|s| s.replace.load(Ordering::Acquire))
    }

    /// Records how this event ended and releases it.
    pub fn settle(mut self, delivery: Delivery) {
        if let Some(s) = self.shared.take() {
            s.worst.fetch_max(delivery as u8, Ordering::AcqRel);
        }
    }
}

impl Drop for EventAck {
    fn drop(&mut self) {
        if let Some(s) = self.shared.take() {
            s.worst.fetch_max(Delivery::Failed as u8, Ordering::AcqRel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;

    #[test]
    fn file_is_done_only_after_reader_and_every_event_are_settled() {
        let (file, mut receipt) = FileAck::new("f".into());
        let (a, b) = (file.event(), file.event());
        file.read_to_end();
        drop(file);
        a.settle(Delivery::Delivered);
        assert!((&mut receipt).now_or_never().is_none(), "one event still out");
        b.settle(Delivery::DeadLettered);
        let done = receipt.now_or_never().expect("settled");
        assert_eq!((&*done.file, done.delivery, done.broken.as_deref()), ("f", Delivery::DeadLettered, None));
        assert!(done.finished());
    }

    #[test]
    fn an_event_dropped_unsettled_fails_its_file() {
        let (file, receipt) = FileAck::new("f".into());
        drop(file.event());
        file.broken("truncated".into());
        drop(file);
        let done = receipt.now_or_never().expect("settled");
        assert_eq!(done.delivery, Delivery::Failed);
        assert_eq!(done.broken.as_deref(), Some("truncated"));
        assert!(!done.finished());
    }

    #[test]
    fn a_file_never_read_is_not_finished() {
        let (file, receipt) = FileAck::new("f".into());
        drop(file);
        let done = receipt.now_or_never().expect("settled");
        assert!(!done.finished() && done.broken.unwrap().contains("not read to its end"));
    }

    #[test]
    fn a_file_not_read_to_its_end_is_not_finished_even_if_every_event_is_in() {
        let (file, receipt) = FileAck::new("f".into());
        file.event().settle(Delivery::Delivered);
        file.broken("trailing garbage at byte 10".into());
        drop(file);
        let done = receipt.now_or_never().expect("settled");
        assert_eq!(done.delivery, Delivery::Delivered);
        assert!(!done.finished(), "read part-way: must be read again");
        assert_eq!(done.failure().as_deref(), Some("f: trailing garbage at byte 10"));
    }
}
