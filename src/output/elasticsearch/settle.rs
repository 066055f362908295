//! Settling what the cluster answered: delivered items are acknowledged, items refused for good
//! are dead-lettered with their reasons, and what is given up (a signal, or the patience ran out)
//! is settled as failed, not dead-lettered, so that its files are read again by a later run.

use super::response::ItemOutcome;
use super::retry::Why;
use super::{Attempt, BulkOutput};
use crate::ack::Delivery;
use crate::output::batch::{line, Batch, BatchItem};
use crate::output::dead_letter::{DeadLetter, Payload};
use crate::stats::Stats;
use tracing::{debug, error, warn};

impl BulkOutput {
    /// Settles items by their outcomes; returns the ones to send again. After an attempt of this
    /// batch went unheard (`unheard`), a 409 is most likely that attempt's own write: it counts
    /// as indexed by this run, not as already present.
    pub(super) fn settle(
        &self,
        body: &[u8],
        items: Vec<BatchItem>,
        outcomes: Vec<ItemOutcome>,
        unheard: bool,
    ) -> Attempt {
        let (mut again, mut rejected) = (Batch::default(), Batch::default());
        let mut reasons = Vec::new();
        let (mut created, mut present, mut last_retry) = (0, 0, String::new());
        let (mut findings_created, mut findings_present) = (0, 0);
        for (item, outcome) in items.into_iter().zip(outcomes) {
            match outcome {
                ItemOutcome::Created if item.finding => {
                    findings_created += 1;
                    item.ack.settle(Delivery::Delivered);
                }
                ItemOutcome::AlreadyPresent if item.finding => {
                    // After an unheard attempt, most likely its own write (as for events below).
                    if unheard {
                        findings_created += 1;
                    } else {
                        findings_present += 1;
                    }
                    item.ack.settle(Delivery::Delivered);
                }
                ItemOutcome::Created => {
                    created += 1;
                    self.stats.delivered_time(item.time);
                    item.ack.settle(Delivery::Delivered);
                }
                ItemOutcome::AlreadyPresent if unheard => {
                    created += 1;
                    self.stats.delivered_time(item.time);
                    item.ack.settle(Delivery::Delivered);
                }
                ItemOutcome::AlreadyPresent => {
                    present += 1;
                    self.stats.delivered_time(item.time);
                    item.ack.settle(Delivery::Delivered);
                }
                ItemOutcome::Retry { reason, .. } => {
                    last_retry = reason;
                    again.push_from(body, item);
                }
                ItemOutcome::Rejected { status, reason } => {
                    reasons.push((status, reason));
                    rejected.push_from(body, item);
                }
            }
        }
        Stats::add(&self.stats.events_indexed, created);
        Stats::add(&self.stats.events_present, present);
        Stats::add(&self.stats.findings_indexed, findings_created);
        Stats::add(&self.stats.findings_present, findings_present);
        self.stats.health.work_settled(created + present + findings_created + findings_present, true);
        debug!(created, present, retry = again.items.len(), rejected = rejected.items.len(), "bulk response");
        if !rejected.is_empty() {
            self.dead_letter_each(rejected, reasons);
        }
        if again.is_empty() {
            Attempt::Done
        } else {
            let reason = format!("{} events not accepted yet ({last_retry})", again.items.len());
            Attempt::Again(again, Why::Items, reason)
        }
    }

    /// Gives up on a batch without dead-lettering it (the run stops): its files are not finished.
    pub(super) fn abandon(&self, batch: Batch) {
        let n = batch.items.len() as u64;
        Stats::add(&self.stats.events_failed, n);
        self.settle_all(batch, Delivery::Failed, false);
    }

    /// Gives up on events the cluster did not take within the patience (it was unreachable, busy,
    /// or kept refusing them with 429/5xx): they are not dead-lettered but left unfinished, so
    /// that their files are read again by a re-run and their messages stay in the queue.
    pub(super) fn unavailable(&self, batch: Batch, reason: &str) {
        let n = batch.items.len() as u64;
        error!(
            events = n,
            "{}: not delivered, left for a later run (files not finished, messages kept): {reason}",
            self.client.url()
        );
        Stats::add(&self.stats.events_unavailable, n);
        self.settle_all(batch, Delivery::Failed, false);
    }

    pub(super) fn settle_all(&self, batch: Batch, delivery: Delivery, progress: bool) {
        self.stats.health.work_settled(batch.items.len() as u64, progress);
        for item in batch.items {
            item.ack.settle(delivery);
        }
    }

    /// Dead-letters every item of `batch` with the same reason.
    pub(super) fn dead_letter(&self, batch: Batch, status: Option<u16>, reason: &str) {
        let reasons = vec![(status.unwrap_or(0), reason.to_string()); batch.items.len()];
        self.dead_letter_each(batch, reasons);
    }

    /// Writes each item with its own `(status, reason)`, then settles it.
    pub(super) fn dead_letter_each(&self, batch: Batch, reasons: Vec<(u16, String)>) {
        let letters = batch.items.iter().zip(&reasons).map(|(item, (status, reason))| DeadLetter {
            file: item.ack.file(),
            reason,
            status: (*status != 0).then_some(*status),
            action: Some(item.action_line(&batch.body)),
            event: Payload::from_bytes(line(&batch.body, &item.document)),
        });
        let written = self.dead.write_all(letters);
        let n = batch.items.len() as u64;
        let delivery = match &written {
            Ok(()) => {
                Stats::add(&self.stats.events_dead, n);
                warn!(
                    events = n,
                    "rejected: {} (dead letters in {})",
                    reasons[0].1,
                    self.dead.path().display()
                );
                Delivery::DeadLettered
            }
            Err(e) => {
                Stats::add(&self.stats.events_failed, n);
                error!(events = n, "cannot write dead letters to {}: {e}", self.dead.path().display());
                Delivery::Failed
            }
        };
        self.settle_all(batch, delivery, delivery == Delivery::DeadLettered);
    }
}
