//! The feed: every source's files, admitted or not, into one channel for the readers.
//!
//! Sources find files; the feed applies the run's rules (digests are not logs, `--state`,
//! `--shard`, layout filters), counts what it passes over, and sends the rest on, each with its
//! acknowledgement: the readers get the [`Unit`], and the receipt goes to whoever records finished
//! files (backfill's state journal). It is also where a stopping run (Ctrl-C) stops taking new files.

use super::admit::{Admission, Admit};
use super::layout::{classify, is_digest, KeyKind, LayoutFilter};
use super::{LogFile, Unit};
use crate::ack::Receipt;
use crate::stats::Stats;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;
use tracing::debug;

/// What the sources feed into.
pub struct Feed {
    /// The readers' queue.
    pub files: flume::Sender<Unit>,
    /// Where each admitted file's receipt goes.
    pub receipts: UnboundedSender<Receipt>,
    /// `--state` and `--shard`.
    pub admit: Admit,
    /// `--start/--end/--account/--region`.
    pub filter: LayoutFilter,
    /// Run counters.
    pub stats: Arc<Stats>,
    /// Cancelled when the run must stop taking files.
    pub cancel: CancellationToken,
}

/// What the feed decided about a name.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// Read it.
    Take,
    /// Passed over (already counted and logged).
    Pass,
    /// The run is stopping.
    Stop,
}

impl Feed {
    /// Decides whether the file called `name` is read. Layout filters apply when set.
    pub fn decide(&self, name: &str) -> Decision {
        if self.cancel.is_cancelled() {
            return Decision::Stop;
        }
        if is_digest(name) {
            debug!("{name}: digest file, skipped");
            Stats::add(&self.stats.files_skipped, 1);
            return Decision::Pass;
        }
        if !self.filter.is_empty() {
            match classify(name) {
                KeyKind::Log(key) if self.filter.wants(&key) => {}
                _ => return Decision::Pass,
            }
        }
        match self.admit.check(name) {
            Admission::Take => {
                Stats::add(&self.stats.files_found, 1);
                Decision::Take
            }
            Admission::AlreadyDone => {
                debug!("{name}: finished by an earlier run (--state), skipped");
                Stats::add(&self.stats.files_done_before, 1);
                Decision::Pass
            }
            Admission::OtherShard => Decision::Pass,
        }
    }

    /// Offers a found file from a blocking thread; false once the run is stopping.
    pub fn offer(&self, file: LogFile) -> bool {
        match self.decide(&file.name) {
            Decision::Take => {
                let (unit, receipt) = self.track(file);
                let _ = self.receipts.send(receipt);
                self.wait_for_room();
                self.files.send(unit).is_ok()
            }
            Decision::Pass => true,
            Decision::Stop => false,
        }
    }

    /// From a blocking thread: when the readers' queue is full, waits until they have taken a
    /// quarter of it, looking every millisecond, rather than being woken for each file taken (a
    /// local backfill's walker was woken once per file: a third of a run's context switches,
    /// docs/design/reader-speed.md). Three quarters stay queued, far more than the readers take
    /// while it sleeps.
    fn wait_for_room(&self) {
        let Some(capacity) = self.files.capacity() else { return };
        if self.files.len() < capacity {
            return;
        }
        while self.files.len() > capacity * 3 / 4
            && !self.files.is_disconnected()
            && !self.cancel.is_cancelled()
        {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Starts tracking an admitted file; its events replace earlier ones if `--state` says so.
    fn track(&self, file: LogFile) -> (Unit, Receipt) {
        let (unit, receipt) = Unit::track(file);
        if self.admit.replace.contains(&*unit.file.name) {
            unit.ack.replace_earlier_sends();
        }
        (unit, receipt)
    }

    /// Sends an admitted file from an async task; false once the run is stopping.
    pub async fn send(&self, file: LogFile) -> bool {
        let (unit, receipt) = self.track(file);
        let _ = self.receipts.send(receipt);
        tokio::select! {
            sent = self.files.send_async(unit) => sent.is_ok(),
            _ = self.cancel.cancelled() => false,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A feed whose files can be collected from the returned receiver.
    pub(crate) fn collecting_feed() -> (Feed, flume::Receiver<Unit>) {
        let (tx, rx) = flume::unbounded();
        let feed = Feed {
            files: tx,
            receipts: tokio::sync::mpsc::unbounded_channel().0,
            admit: Admit::default(),
            filter: LayoutFilter::default(),
            stats: Arc::new(Stats::default()),
            cancel: CancellationToken::new(),
        };
        (feed, rx)
    }

    #[test]
    fn a_full_queue_is_refilled_once_a_quarter_is_taken_not_per_file() {
        let (tx, rx) = flume::bounded(8);
        let (mut feed, _unbounded) = collecting_feed();
        feed.files = tx;
        for i in 0..8 {
            assert!(feed.offer(LogFile::local(format!("f{i}.json").into())));
        }
        let offered = std::thread::spawn(move || feed.offer(LogFile::local("last.json".into())));
        std::thread::sleep(std::time::Duration::from_millis(50));
        rx.recv().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(50));
        let (finished, len) = (offered.is_finished(), rx.len());
        assert!(!finished && len == 7, "one file taken: the feeder waits ({finished}, {len})");
        rx.recv().unwrap();
        assert!(offered.join().unwrap());
        assert_eq!(rx.len(), 7, "two taken, one added");
    }

    #[test]
    fn layout_filters_and_cancellation_decide() {
        let (mut feed, _rx) = collecting_feed();
        feed.filter.accounts = vec!["111122223333".into()];
        let wanted = "d/AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/f.json.gz";
        let other = "d/AWSLogs/444455556666/CloudTrail/us-east-1/2024/05/01/f.json.gz";
        assert_eq!(feed.decide(wanted), Decision::Take);
        assert_eq!(feed.decide(other), Decision::Pass);
        assert_eq!(feed.decide("loose-file.json"), Decision::Pass);
        feed.cancel.cancel();
        assert_eq!(feed.decide(wanted), Decision::Stop);
    }
}
