//! Burst grouping: the events a rule matches within one interval become one message. The first
//! event opens the rule's group; when the interval has passed the group is sent, describing its
//! first `limit` events in full and counting the rest ("…and 499 more like this"). Every event
//! keeps its acknowledgement in the group, settled when the message is delivered or given up.

use crate::ack::EventAck;
use tokio::time::Instant;

/// One matching event waiting in a group.
pub struct Pending {
    /// The document id (the dedup key).
    pub id: String,
    /// The document as indexed (JSON bytes); kept only for the events described in full.
    pub document: Option<Vec<u8>>,
    /// The source file, for dead letters.
    pub file: String,
    /// Settled with the message's outcome.
    pub ack: EventAck,
}

/// A rule's events of one interval.
pub struct Group {
    /// When it is sent.
    pub due: Instant,
    /// Its events, first first.
    pub events: Vec<Pending>,
    /// Acks of duplicates that arrived while it waited: settled with it, not counted.
    pub duplicates: Vec<EventAck>,
}

impl Group {
    /// A group due at `due`.
    pub fn new(due: Instant) -> Self {
        Group { due, events: Vec::new(), duplicates: Vec::new() }
    }

    /// Adds an event; its document is kept only while fewer than `limit` are.
    pub fn add(&mut self, mut event: Pending, limit: usize) {
        if self.events.len() >= limit {
            event.document = None;
        }
        self.events.push(event);
    }

    /// True when the group holds `id`.
    pub fn holds(&self, id: &str) -> bool {
        self.events.iter().any(|e| e.id == id)
    }

    /// The documents described in full, and how many more there are.
    pub fn shown(&self) -> (Vec<&[u8]>, usize) {
        let docs: Vec<&[u8]> = self.events.iter().filter_map(|e| e.document.as_deref()).collect();
        let more = self.events.len() - docs.len();
        (docs, more)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ack::{Delivery, FileAck};

    #[test]
    fn a_group_keeps_the_first_documents_and_counts_the_rest() {
        let (file, _receipt) = FileAck::new("f".into());
        let mut g = Group::new(Instant::now());
        for i in 0..500 {
            let doc = format!(r#"{{"eventID":{i}}}"#).into_bytes();
            g.add(Pending { id: i.to_string(), document: Some(doc), file: "f".into(), ack: file.event() }, 2);
        }
        let (docs, more) = g.shown();
        assert_eq!((docs.len(), more), (2, 498));
        assert!(g.holds("499") && !g.holds("500"));
        for e in g.events {
            e.ack.settle(Delivery::Delivered);
        }
    }
}
