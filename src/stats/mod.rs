//! Run counters and the end-of-run summary.
//!
//! Every stage bumps these atomics as it goes; the summary and the exit code are computed from
//! them at the end. Every counter is one row of the table in `table.rs`, which declares [`Stats`]
//! and says where each shows: the summary (here), the progress line (`progress.rs`), `/metrics`
//! (`metrics.rs`). A newcomer finds every number the tool reports in that one place.

mod table;

pub use table::{Kind, Line, Metric, Phrase, Row, Show, Stats, When, TABLE};

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Since when (Unix seconds; 0 = answering) each service has been failing.
#[derive(Debug, Default)]
pub struct Health {
    /// Elasticsearch: connection errors or busy answers to bulk requests.
    pub es_failing_since: AtomicU64,
    /// SQS: receive errors.
    pub sqs_failing_since: AtomicU64,
    /// Events handed to the output and not settled yet.
    pub waiting: AtomicU64,
    /// When (Unix seconds) an event was last delivered, or work arrived while none waited.
    pub progress_at: AtomicU64,
}

fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl Health {
    /// Records a success.
    pub fn ok(since: &AtomicU64) {
        since.store(0, Relaxed);
    }

    /// Records a failure (keeps the time of the first one in a row).
    pub fn failing(since: &AtomicU64) {
        let now =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let _ = since.compare_exchange(0, now.max(1), Relaxed, Relaxed);
    }

    /// Records `n` events handed to the output; the progress clock starts when none waited.
    pub fn work_arrived(&self, n: u64) {
        if self.waiting.fetch_add(n, Relaxed) == 0 {
            self.progress_at.store(now_secs(), Relaxed);
        }
    }

    /// Records `n` events settled; `progress`: delivered (or dead-lettered), not given up.
    pub fn work_settled(&self, n: u64, progress: bool) {
        if progress && n > 0 {
            self.progress_at.store(now_secs(), Relaxed);
        }
        let _ = self.waiting.fetch_update(Relaxed, Relaxed, |w| Some(w.saturating_sub(n)));
    }

    /// How long no event has been delivered while events wait, and how many wait.
    pub fn stalled(&self) -> Option<(Duration, u64)> {
        let waiting = self.waiting.load(Relaxed);
        let since = self.progress_at.load(Relaxed);
        (waiting > 0).then(|| (Duration::from_secs(now_secs().saturating_sub(since)), waiting))
    }

    /// How long a service has been failing, if it is.
    pub fn failing_for(since: &AtomicU64) -> Option<Duration> {
        let t = since.load(Relaxed);
        let now =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        (t > 0).then(|| Duration::from_secs(now.saturating_sub(t)))
    }
}

impl Stats {
    /// Adds `n` to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    /// Records that an event of time `unix` was delivered.
    pub fn delivered_time(&self, unix: i64) {
        self.newest_delivered.fetch_max(unix, Relaxed);
    }

    /// Now minus the newest event time delivered: how far behind the index is.
    pub fn lag(&self) -> Option<Duration> {
        let newest = self.newest_delivered.load(Relaxed);
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok()?.as_secs() as i64;
        (newest > 0).then(|| Duration::from_secs(now.saturating_sub(newest).max(0) as u64))
    }

    /// Findings made, all levels.
    pub fn findings_total(&self) -> u64 {
        self.findings.iter().map(|c| c.load(Relaxed)).sum()
    }

    /// `2 (high 1, medium 1)`: the findings made, by level, most severe first.
    pub fn findings_by_level(&self) -> String {
        let levels = ["informational", "low", "medium", "high", "critical"];
        let parts: Vec<String> = (0..5)
            .rev()
            .filter_map(|i| {
                let n = self.findings[i].load(Relaxed);
                (n > 0).then(|| format!("{} {n}", levels[i]))
            })
            .collect();
        if parts.is_empty() {
            "0".into()
        } else {
            format!("{} ({})", self.findings_total(), parts.join(", "))
        }
    }

    /// Raises a flag.
    pub fn set_flag(flag: &AtomicBool) {
        flag.store(true, Relaxed);
    }

    /// True when the run should exit with status 2: something was rejected or unreadable.
    pub fn has_problems(&self) -> bool {
        self.files_failed.load(Relaxed) > 0
            || self.events_dead.load(Relaxed) > 0
            || self.events_failed.load(Relaxed) > 0
            || self.events_unavailable.load(Relaxed) > 0
    }

    /// Prints the summary on stderr (and as one log event with every count), naming the
    /// dead-letter file when something went there.
    pub fn report(&self, dead_letters: &std::path::Path, elapsed: Duration, command: &str) {
        eprintln!("{}", self.summary(elapsed));
        if self.events_dead.load(Relaxed) > 0 {
            eprintln!("dead letters: {}", dead_letters.display());
        }
        tracing::info!(
            files_read = self.files_read.load(Relaxed),
            files_failed = self.files_failed.load(Relaxed),
            events_read = self.events_read.load(Relaxed),
            events_indexed = self.events_indexed.load(Relaxed),
            events_present = self.events_present.load(Relaxed),
            events_dead = self.events_dead.load(Relaxed),
            events_omitted = self.events_omitted.load(Relaxed),
            "{command} finished"
        );
    }

    /// A printable summary for a run that took `elapsed`.
    pub fn summary(&self, elapsed: Duration) -> Summary<'_> {
        Summary { stats: self, elapsed }
    }
}

/// The end-of-run report, as text.
pub struct Summary<'a> {
    stats: &'a Stats,
    elapsed: Duration,
}

impl fmt::Display for Summary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.stats;
        for line in Line::SUMMARY {
            if let Some(text) = s.line(line) {
                writeln!(f, "{text}")?;
            }
        }
        let secs = self.elapsed.as_secs_f64();
        let rate = if secs > 0.0 { s.events_read.load(Relaxed) as f64 / secs } else { 0.0 };
        write!(f, "elapsed: {secs:.2} s ({rate:.0} events/s)")
    }
}

impl Stats {
    /// A line of the summary: its head and the phrases of its rows that show now, in table
    /// order; `None` when none does.
    pub fn line(&self, line: Line) -> Option<String> {
        let phrases: Vec<String> = TABLE
            .iter()
            .filter_map(|row| {
                let (at, phrase) = row.summary.as_ref()?;
                (*at == line).then(|| phrase.render(self, (row.read)(self)?)).flatten()
            })
            .collect();
        (!phrases.is_empty()).then(|| format!("{}{}", line.head(), phrases.concat()))
    }
}

#[cfg(test)]
mod tests;
