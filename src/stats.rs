//! Run counters and the end-of-run summary.
//!
//! Every stage bumps these atomics as it goes; the summary and the exit code are computed from
//! them at the end. Keeping them in one struct, passed in explicitly, means a newcomer can find
//! every number the tool reports in one place.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Counters for one run. All fields only ever grow.
#[derive(Debug, Default)]
pub struct Stats {
    /// Log files read to the end.
    pub files_read: AtomicU64,
    /// Files skipped on purpose (digest files).
    pub files_skipped: AtomicU64,
    /// Files that could not be read (completely).
    pub files_failed: AtomicU64,
    /// Bytes read from sources, as stored (compressed).
    pub bytes_read: AtomicU64,
    /// Events found in `Records`.
    pub events_read: AtomicU64,
    /// Events newly written (to the index or the output).
    pub events_indexed: AtomicU64,
    /// Events that were already in the index (bulk `create` conflict).
    pub events_present: AtomicU64,
    /// Events written to the dead-letter file.
    pub events_dead: AtomicU64,
    /// Events dropped on purpose by `--include`/`--exclude`/`--console-only` (not an error).
    pub events_filtered: AtomicU64,
    /// Events neither delivered nor dead-lettered (e.g. the dead-letter file could not be written).
    pub events_failed: AtomicU64,
}

impl Stats {
    /// Adds `n` to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    /// True when the run should exit with status 2: something was rejected or unreadable.
    pub fn has_problems(&self) -> bool {
        self.files_failed.load(Relaxed) > 0
            || self.events_dead.load(Relaxed) > 0
            || self.events_failed.load(Relaxed) > 0
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
        let get = |c: &AtomicU64| c.load(Relaxed);
        let secs = self.elapsed.as_secs_f64();
        let rate = if secs > 0.0 { get(&s.events_read) as f64 / secs } else { 0.0 };
        writeln!(
            f,
            "files:   {} read, {} skipped (digest), {} failed",
            get(&s.files_read),
            get(&s.files_skipped),
            get(&s.files_failed)
        )?;
        write!(
            f,
            "events:  {} read: {} indexed, {} already present, {} dead-lettered",
            get(&s.events_read),
            get(&s.events_indexed),
            get(&s.events_present),
            get(&s.events_dead)
        )?;
        if get(&s.events_filtered) > 0 {
            write!(f, ", {} filtered out", get(&s.events_filtered))?;
        }
        if get(&s.events_failed) > 0 {
            write!(f, ", {} failed", get(&s.events_failed))?;
        }
        writeln!(f)?;
        writeln!(f, "bytes:   {:.1} MB read", get(&s.bytes_read) as f64 / 1e6)?;
        write!(f, "elapsed: {secs:.2} s ({rate:.0} events/s)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_decide_the_exit_status() {
        let s = Stats::default();
        Stats::add(&s.events_indexed, 5);
        Stats::add(&s.files_skipped, 1);
        assert!(!s.has_problems());
        Stats::add(&s.events_dead, 1);
        assert!(s.has_problems());
    }

    #[test]
    fn summary_shows_every_count() {
        let s = Stats::default();
        Stats::add(&s.events_read, 10);
        Stats::add(&s.events_indexed, 7);
        Stats::add(&s.events_present, 2);
        Stats::add(&s.events_dead, 1);
        let text = s.summary(Duration::from_secs(2)).to_string();
        assert!(text.contains("10 read: 7 indexed, 2 already present, 1 dead-lettered"), "{text}");
        assert!(text.contains("(5 events/s)"), "{text}");
        assert!(!text.contains("filtered"), "no filter, no mention: {text}");
        Stats::add(&s.events_filtered, 3);
        let text = s.summary(Duration::from_secs(2)).to_string();
        assert!(text.contains("1 dead-lettered, 3 filtered out"), "{text}");
    }

    #[test]
    fn filtered_events_are_not_problems() {
        let s = Stats::default();
        Stats::add(&s.events_filtered, 5);
        assert!(!s.has_problems());
    }
}
