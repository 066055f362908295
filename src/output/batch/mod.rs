//! A batch of items: the body as it will be sent, plus for each item where it sits in the body,
//! where it goes ([`Route`]) and the acknowledgement it must settle. Readers fill batches through
//! the output's [`Frame`] (its wire format); outputs drain them.
//!
//! Each item keeps its routing as values beside its bytes: the index it goes to (its name and the
//! day it was named from) and how its action line was made. The output reads those (refresh
//! relaxation, dead letters) and never parses back the lines it sends. Only the `_id` is not
//! copied: an eventID is the event's own text, as long as the event makes it, so the item keeps
//! where its literal was written instead. A batch's routing stays small: items of one index share
//! its name ([`Batch::destination`]).

use crate::ack::EventAck;
use crate::transform::{Day, DocId, Routing};
use chrono::NaiveDate;
use serde_json::value::RawValue;
use std::ops::Range;
use std::sync::{Arc, Mutex};

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

/// The bulk action.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Op {
    /// Add, or answer 409 if the id exists.
    #[default]
    Create,
    /// Add or replace.
    Index,
}

/// An index items go to.
#[derive(Debug, PartialEq, Eq)]
pub struct Destination {
    /// Its name.
    pub name: String,
    /// The UTC day of the events (or findings) it holds, when the frame named it from that day;
    /// `None` when a replayed dead letter named it.
    pub day: Option<NaiveDate>,
}

/// Where an item goes and how its action line was made.
#[derive(Debug)]
pub struct Route {
    /// Its index (shared with the batch's other items of that index).
    pub index: Arc<Destination>,
    /// Its action line.
    pub action: RouteAction,
}

/// How an item's action line was made.
#[derive(Debug)]
pub enum RouteAction {
    /// Framed here from the routing: `{"OP":{"_index":"INDEX","_id":ID}}`.
    Framed {
        /// The action.
        op: Op,
        /// Where the `_id`'s JSON literal was written, counted from the item's first byte (`None`:
        /// no `_id`, the cluster picks one).
        id: Option<Range<usize>>,
    },
    /// Sent again as a dead letter kept it (`replay`): its action line, as it was.
    Resent(Box<RawValue>),
}

/// A bulk action line, as values: written by [`ActionLine::write`], the one place that spells it.
pub enum ActionLine<'a> {
    /// `{"OP":{"_index":"INDEX","_id":ID}}` (no `_id` when `id` is `None`).
    Bulk {
        /// The action.
        op: Op,
        /// The index name.
        index: &'a str,
        /// The `_id`.
        id: Option<DocId<'a>>,
    },
    /// A line kept as it was.
    Verbatim(&'a RawValue),
}

impl ActionLine<'_> {
    /// Appends the line (without a newline) to `out`; returns where in `out` the `_id`'s literal
    /// went, if it has one.
    pub fn write(&self, out: &mut Vec<u8>) -> Option<Range<usize>> {
        match self {
            ActionLine::Verbatim(raw) => {
                out.extend_from_slice(raw.get().as_bytes());
                None
            }
            ActionLine::Bulk { op, index, id } => {
                out.extend_from_slice(match op {
                    Op::Create => b"{\"create\":{\"_index\":\"",
                    Op::Index => b"{\"index\":{\"_index\":\"",
                });
                out.extend_from_slice(index.as_bytes());
                out.push(b'"');
                let at = id.map(|id| {
                    out.extend_from_slice(b",\"_id\":");
                    let start = out.len();
                    id.write_json(out);
                    start..out.len()
                });
                out.extend_from_slice(b"}}");
                at
            }
        }
    }
}

/// One event inside a batch body.
pub struct BatchItem {
    /// Bytes of the action line (with its newline).
    pub action: Range<usize>,
    /// Bytes of the document line (with its newline).
    pub document: Range<usize>,
    /// Where it goes.
    pub route: Route,
    /// Settled by the output once the event is delivered or dead-lettered.
    pub ack: EventAck,
    /// The event's time, Unix seconds (for the indexing lag).
    pub time: i64,
    /// A finding, not an event (counted apart).
    pub finding: bool,
}

impl BatchItem {
    /// Its action line as values; `body` is the body of the batch that holds it (where its `_id`
    /// was written).
    pub fn action_line<'a>(&'a self, body: &'a [u8]) -> ActionLine<'a> {
        match &self.route.action {
            RouteAction::Resent(raw) => ActionLine::Verbatim(raw),
            RouteAction::Framed { op, id } => ActionLine::Bulk {
                op: *op,
                index: &self.route.index.name,
                id: id
                    .as_ref()
                    .map(|id| DocId::Event(&body[self.action.start + id.start..self.action.start + id.end])),
            },
        }
    }
}

/// NDJSON for `_bulk` and the items it holds, in order.
#[derive(Default)]
pub struct Batch {
    /// Action and document lines, back to back.
    pub body: Vec<u8>,
    /// One entry per event, in body order.
    pub items: Vec<BatchItem>,
    /// Where its buffers go once an output is done with it ([`Batch::recycle`]); `None`: freed.
    pub spares: Option<Arc<Spares>>,
}

/// Emptied batches the file output hands back to the readers, so that their next batches reuse
/// the buffers. A batch body (up to `--batch-bytes`) is above glibc's mmap threshold: a new one is
/// mapped from the system and every page of it faulted in while it fills, then unmapped, which
/// cost the readers about a sixth of their CPU with `--output` (docs/design/reader-speed.md).
/// Readers take from here before they allocate, so the buffers alive never outnumber the batches
/// in use at once before; at most `keep` wait here, and a body grown past `max_bytes` (one huge
/// event) is freed rather than kept.
pub struct Spares {
    kept: Mutex<Vec<Batch>>,
    keep: usize,
    max_bytes: usize,
}

impl Spares {
    /// A pool that keeps at most `keep` emptied batches whose body is at most `max_bytes` long.
    pub fn new(keep: usize, max_bytes: usize) -> Arc<Self> {
        Arc::new(Spares { kept: Mutex::new(Vec::new()), keep, max_bytes })
    }

    /// An emptied batch, if one is waiting.
    pub fn take(&self) -> Option<Batch> {
        self.kept.lock().ok()?.pop()
    }

    fn give(&self, mut batch: Batch) {
        if batch.body.capacity() > self.max_bytes {
            return;
        }
        // Nothing of its items or bytes is seen again: the next batch starts empty. Items still
        // here were not settled: dropping their acks fails their files, as dropping the batch would.
        batch.body.clear();
        batch.items.clear();
        if let Ok(mut kept) = self.kept.lock() {
            if kept.len() < self.keep {
                kept.push(batch);
            }
        }
    }
}

/// How many of the last items [`Batch::destination`] looks at for an index to share.
const RECENT: usize = 4;

impl Batch {
    /// Hands the batch's buffers back to the readers that filled it (or frees them).
    pub fn recycle(mut self) {
        if let Some(spares) = self.spares.take() {
            spares.give(self);
        }
    }

    /// The index for an event (or, `finding`, a finding) of `day`: a recent item's if it went to
    /// the same, so that items of one index share its name; else a new one named by `name`.
    pub fn destination(&self, finding: bool, day: &Day, name: impl FnOnce() -> String) -> Arc<Destination> {
        let date = NaiveDate::from_ymd_opt(day.year, day.month, day.day);
        let recent = self.items.iter().rev().take(RECENT);
        match recent.filter(|i| i.finding == finding).find(|i| date.is_some() && i.route.index.day == date) {
            Some(item) => item.route.index.clone(),
            None => Arc::new(Destination { name: name(), day: date }),
        }
    }

    /// Appends an item: its action line `line`, going to `index`, then `document`, each with its
    /// newline; `time` is the event's, `finding` tells a finding from an event.
    pub fn push(
        &mut self,
        line: ActionLine<'_>,
        index: Arc<Destination>,
        document: &[u8],
        ack: EventAck,
        time: i64,
        finding: bool,
    ) {
        let start = self.body.len();
        let id = line.write(&mut self.body).map(|at| at.start - start..at.end - start);
        self.body.push(b'\n');
        let split = self.body.len();
        let action = match line {
            ActionLine::Bulk { op, .. } => RouteAction::Framed { op, id },
            ActionLine::Verbatim(raw) => RouteAction::Resent(raw.to_owned()),
        };
        self.body.extend_from_slice(document);
        self.body.push(b'\n');
        self.push_item(start, split, Route { index, action }, ack, time, finding);
    }

    /// Records that the bytes from `start` to the end of the body are one item (action line up to
    /// `split`, then document line), written just before this call, going where `route` says.
    fn push_item(
        &mut self,
        start: usize,
        split: usize,
        route: Route,
        ack: EventAck,
        time: i64,
        finding: bool,
    ) {
        let end = self.body.len();
        self.items.push(BatchItem { action: start..split, document: split..end, route, ack, time, finding });
    }

    /// Appends a copy of `item`'s lines from `from`, moving its route and ack here.
    pub fn push_from(&mut self, from: &[u8], item: BatchItem) {
        let start = self.body.len();
        self.body.extend_from_slice(&from[item.action.start..item.document.end]);
        let split = start + item.action.len();
        self.push_item(start, split, item.route, item.ack, item.time, item.finding);
    }

    /// The indices its items go to, each once, in the order of their first item.
    pub fn destinations(&self) -> Vec<Arc<Destination>> {
        let mut seen: Vec<Arc<Destination>> = Vec::new();
        for item in &self.items {
            let index = &item.route.index;
            if !seen.iter().any(|s| Arc::ptr_eq(s, index) || s.name == index.name) {
                seen.push(index.clone());
            }
        }
        seen
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
mod tests;
