//! Backfill's journal: awaits every file's receipt and records each finished file in `--state`.
//!
//! It looks at its receipts every [`LOOK`] instead of being woken by each one: a backfill settles
//! thousands of files a second, and a task woken per file (by the feed sending a receipt, then by
//! the output settling the file) kept the runtime's threads waking each other, 4,000–9,000
//! context switches in a run of 1,200 files (docs/design/reader-speed.md). The receipts are
//! polled with a waker that does nothing, so a file fed or settled costs no wake-up; a finished
//! file is recorded at most `LOOK` after it settled, and the journal is synced once a second as
//! before.

use crate::ack::Receipt;
use crate::state::StateFile;
use anyhow::Context as _;
use futures::stream::{FuturesUnordered, StreamExt};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{error::TryRecvError, UnboundedReceiver};
use tokio::time::MissedTickBehavior;
use tracing::debug;

/// How often the journal looks for fed and settled files.
pub const LOOK: Duration = Duration::from_millis(10);

/// How often the journal file is synced.
const SYNC: Duration = Duration::from_secs(1);

/// Awaits every receipt sent on `receipts` until the channel closes and each has resolved,
/// recording each finished file in `state`; returns how many files were not finished.
pub async fn journal(
    mut receipts: UnboundedReceiver<Receipt>,
    mut state: Option<StateFile>,
) -> anyhow::Result<u64> {
    let mut not_done = 0;
    let mut pending = FuturesUnordered::new();
    let mut look = tokio::time::interval(LOOK);
    look.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut synced = Instant::now();
    let mut feeding = true;
    loop {
        look.tick().await;
        // Neither the channel nor the receipts can wake this task: it looks on its own clock.
        let mut quiet = Context::from_waker(Waker::noop());
        while feeding {
            match receipts.try_recv() {
                Ok(receipt) => pending.push(receipt),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => feeding = false,
            }
        }
        while let Poll::Ready(Some(file)) = pending.poll_next_unpin(&mut quiet) {
            debug!(file = &*file.file, delivery = ?file.delivery, "file settled");
            if !file.finished() {
                not_done += 1;
                if let (true, Some(state)) = (file.sent_unverified, state.as_mut()) {
                    state.record_replace(&file.file).context("cannot write --state")?;
                }
            } else if let Some(state) = state.as_mut() {
                state.record(&file.file).context("cannot write --state")?;
            }
        }
        if synced.elapsed() >= SYNC {
            synced = Instant::now();
            if let Some(state) = state.as_mut() {
                state.sync().context("cannot write --state")?;
            }
        }
        if !feeding && pending.is_empty() {
            break;
        }
    }
    if let Some(state) = state {
        state.compact().context("cannot write --state")?;
    }
    Ok(not_done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ack::{Delivery, FileAck};
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// Counts how often the runtime polls the future it wraps (once per wake-up).
    struct Polls<F> {
        inner: Pin<Box<F>>,
        count: Arc<AtomicUsize>,
    }

    impl<F: Future> Future for Polls<F> {
        type Output = F::Output;

        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
            self.count.fetch_add(1, Ordering::SeqCst);
            self.inner.as_mut().poll(cx)
        }
    }

    #[test]
    fn files_fed_and_settled_do_not_wake_the_journal_and_each_is_counted() {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let files = 100;
        let feeder = std::thread::spawn(move || {
            for i in 0..files {
                let (ack, receipt) = FileAck::new(format!("f{i}").into());
                tx.send(receipt).unwrap();
                std::thread::sleep(Duration::from_millis(1));
                ack.read_to_end();
                ack.settle(if i % 10 == 0 { Delivery::Failed } else { Delivery::Delivered });
            }
        });
        let count = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let polls = Polls { inner: Box::pin(journal(rx, None)), count: count.clone() };
        let not_done = runtime.block_on(polls).unwrap();
        let ticks = started.elapsed().as_millis() / LOOK.as_millis() + 2;
        feeder.join().unwrap();
        assert_eq!(not_done, 10, "the failed files");
        let polls = count.load(Ordering::SeqCst) as u128;
        assert!(polls <= ticks, "woken {polls} times for {files} files in {ticks} looks");
    }
}
