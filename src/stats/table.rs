//! The table of counters: every number a run keeps, with its help text, its kind, and where it
//! shows: the end-of-run summary (and `follow`'s messages line), the progress line, `/metrics`.
//! [`Stats`] is declared from this table, so adding a counter is adding one row here; the
//! summary (`stats/mod.rs`), the progress line (`progress.rs`) and `/metrics` (`metrics.rs`) are
//! produced from the rows, in their order.
//!
//! A row is a counter field of [`Stats`] (`name: row;`), a value read from other fields
//! (`derived name: row;`), or a field that shows nowhere by itself (`other name: Type;`).

use super::Health;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};

/// Counter or gauge, as Prometheus has it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Only grows.
    Counter,
    /// Goes up and down.
    Gauge,
}

/// A line of the summary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Line {
    /// `files:   …`
    Files,
    /// `events:  …`
    Events,
    /// Events the cluster was not there for.
    Unavailable,
    /// `findings: …` (with rules).
    Findings,
    /// `bytes:   …`
    Bytes,
    /// `messages: …`: `follow`'s queue, at its end and in its status line.
    Messages,
}

impl Line {
    /// The lines of the end-of-run summary, in order (`follow` prints [`Line::Messages`] itself).
    pub const SUMMARY: [Line; 5] =
        [Line::Files, Line::Events, Line::Unavailable, Line::Findings, Line::Bytes];

    /// What the line starts with.
    pub fn head(self) -> &'static str {
        match self {
            Line::Files => "files:   ",
            Line::Events => "events:  ",
            Line::Unavailable => "",
            Line::Findings => "findings: ",
            Line::Bytes => "bytes:   ",
            Line::Messages => "messages: ",
        }
    }
}

/// When a row shows in a view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    /// Always (if it has a value).
    Always,
    /// When it is not 0.
    NonZero,
    /// When Sigma rules are loaded.
    Rules,
    /// With a cluster output (the bulk concurrency is known).
    Cluster,
}

impl When {
    /// True when a row of `value` shows now.
    pub fn holds(self, stats: &Stats, value: u64) -> bool {
        match self {
            When::Always => true,
            When::NonZero => value > 0,
            When::Rules => stats.rules_loaded.load(Relaxed) > 0,
            When::Cluster => stats.bulk_limit_max.load(Relaxed) > 0,
        }
    }
}

/// How a value is written in a phrase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Show {
    /// The number.
    Count,
    /// Bytes as megabytes, one decimal.
    Megabytes,
    /// The findings by level: `3 (high 2, medium 1)`.
    ByLevel,
    /// The value of the most: `2/4` (the bulk concurrency of `--bulk-concurrency`).
    OfMax,
}

/// Text showing a value: `{}` stands for it (a summary phrase carries its separator).
#[derive(Clone, Copy, Debug)]
pub struct Phrase {
    /// The text.
    pub text: &'static str,
    /// When it shows.
    pub when: When,
    /// How the value is written.
    pub show: Show,
}

impl Phrase {
    /// The phrase for `value`, if it shows now.
    pub fn render(&self, stats: &Stats, value: u64) -> Option<String> {
        if !self.when.holds(stats, value) {
            return None;
        }
        let shown = match self.show {
            Show::Count => value.to_string(),
            Show::Megabytes => format!("{:.1}", value as f64 / 1e6),
            Show::ByLevel => stats.findings_by_level(),
            Show::OfMax => format!("{value}/{}", stats.bulk_limit_max.load(Relaxed)),
        };
        Some(self.text.replacen("{}", &shown, 1))
    }
}

/// A metric of `/metrics`: `cloudtrail_es_NAME`.
#[derive(Clone, Copy, Debug)]
pub struct Metric {
    /// Its name after `cloudtrail_es_`.
    pub name: &'static str,
    /// When it is served.
    pub when: When,
    /// One series per finding level (`{level="…"}`), from [`Stats::findings`].
    pub by_level: bool,
}

/// One row of the table.
#[derive(Clone, Copy, Debug)]
pub struct Row {
    /// Its name: the field of [`Stats`] (or what a derived row reads).
    pub name: &'static str,
    /// What it counts (the metric's HELP).
    pub help: &'static str,
    /// Counter or gauge.
    pub kind: Kind,
    /// Its value now (`None`: not known yet, shown nowhere).
    pub read: fn(&Stats) -> Option<u64>,
    /// The counter itself, for a counter field's row (`None`: a derived row).
    pub field: Option<fn(&Stats) -> &AtomicU64>,
    /// Its place in `/metrics`.
    pub metric: Option<Metric>,
    /// Its phrase in a summary line.
    pub summary: Option<(Line, Phrase)>,
    /// Its phrase in the progress line.
    pub progress: Option<Phrase>,
}

const fn nothing(_: &Stats) -> Option<u64> {
    None
}

impl Row {
    /// A row counting `help`.
    pub const fn counter(help: &'static str) -> Row {
        Row {
            name: "",
            help,
            kind: Kind::Counter,
            read: nothing,
            field: None,
            metric: None,
            summary: None,
            progress: None,
        }
    }

    /// A row for a gauge of `help`.
    pub const fn gauge(help: &'static str) -> Row {
        Row { kind: Kind::Gauge, ..Row::counter(help) }
    }

    /// Served as `cloudtrail_es_NAME`, always.
    pub const fn metric(self, name: &'static str) -> Row {
        self.metric_when(name, When::Always)
    }

    /// Served as `cloudtrail_es_NAME` when `when` holds.
    pub const fn metric_when(self, name: &'static str, when: When) -> Row {
        Row { metric: Some(Metric { name, when, by_level: false }), ..self }
    }

    /// Served by finding level.
    pub const fn by_level(self) -> Row {
        match self.metric {
            Some(m) => Row { metric: Some(Metric { by_level: true, ..m }), ..self },
            None => self,
        }
    }

    /// Shown on the summary line `line` as `text` when `when` holds.
    pub const fn summary(self, line: Line, text: &'static str, when: When) -> Row {
        Row { summary: Some((line, Phrase { text, when, show: Show::Count })), ..self }
    }

    /// Shown in the progress line as `text` when `when` holds.
    pub const fn progress(self, text: &'static str, when: When) -> Row {
        Row { progress: Some(Phrase { text, when, show: Show::Count }), ..self }
    }

    /// Its value written as `show` in the summary and the progress line.
    pub const fn shown(self, show: Show) -> Row {
        let summary = match self.summary {
            Some((line, p)) => Some((line, Phrase { show, ..p })),
            None => None,
        };
        let progress = match self.progress {
            Some(p) => Some(Phrase { show, ..p }),
            None => None,
        };
        Row { summary, progress, ..self }
    }

    /// Its value read with `read` (a derived row's).
    pub const fn read(self, read: fn(&Stats) -> Option<u64>) -> Row {
        Row { read, ..self }
    }

    /// The row of the counter field `field` (by `counters!`).
    pub const fn field(self, field: fn(&Stats) -> &AtomicU64) -> Row {
        Row { field: Some(field), ..self }
    }

    /// Named `name` (by `counters!`: the row's name in the table).
    pub const fn named(self, name: &'static str) -> Row {
        Row { name, ..self }
    }
}

/// Declares [`Stats`] (a field per counter row, and the other fields) and [`TABLE`].
macro_rules! counters {
    (@rows [$($fields:tt)*] [$($rows:tt)*]) => {
        /// Counters for one run, one per row of [`TABLE`] (see `stats/table.rs`). All only
        /// grow, but the gauges.
        #[derive(Debug, Default)]
        pub struct Stats { $($fields)* }

        /// Every row, in the order they show in each view.
        pub const TABLE: &[Row] = &[$($rows)*];
    };
    (@rows [$($fields:tt)*] [$($rows:tt)*]
        $(#[doc = $doc:literal])* derived $name:ident : $row:expr; $($rest:tt)*) => {
        counters!(@rows [$($fields)*] [$($rows)* $row.named(stringify!($name)), ] $($rest)*);
    };
    (@rows [$($fields:tt)*] [$($rows:tt)*]
        $(#[doc = $doc:literal])* other $name:ident : $ty:ty; $($rest:tt)*) => {
        counters!(@rows [$($fields)* $(#[doc = $doc])* pub $name: $ty,] [$($rows)*] $($rest)*);
    };
    (@rows [$($fields:tt)*] [$($rows:tt)*]
        $(#[doc = $doc:literal])* $name:ident : $row:expr; $($rest:tt)*) => {
        counters!(@rows [$($fields)* $(#[doc = $doc])* pub $name: AtomicU64,]
            [$($rows)* $row.named(stringify!($name))
                .field(|s: &Stats| &s.$name).read(|s: &Stats| Some(s.$name.load(Relaxed))), ] $($rest)*);
    };
    ($($rest:tt)*) => { counters!(@rows [] [] $($rest)*); };
}

use Line::*;
use When::*;

counters! {
    /// SQS messages received (`follow`).
    messages_received: Row::counter("SQS messages received")
        .metric("messages_received_total").summary(Messages, "{} received", Always);
    /// Messages deleted after their files were safe (or that needed no work).
    messages_deleted: Row::counter("SQS messages deleted after their files were safe")
        .metric("messages_deleted_total").summary(Messages, ", {} deleted", Always);
    /// Messages left in the queue because a file failed.
    messages_kept: Row::counter("SQS messages left in the queue because a file failed")
        .metric("messages_kept_total").summary(Messages, ", {} left in the queue after a failure", Always);
    /// Messages that are not notifications we understand, left for the dead-letter queue.
    messages_invalid: Row::counter("SQS messages that are not notifications")
        .metric("messages_invalid_total").summary(Messages, ", {} not notifications", Always);
    /// Messages naming an object this follower must not read, left for the dead-letter queue.
    messages_refused: Row::counter("SQS messages naming an object this follower must not read")
        .summary(Messages, ", {} refused", Always);
    /// Files admitted for reading (found by a source, not excluded by --state or --shard).
    files_found: Row::counter("log files admitted for reading");
    /// Log files read to the end.
    files_read: Row::counter("log files read to the end")
        .metric("files_read_total").summary(Files, "{} read", Always);
    /// Files skipped on purpose (digest files).
    files_skipped: Row::counter("files skipped on purpose (digest files, not a log)")
        .summary(Files, ", {} skipped (digest or not a log)", Always);
    /// Bytes read from sources, as stored (compressed).
    bytes_read: Row::counter("bytes read from sources")
        .metric("bytes_read_total").summary(Bytes, "{} MB read", Always).progress("{} MB", Always)
        .shown(Show::Megabytes);
    /// Events found in `Records`.
    events_read: Row::counter("events read").metric("events_read_total").summary(Events, "{} read", Always);
    /// Events newly written (to the index or the output).
    events_indexed: Row::counter("events indexed")
        .metric("events_indexed_total").summary(Events, ": {} indexed", Always).progress("{} indexed", Always);
    /// Events that were already in the index (bulk `create` conflict).
    events_present: Row::counter("events already in the index")
        .metric("events_present_total").summary(Events, ", {} already present", Always)
        .progress("{} present", Always);
    /// Events written to the dead-letter file.
    events_dead: Row::counter("events written to the dead-letter file")
        .metric("events_dead_lettered_total").summary(Events, ", {} dead-lettered", Always)
        .progress("{} dead-lettered", Always);
    /// Files that could not be read (completely).
    files_failed: Row::counter("log files that could not be read")
        .metric("files_failed_total").summary(Files, ", {} failed", Always).progress("{} failed files", Always);
    /// Files passed over because an earlier run finished them (--state).
    files_done_before: Row::counter("files finished by earlier runs (--state)")
        .summary(Files, ", {} finished by earlier runs", NonZero);
    /// Files announced on a queue instead of being read (`backfill --to-queue`).
    files_enqueued: Row::counter("files announced on a queue (--to-queue)")
        .summary(Files, ", {} enqueued", NonZero);
    /// Hidden files and folders (`.name`) under a local SOURCE, left out (a folder counts once).
    hidden_skipped: Row::counter("hidden files and folders left out")
        .summary(Files, ", {} hidden files or folders (.name) left out", NonZero);
    /// Of `files_skipped`, those admitted (so in `files_found`) and found to be digests by their
    /// content: they are done as much as a file read.
    digests_read: Row::counter("digest files found by their content");
    /// Events dropped on purpose by `--include`/`--exclude`/`--console-only` (not an error).
    events_filtered: Row::counter("events dropped by a filter").summary(Events, ", {} filtered out", NonZero);
    /// Events neither delivered nor dead-lettered (e.g. the dead-letter file could not be written).
    events_failed: Row::counter("events neither delivered nor dead-lettered")
        .metric("events_failed_total").summary(Events, ", {} failed", NonZero);
    /// Events CloudTrail truncated (`"omitted": true` at their top), whatever became of them.
    events_omitted: Row::counter("events CloudTrail truncated (\"omitted\": true)")
        .metric("events_omitted_total").summary(Events, "; {} truncated by CloudTrail (\"omitted\": true)", NonZero);
    /// CloudWatch Logs control messages (health checks that hold no events), skipped.
    control_messages: Row::counter("CloudWatch Logs control messages skipped")
        .summary(Events, "; {} CloudWatch Logs control messages skipped", NonZero);
    /// Events not delivered because the cluster was unavailable (no answer, busy, or refusing
    /// them with 429/5xx) for longer than the patience: not dead-lettered, left for a re-run.
    events_unavailable: Row::counter("events left undelivered: the cluster was unavailable past the patience")
        .metric("events_unavailable_total")
        .summary(Unavailable, "{} events not delivered: the cluster was unavailable; run again", NonZero);
    /// Answers of the cluster that cut the bulk concurrency: 429/502/503/504, items refused with
    /// 429/503, no answer.
    bulk_pushbacks: Row::counter(
        "cluster answers that cut the bulk concurrency (429/503, items refused with 429, no answer)",
    )
    .metric("bulk_pushbacks_total");
    /// Findings made (rule matches), by level: informational, low, medium, high, critical.
    other findings: [AtomicU64; 5];
    /// The findings, all levels.
    derived findings: Row::counter("Sigma rule matches, by the rule's level")
        .metric_when("findings_total", Rules).by_level()
        .summary(Findings, "{}", Rules).progress("findings {}", Rules).shown(Show::ByLevel)
        .read(|s| Some(s.findings_total()));
    /// Sigma rules loaded (`--rules`; 0: no detection).
    rules_loaded: Row::gauge("Sigma rules loaded").summary(Findings, " from {} rules", Rules);
    /// Findings newly written (to the index or the output).
    findings_indexed: Row::counter("findings written")
        .metric_when("findings_indexed_total", Rules).summary(Findings, ": {} new", Rules);
    /// Findings already in the index (a re-run, a redelivery, the second copy of an event).
    findings_present: Row::counter("findings already in the index")
        .metric_when("findings_present_total", Rules).summary(Findings, ", {} already present", Rules);
    /// Events the Sigma evaluator failed on (indexed without findings).
    events_unevaluable: Row::counter("events the rules could not be evaluated on")
        .summary(Findings, "; {} events the rules could not be evaluated on", NonZero);
    /// The newest event time delivered so far, Unix seconds (0: none yet).
    other newest_delivered: AtomicI64;
    /// Now minus the newest event time delivered.
    derived lag: Row::gauge("now minus the newest event time delivered")
        .metric("lag_seconds").read(|s| s.lag().map(|l| l.as_secs()));
    /// A gauge: bulk requests allowed in flight now (the adaptive limit; 0: no cluster output).
    bulk_limit: Row::gauge("bulk requests allowed in flight now (adaptive)")
        .metric_when("bulk_concurrency", Cluster).progress("bulk concurrency {}", Cluster).shown(Show::OfMax);
    /// Its upper bound, `--bulk-concurrency` (0: no cluster output).
    bulk_limit_max: Row::gauge("its upper bound, --bulk-concurrency").metric_when("bulk_concurrency_max", Cluster);
    /// Set once every source has been listed completely (the total is known).
    other listing_done: AtomicBool;
    /// Whether the cluster and the queue are answering.
    other health: Health;
    /// Events handed to the output and not settled yet.
    derived waiting: Row::gauge("events read and not yet settled")
        .metric("events_waiting").read(|s| Some(s.health.waiting.load(Relaxed)));
    /// 1 while the cluster answers.
    derived elasticsearch_up: Row::gauge("0 while the cluster has been failing, else 1")
        .metric("elasticsearch_up")
        .read(|s| Some(u64::from(Health::failing_for(&s.health.es_failing_since).is_none())));
    /// 1 while SQS answers.
    derived sqs_up: Row::gauge("0 while SQS has been failing, else 1")
        .metric("sqs_up")
        .read(|s| Some(u64::from(Health::failing_for(&s.health.sqs_failing_since).is_none())));
}
