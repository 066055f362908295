//! What the bulk sender needs to retry well, apart from the sending itself.
//!
//! - [`Why`]: why a batch must be sent again, which decides its patience and what giving up means.
//!   Everything retried fails *for want of a cluster* (no answer, busy, refusing credentials it
//!   took at start, or items it answers 429/5xx): giving up leaves those events unfinished
//!   (`Delivery::Failed`: the file is read again, the message stays in the queue), never
//!   dead-lettered. A dead letter is only for what the cluster refuses for good.
//! - [`Recovery`]: after an outage every waiting batch has grown its own backoff; the first
//!   success after failures wakes them all, so that recovery takes one short wait, not the
//!   longest backoff of any batch.
//! - [`halves`]: the split of a batch the cluster answered 413 (too large).

use crate::output::batch::Batch;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::Notify;

/// Why a batch is sent again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    /// No answer, a busy or refusing answer to the whole request, or an unreadable one.
    Cluster,
    /// The request was answered, but some items were refused with 429/5xx.
    Items,
}

/// Shared by every batch of an output: wakes waiting batches when the cluster is back.
#[derive(Default)]
pub struct Recovery {
    failing: AtomicBool,
    back: Notify,
}

impl Recovery {
    /// Records a failed attempt.
    pub fn failed(&self) {
        self.failing.store(true, Ordering::Release);
    }

    /// True between a failed attempt and the next success.
    pub fn is_failing(&self) -> bool {
        self.failing.load(Ordering::Acquire)
    }

    /// Records a successful request; the first after failures wakes every waiting batch.
    pub fn succeeded(&self) {
        if self.failing.swap(false, Ordering::AcqRel) {
            self.back.notify_waiters();
        }
    }

    /// Resolves when a success follows failures (register before checking anything else).
    pub fn back(&self) -> tokio::sync::futures::Notified<'_> {
        self.back.notified()
    }
}

/// Splits a batch into two of half its items each (the first gets the smaller half).
pub fn halves(batch: Batch) -> (Batch, Batch) {
    let mid = batch.items.len() / 2;
    let (mut first, mut second) = (Batch::default(), Batch::default());
    for (i, item) in batch.items.into_iter().enumerate() {
        let half = if i < mid { &mut first } else { &mut second };
        half.push_from(&batch.body, item);
    }
    (first, second)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ack::{Delivery, FileAck};
    use crate::output::batch::{ActionLine, Destination};
    use futures::FutureExt;
    use std::sync::Arc;

    #[test]
    fn halves_keep_every_item_and_its_lines() {
        let (file, _receipt) = FileAck::new("f".into());
        let mut batch = Batch::default();
        let create = serde_json::value::RawValue::from_string("{\"create\":{}}".into()).unwrap();
        let index = Arc::new(Destination { name: "x".into(), day: None });
        for n in 0..5 {
            let doc = format!("{{\"n\":{n}}}");
            batch.push(ActionLine::Verbatim(&create), index.clone(), doc.as_bytes(), file.event(), 0, false);
        }
        let (a, b) = halves(batch);
        assert_eq!((a.items.len(), b.items.len()), (2, 3));
        assert!(String::from_utf8_lossy(&b.body).starts_with("{\"create\":{}}\n{\"n\":2}\n"));
        let docs: Vec<_> = b.items.iter().map(|i| crate::output::batch::line(&b.body, &i.document)).collect();
        assert_eq!(docs, [&b"{\"n\":2}"[..], b"{\"n\":3}", b"{\"n\":4}"]);
        for item in a.items.into_iter().chain(b.items) {
            item.ack.settle(Delivery::Delivered);
        }
    }

    #[test]
    fn only_a_success_after_failures_wakes_the_waiting() {
        let r = Recovery::default();
        let mut waiting = Box::pin(r.back());
        waiting.as_mut().enable();
        r.succeeded();
        assert!(waiting.as_mut().now_or_never().is_none(), "nothing had failed");
        r.failed();
        r.succeeded();
        assert!(waiting.now_or_never().is_some(), "back after a failure");
    }
}
