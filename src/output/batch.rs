//! A batch of items: the body as it will be sent, plus where each item sits in it and the
//! acknowledgement it must settle. Readers fill batches through the output's [`Frame`] (its wire
//! format); outputs drain them.

use crate::ack::EventAck;
use crate::transform::{Day, Routing};
use std::ops::Range;

/// An output's wire format: how one document is written into a batch. Called by the reader
/// threads for every document, so the body is ready to send as it is.
pub trait Frame: Send + Sync {
    /// Appends `document`, routed by `routing`, to `batch`, with the ack it must settle.
    fn append(&self, batch: &mut Batch, routing: &Routing, document: &[u8], ack: EventAck);

    /// Appends a finding (`detect/finding.rs`) with its own `_id`, into the findings index of `day`.
    fn append_finding(&self, batch: &mut Batch, id: &str, day: Day, document: &[u8], ack: EventAck);

    /// The index an event of `day` is written to (a finding names it).
    fn index_name(&self, day: &Day) -> String;
}

/// When a batch is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchLimits {
    /// Body size in bytes.
    pub max_bytes: usize,
    /// Number of events.
    pub max_events: usize,
}

/// One event inside a batch body.
pub struct BatchItem {
    /// Bytes of the action line (with its newline).
    pub action: Range<usize>,
    /// Bytes of the document line (with its newline).
    pub document: Range<usize>,
    /// Settled by the sink once the event is delivered or dead-lettered.
    pub ack: EventAck,
    /// The event's time, Unix seconds (for the indexing lag).
    pub time: i64,
    /// A finding, not an event (counted apart).
    pub finding: bool,
}

/// NDJSON for `_bulk` and the items it holds, in order.
#[derive(Default)]
pub struct Batch {
    /// Action and document lines, back to back.
    pub body: Vec<u8>,
    /// One entry per event, in body order.
    pub items: Vec<BatchItem>,
}

impl Batch {
    /// Records that the bytes from `start` to the end of the body are one item (action line, then
    /// document line), written just before this call.
    pub fn push_written(&mut self, start: usize, ack: EventAck, time: i64) {
        self.push_item(start, ack, time, false);
    }

    /// [`Batch::push_written`] for an item that is an event (`false`) or a finding (`true`).
    pub fn push_item(&mut self, start: usize, ack: EventAck, time: i64, finding: bool) {
        let end = self.body.len();
        let split = memchr::memchr(b'\n', &self.body[start..end]).map_or(end, |i| start + i + 1);
        self.items.push(BatchItem { action: start..split, document: split..end, ack, time, finding });
    }

    /// Appends a copy of `item`'s lines from `from`, moving its ack here.
    pub fn push_from(&mut self, from: &[u8], item: BatchItem) {
        let start = self.body.len();
        self.body.extend_from_slice(&from[item.action.start..item.document.end]);
        self.push_item(start, item.ack, item.time, item.finding);
    }

    /// True when another item should not be added.
    pub fn is_full(&self, limits: &BatchLimits) -> bool {
        self.body.len() >= limits.max_bytes || self.items.len() >= limits.max_events
    }

    /// True when the batch holds no item.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// A line without its trailing newline.
pub fn line<'a>(body: &'a [u8], range: &Range<usize>) -> &'a [u8] {
    let l = &body[range.clone()];
    l.strip_suffix(b"\n").unwrap_or(l)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ack::FileAck;

    #[test]
    fn items_know_their_lines_and_move_between_batches() {
        let (file, _receipt) = FileAck::new("f".into());
        let mut a = Batch::default();
        for doc in ["{\"a\":1}", "{\"b\":2}"] {
            let start = a.body.len();
            a.body.extend_from_slice(format!("{{\"create\":{{}}}}\n{doc}\n").as_bytes());
            a.push_written(start, file.event(), 0);
        }
        assert_eq!(line(&a.body, &a.items[1].document), b"{\"b\":2}");
        let mut b = Batch::default();
        let body = std::mem::take(&mut a.body);
        let second = a.items.pop().unwrap();
        b.push_from(&body, second);
        assert_eq!(b.body, b"{\"create\":{}}\n{\"b\":2}\n");
        assert_eq!(line(&b.body, &b.items[0].action), b"{\"create\":{}}");
        let limits = BatchLimits { max_bytes: 1000, max_events: 1 };
        assert!(b.is_full(&limits) && !a.is_full(&BatchLimits { max_events: 2, ..limits }));
        for item in a.items.into_iter().chain(b.items) {
            item.ack.settle(crate::ack::Delivery::Delivered);
        }
    }
}
