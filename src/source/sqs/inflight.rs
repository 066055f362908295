//! Messages being worked on: which files each is waiting for, and what to do when they are done.
//!
//! A message is finished when every file it names has come back through its acknowledgement. It is
//! deleted only if every event of every file was indexed or dead-lettered and every file was read
//! to the end; otherwise it is left in the queue, to be received again (or moved to the queue's
//! dead-letter queue by its redrive policy). Pure bookkeeping: no I/O happens here.

use crate::ack::{Delivery, FileDone};
use std::collections::HashMap;
use std::time::Instant;
use tokio::sync::OwnedSemaphorePermit;

/// One received message and the files it waits for.
pub struct InFlight {
    /// SQS message id, for logs.
    pub message_id: String,
    /// Needed to delete or extend the message.
    pub receipt: String,
    /// Files not yet acknowledged.
    pub waiting: usize,
    /// A file that failed (not read, or not fully delivered), with why.
    pub failure: Option<String>,
    /// When the visibility timeout was last set.
    pub extended_at: Instant,
    /// Holds one of the in-flight slots until the message is finished.
    pub _slot: OwnedSemaphorePermit,
}

/// What became of a message whose last file came back.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Everything is safe: delete it.
    Delete {
        /// Message id.
        message_id: String,
        /// Receipt handle.
        receipt: String,
    },
    /// Something failed: leave it in the queue.
    Keep {
        /// Message id.
        message_id: String,
        /// Why.
        reason: String,
    },
}

/// All messages in flight, by ticket (one ticket per message; its files carry it).
#[derive(Default)]
pub struct Tracker {
    messages: HashMap<u64, InFlight>,
    next_ticket: u64,
}

impl Tracker {
    /// Registers a message waiting for `files` files; returns the ticket its files must carry.
    pub fn start(&mut self, message: InFlight) -> u64 {
        self.next_ticket += 1;
        self.messages.insert(self.next_ticket, message);
        self.next_ticket
    }

    /// Records that a file of message `ticket` could not even be handed to the readers.
    pub fn file_failed(&mut self, ticket: u64, reason: String) -> Option<Verdict> {
        self.settle(ticket, Some(reason))
    }

    /// Records a file's acknowledgement.
    pub fn file_done(&mut self, done: &FileDone) -> Option<Verdict> {
        let failure = match (&done.broken, done.delivery) {
            (Some(why), _) => Some(format!("{}: {why}", done.file)),
            (None, Delivery::Failed) => Some(format!("{}: not every event was delivered", done.file)),
            (None, _) => None,
        };
        self.settle(done.ticket, failure)
    }

    fn settle(&mut self, ticket: u64, failure: Option<String>) -> Option<Verdict> {
        let message = self.messages.get_mut(&ticket)?;
        message.waiting = message.waiting.saturating_sub(1);
        if message.failure.is_none() {
            message.failure = failure;
        }
        if message.waiting > 0 {
            return None;
        }
        let m = self.messages.remove(&ticket)?;
        Some(match m.failure {
            None => Verdict::Delete { message_id: m.message_id, receipt: m.receipt },
            Some(reason) => Verdict::Keep { message_id: m.message_id, reason },
        })
    }

    /// Messages whose visibility was last set before `due`, marked as extended now.
    pub fn due_for_extension(&mut self, due: Instant) -> Vec<(String, String)> {
        let now = Instant::now();
        self.messages
            .values_mut()
            .filter(|m| m.extended_at < due)
            .map(|m| {
                m.extended_at = now;
                (m.message_id.clone(), m.receipt.clone())
            })
            .collect()
    }

    /// How many messages are in flight.
    pub fn len(&self) -> usize {
        self.messages.len()
    }

    /// True when no message is in flight.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use tokio::sync::Semaphore;

    fn message(id: &str, files: usize) -> InFlight {
        let slot = Arc::new(Semaphore::new(1)).try_acquire_owned().unwrap();
        InFlight {
            message_id: id.into(),
            receipt: format!("r-{id}"),
            waiting: files,
            failure: None,
            extended_at: Instant::now(),
            _slot: slot,
        }
    }

    fn done(ticket: u64, delivery: Delivery, broken: Option<&str>) -> FileDone {
        FileDone { file: "s3://b/k".into(), ticket, delivery, broken: broken.map(str::to_string) }
    }

    #[test]
    fn a_message_is_deleted_after_its_last_file_and_only_if_all_are_safe() {
        let mut t = Tracker::default();
        let a = t.start(message("a", 2));
        let b = t.start(message("b", 2));
        assert_eq!(t.file_done(&done(a, Delivery::Delivered, None)), None);
        assert_eq!(
            t.file_done(&done(a, Delivery::DeadLettered, None)),
            Some(Verdict::Delete { message_id: "a".into(), receipt: "r-a".into() })
        );
        assert_eq!(t.file_done(&done(b, Delivery::Failed, None)), None);
        match t.file_done(&done(b, Delivery::Delivered, None)) {
            Some(Verdict::Keep { message_id, reason }) => {
                assert_eq!(message_id, "b");
                assert!(reason.contains("not every event"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        assert!(t.is_empty());
    }

    #[test]
    fn broken_files_and_failed_fetches_keep_the_message() {
        let mut t = Tracker::default();
        let a = t.start(message("a", 1));
        assert!(matches!(
            t.file_done(&done(a, Delivery::Delivered, Some("truncated gzip"))),
            Some(Verdict::Keep { .. })
        ));
        let b = t.start(message("b", 1));
        assert!(matches!(t.file_failed(b, "NoSuchKey".into()), Some(Verdict::Keep { .. })));
        assert_eq!(t.file_done(&done(999, Delivery::Delivered, None)), None, "unknown tickets are ignored");
    }

    #[test]
    fn extension_picks_messages_not_extended_recently() {
        let mut t = Tracker::default();
        t.start(message("a", 1));
        let later = Instant::now() + std::time::Duration::from_secs(1);
        assert_eq!(t.due_for_extension(later).len(), 1);
        assert_eq!(t.due_for_extension(Instant::now() - std::time::Duration::from_secs(1)).len(), 0);
    }
}
