//! Acknowledgements: when is a log file finished?
//!
//! A file is finished only when every one of its events has been settled by the sink: accepted by
//! Elasticsearch (or already there), written to the output, or written as a dead letter. Nothing
//! else may move a checkpoint or delete an SQS message.
//!
//! This works through ownership, not bookkeeping: the reader of a file holds a [`FileAck`], and each
//! event carries an [`EventAck`] (a clone of the same shared record). Settling an event merges its
//! [`Delivery`] into the file's worst-so-far; an `EventAck` dropped without being settled counts as
//! [`Delivery::Failed`]. When the last reference goes, a [`FileDone`] is sent to whoever waits.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc::UnboundedSender;

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

/// Sent once per file when the file and all of its events are settled.
#[derive(Debug)]
pub struct FileDone {
    /// The file, as shown to users (`path` or `s3://bucket/key`).
    pub file: Arc<str>,
    /// The source's token for this file (e.g. which SQS message named it); 0 if unused.
    pub ticket: u64,
    /// The worst outcome among its events.
    pub delivery: Delivery,
    /// Set when the file itself could not be read to the end (it is then also counted as failed).
    pub broken: Option<String>,
}

struct Shared {
    file: Arc<str>,
    ticket: u64,
    worst: AtomicU8,
    broken: Mutex<Option<String>>,
    done: UnboundedSender<FileDone>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        let broken = self.broken.get_mut().map(Option::take).unwrap_or_default();
        let delivery = Delivery::from_u8(*self.worst.get_mut());
        // The receiver may be gone at shutdown; then nobody is waiting for this file.
        let _ = self.done.send(FileDone { file: self.file.clone(), ticket: self.ticket, delivery, broken });
    }
}

/// Held by the reader of a file while it reads; its events get [`EventAck`]s from it.
pub struct FileAck(Arc<Shared>);

impl FileAck {
    /// Starts tracking `file`; its [`FileDone`], carrying `ticket`, goes to `done`.
    pub fn new(file: Arc<str>, ticket: u64, done: UnboundedSender<FileDone>) -> Self {
        FileAck(Arc::new(Shared {
            file,
            ticket,
            worst: AtomicU8::new(Delivery::Delivered as u8),
            broken: Mutex::new(None),
            done,
        }))
    }

    /// The file's display name.
    pub fn file(&self) -> &Arc<str> {
        &self.0.file
    }

    /// A handle for one event of this file.
    pub fn event(&self) -> EventAck {
        EventAck { shared: Some(self.0.clone()) }
    }

    /// Records that the file could not be read to the end.
    pub fn broken(&self, reason: String) {
        if let Ok(mut b) = self.0.broken.lock() {
            *b = Some(reason);
        }
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
    use tokio::sync::mpsc::unbounded_channel;

    #[test]
    fn file_is_done_only_after_reader_and_every_event_are_settled() {
        let (tx, mut rx) = unbounded_channel();
        let file = FileAck::new("f".into(), 0, tx);
        let (a, b) = (file.event(), file.event());
        drop(file);
        a.settle(Delivery::Delivered);
        assert!(rx.try_recv().is_err(), "one event still out");
        b.settle(Delivery::DeadLettered);
        let done = rx.try_recv().unwrap();
        assert_eq!((&*done.file, done.delivery, done.broken), ("f", Delivery::DeadLettered, None));
    }

    #[test]
    fn an_event_dropped_unsettled_fails_its_file() {
        let (tx, mut rx) = unbounded_channel();
        let file = FileAck::new("f".into(), 0, tx);
        drop(file.event());
        file.broken("truncated".into());
        drop(file);
        let done = rx.try_recv().unwrap();
        assert_eq!(done.delivery, Delivery::Failed);
        assert_eq!(done.broken.as_deref(), Some("truncated"));
    }
}
