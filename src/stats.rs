//! Run counters and the end-of-run summary.
//!
//! Every stage bumps these atomics as it goes; the summary and the exit code are computed from
//! them at the end. Keeping them in one struct, passed in explicitly, means a newcomer can find
//! every number the tool reports in one place.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Counters for one run. All fields only ever grow, but the gauges `bulk_limit` and `health`.
#[derive(Debug, Default)]
pub struct Stats {
    /// Files admitted for reading (found by a source, not excluded by --state or --shard).
    pub files_found: AtomicU64,
    /// Files passed over because an earlier run finished them (--state).
    pub files_done_before: AtomicU64,
    /// Files announced on a queue instead of being read (`backfill --to-queue`).
    pub files_enqueued: AtomicU64,
    /// Set once every source has been listed completely (the total is known).
    pub listing_done: AtomicBool,
    /// Log files read to the end.
    pub files_read: AtomicU64,
    /// Files skipped on purpose (digest files).
    pub files_skipped: AtomicU64,
    /// Of `files_skipped`, those admitted (so in `files_found`) and found to be digests by their
    /// content: they are done as much as a file read.
    pub digests_read: AtomicU64,
    /// Hidden files and folders (`.name`) under a local SOURCE, left out (a folder counts once).
    pub hidden_skipped: AtomicU64,
    /// CloudWatch Logs control messages (health checks that hold no events), skipped.
    pub control_messages: AtomicU64,
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
    /// Events CloudTrail truncated (`"omitted": true` at their top), whatever became of them.
    pub events_omitted: AtomicU64,
    /// Events neither delivered nor dead-lettered (e.g. the dead-letter file could not be written).
    pub events_failed: AtomicU64,
    /// Events not delivered because the cluster was unavailable (no answer, busy, or refusing
    /// them with 429/5xx) for longer than the patience: not dead-lettered, left for a re-run.
    pub events_unavailable: AtomicU64,
    /// The newest event time delivered so far, Unix seconds (0: none yet).
    pub newest_delivered: std::sync::atomic::AtomicI64,
    /// Answers of the cluster that cut the bulk concurrency: 429/502/503/504, items refused with
    /// 429/503, no answer.
    pub bulk_pushbacks: AtomicU64,
    /// A gauge: bulk requests allowed in flight now (the adaptive limit; 0: no cluster output).
    pub bulk_limit: AtomicU64,
    /// Its upper bound, `--bulk-concurrency` (0: no cluster output).
    pub bulk_limit_max: AtomicU64,
    /// Sigma rules loaded (`--rules`; 0: no detection).
    pub rules_loaded: AtomicU64,
    /// Findings made (rule matches), by level: informational, low, medium, high, critical.
    pub findings: [AtomicU64; 5],
    /// Findings newly written (to the index or the output).
    pub findings_indexed: AtomicU64,
    /// Findings already in the index (a re-run, a redelivery, the second copy of an event).
    pub findings_present: AtomicU64,
    /// Events the Sigma evaluator failed on (indexed without findings).
    pub events_unevaluable: AtomicU64,
    /// Whether the cluster and the queue are answering.
    pub health: Health,
}

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
        let get = |c: &AtomicU64| c.load(Relaxed);
        let secs = self.elapsed.as_secs_f64();
        let rate = if secs > 0.0 { get(&s.events_read) as f64 / secs } else { 0.0 };
        write!(
            f,
            "files:   {} read, {} skipped (digest or not a log), {} failed",
            get(&s.files_read),
            get(&s.files_skipped),
            get(&s.files_failed)
        )?;
        if get(&s.files_done_before) > 0 {
            write!(f, ", {} finished by earlier runs", get(&s.files_done_before))?;
        }
        if get(&s.files_enqueued) > 0 {
            write!(f, ", {} enqueued", get(&s.files_enqueued))?;
        }
        if get(&s.hidden_skipped) > 0 {
            write!(f, ", {} hidden files or folders (.name) left out", get(&s.hidden_skipped))?;
        }
        writeln!(f)?;
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
        if get(&s.events_omitted) > 0 {
            write!(f, "; {} truncated by CloudTrail (\"omitted\": true)", get(&s.events_omitted))?;
        }
        if get(&s.control_messages) > 0 {
            write!(f, "; {} CloudWatch Logs control messages skipped", get(&s.control_messages))?;
        }
        writeln!(f)?;
        if get(&s.events_unavailable) > 0 {
            writeln!(
                f,
                "{} events not delivered: the cluster was unavailable; run again",
                get(&s.events_unavailable)
            )?;
        }
        if get(&s.rules_loaded) > 0 {
            write!(
                f,
                "findings: {} from {} rules: {} new, {} already present",
                s.findings_by_level(),
                get(&s.rules_loaded),
                get(&s.findings_indexed),
                get(&s.findings_present)
            )?;
            if get(&s.events_unevaluable) > 0 {
                write!(f, "; {} events the rules could not be evaluated on", get(&s.events_unevaluable))?;
            }
            writeln!(f)?;
        }
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
        let s = Stats::default();
        Stats::add(&s.events_unavailable, 3);
        assert!(s.has_problems(), "undelivered events are not a success");
        let text = s.summary(Duration::from_secs(1)).to_string();
        assert!(
            text.contains("\n3 events not delivered: the cluster was unavailable; run again\n"),
            "{text}"
        );
    }

    #[test]
    fn a_stall_is_work_waiting_without_delivery() {
        let h = Health::default();
        assert_eq!(h.stalled(), None);
        h.work_arrived(3);
        assert_eq!(h.stalled().map(|(_, n)| n), Some(3));
        h.progress_at.store(1, Relaxed);
        assert!(h.stalled().unwrap().0 > Duration::from_secs(1000), "nothing delivered since");
        h.work_settled(2, true);
        assert!(h.stalled().unwrap().0 < Duration::from_secs(5), "a delivery is progress");
        h.work_settled(1, false);
        assert_eq!(h.stalled(), None, "nothing waits");
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
        assert!(!text.contains("omitted"), "none truncated, no mention: {text}");
        Stats::add(&s.events_omitted, 2);
        let text = s.summary(Duration::from_secs(2)).to_string();
        assert!(text.contains("3 filtered out; 2 truncated by CloudTrail (\"omitted\": true)\n"), "{text}");
        assert!(!text.contains("findings"), "no rules, no mention: {text}");
        Stats::add(&s.rules_loaded, 57);
        Stats::add(&s.findings[3], 2);
        Stats::add(&s.findings[2], 1);
        Stats::add(&s.findings_indexed, 3);
        let text = s.summary(Duration::from_secs(2)).to_string();
        assert!(
            text.contains("findings: 3 (high 2, medium 1) from 57 rules: 3 new, 0 already present"),
            "{text}"
        );
    }

    #[test]
    fn filtered_events_are_not_problems() {
        let s = Stats::default();
        Stats::add(&s.events_filtered, 5);
        assert!(!s.has_problems());
    }
}
