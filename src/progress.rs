//! Progress while a run goes: a live line on a terminal, a plain log line every few seconds
//! otherwise.
//!
//! The display reads the run's [`Stats`]; it never holds anything up. While the live line is on
//! screen, log lines are printed above it through [`LogWriter`], so the two do not garble each
//! other. The one global here, the live bar, is set once per run and only for that purpose.
//!
//! Log lines cannot be forged: the text format writes every field through [`text_fields`], which
//! escapes control characters ([`escape_controls`]), so an S3 key or file name holding `\n` (or a
//! terminal escape) stays inside its line. The JSON format escapes them already.

use crate::stats::{Stats, TABLE};
use indicatif::{ProgressBar, ProgressStyle};
use std::borrow::Cow;
use std::collections::VecDeque;
use std::fmt;
use std::io::{self, IsTerminal, Write};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use tracing::info;

/// The live bar, while one is shown.
static BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// How often the plain progress line is logged when stderr is not a terminal.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

/// A running progress display; stop it with [`Progress::finish`].
pub struct Progress {
    task: JoinHandle<()>,
    bar: Option<ProgressBar>,
}

impl Progress {
    /// Starts showing progress of `stats`.
    pub fn start(stats: Arc<Stats>) -> Self {
        let started = Instant::now();
        let mut meter = Meter::new();
        if !io::stderr().is_terminal() {
            let task = tokio::spawn(async move {
                loop {
                    tokio::time::sleep(PLAIN_EVERY).await;
                    let pace = meter.observe(started.elapsed(), &stats);
                    info!("progress: {}", line(&stats, pace));
                }
            });
            return Progress { task, bar: None };
        }
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}").expect("a valid template"),
        );
        if let Ok(mut slot) = BAR.lock() {
            *slot = Some(bar.clone());
        }
        let shown = bar.clone();
        let task = tokio::spawn(async move {
            loop {
                let pace = meter.observe(started.elapsed(), &stats);
                shown.set_message(line(&stats, pace));
                shown.tick();
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        Progress { task, bar: Some(bar) }
    }

    /// Stops the display and clears the live line.
    pub fn finish(self) {
        self.task.abort();
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
            if let Ok(mut slot) = BAR.lock() {
                *slot = None;
            }
        }
    }
}

/// How far back the rates shown look: long enough to be steady, short enough that a stall shows.
const WINDOW: Duration = Duration::from_secs(10);

/// Rates over the last `WINDOW` (10 s), from samples of the counters: an outage reads 0 events/s at
/// once (an average since the start would go on showing the earlier pace), and the ETA follows
/// the current pace instead of growing while the run waits.
pub struct Meter {
    samples: VecDeque<Sample>,
}

#[derive(Clone, Copy)]
struct Sample {
    at: Duration,
    events: u64,
    files: u64,
}

/// The current pace.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Pace {
    /// Events settled (indexed, present, dead-lettered or filtered) per second.
    pub events_per_sec: f64,
    /// Files finished per second.
    pub files_per_sec: f64,
}

impl Default for Meter {
    fn default() -> Self {
        Meter::new()
    }
}

impl Meter {
    /// A meter whose run starts now, with nothing done.
    pub fn new() -> Self {
        Meter { samples: VecDeque::from([Sample { at: Duration::ZERO, events: 0, files: 0 }]) }
    }

    /// Takes a sample at `at` (time since the start) and returns the pace over the window.
    pub fn observe(&mut self, at: Duration, stats: &Stats) -> Pace {
        let now = Sample { at, events: settled_events(stats), files: done_files(stats) };
        // Keep the newest sample at least WINDOW old as the base.
        while self.samples.len() > 1 && at.saturating_sub(self.samples[1].at) >= WINDOW {
            self.samples.pop_front();
        }
        self.samples.push_back(now);
        let base = self.samples[0];
        let span = at.saturating_sub(base.at).as_secs_f64();
        if span <= 0.0 {
            return Pace::default();
        }
        Pace {
            events_per_sec: now.events.saturating_sub(base.events) as f64 / span,
            files_per_sec: now.files.saturating_sub(base.files) as f64 / span,
        }
    }
}

/// Events whose fate is known.
fn settled_events(stats: &Stats) -> u64 {
    let get = |c: &std::sync::atomic::AtomicU64| c.load(Relaxed);
    get(&stats.events_indexed)
        + get(&stats.events_present)
        + get(&stats.events_dead)
        + get(&stats.events_filtered)
}

/// Files admitted and finished with: read, failed, or found to be digests when read.
fn done_files(stats: &Stats) -> u64 {
    let get = |c: &std::sync::atomic::AtomicU64| c.load(Relaxed);
    get(&stats.files_read) + get(&stats.files_failed) + get(&stats.digests_read)
}

/// One line of progress: files done of found, then [`counts`], and an ETA at the current pace
/// once the total is known.
pub fn line(stats: &Stats, pace: Pace) -> String {
    let done = done_files(stats);
    let found = stats.files_found.load(Relaxed);
    let listing_done = stats.listing_done.load(Relaxed);
    let total = if listing_done { format!("{found}") } else { format!("{found}+ (listing)") };
    let mut text = format!("files {done}/{total} · {}", counts(stats, pace));
    if listing_done && done < found {
        if pace.files_per_sec > 0.0 {
            let eta = (found - done) as f64 / pace.files_per_sec;
            text.push_str(&format!(" · ETA {}", human_duration(eta)));
        } else {
            text.push_str(" · no file finished in the last 10 s");
        }
    }
    text
}

/// Bytes, the current event rate, and what became of the events; with a cluster output, the bulk
/// requests allowed in flight now, of the most (`--bulk-concurrency`): the rows of the table with
/// a progress phrase (`stats/table.rs`), the rate after the first.
pub fn counts(stats: &Stats, pace: Pace) -> String {
    let mut parts: Vec<String> =
        TABLE.iter().filter_map(|row| row.progress.as_ref()?.render(stats, (row.read)(stats)?)).collect();
    parts.insert(1.min(parts.len()), format!("{:.0} events/s", pace.events_per_sec));
    parts.join(" · ")
}

/// `5s`, `2m05s`, `2h01m`, `944d03h`: a duration as people read it.
pub fn human_duration(secs: f64) -> String {
    let s = secs.round() as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        3600..=86_399 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// stderr for log lines, printed above the live progress line when one is shown.
pub struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let bar = BAR.lock().ok().and_then(|b| b.clone());
        match bar {
            Some(bar) => bar.suspend(|| io::stderr().write_all(buf)).map(|()| buf.len()),
            None => io::stderr().write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

/// `text` with its control characters escaped (`\n` becomes the two characters `\n`, ESC
/// `\u{1b}`), and the Unicode line separators and bidirectional overrides too: what is left
/// cannot break a line or change how a terminal shows what follows.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    let _ = fmt::Write::write_str(&mut Escaping(&mut out), text);
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Writes through to `W`, escaping what [`needs_escape`].
struct Escaping<'a, W: fmt::Write + ?Sized>(&'a mut W);

impl<W: fmt::Write + ?Sized> fmt::Write for Escaping<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut rest = s;
        while let Some(at) = rest.find(needs_escape) {
            self.0.write_str(&rest[..at])?;
            let c = rest[at..].chars().next().unwrap_or_default();
            write!(self.0, "{}", c.escape_default())?;
            rest = &rest[at + c.len_utf8()..];
        }
        self.0.write_str(rest)
    }
}

/// How the text log format writes an event's fields: like tracing's default (the message, then
/// `name=value`), every value with its control characters escaped.
pub fn text_fields() -> impl for<'w> tracing_subscriber::fmt::FormatFields<'w> + Send + Sync + 'static {
    use tracing_subscriber::field::MakeExt;
    tracing_subscriber::fmt::format::debug_fn(|writer, field, value| {
        if field.name() != "message" {
            write!(writer, "{}=", field.name())?;
        }
        fmt::Write::write_fmt(&mut Escaping(writer), format_args!("{value:?}"))
    })
    .delimited(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_or_message_with_a_newline_stays_on_one_line() {
        use std::sync::{Arc, Mutex};
        #[derive(Clone, Default)]
        struct Buffer(Arc<Mutex<Vec<u8>>>);
        impl Write for Buffer {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .fmt_fields(text_fields())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let key = "AWSLogs/x.json.gz\n2024-01-01T00:00:00Z ERROR forged";
            tracing::error!(bucket = %"b\r\u{1b}[2K", events = 3, "s3://b/{key}: cannot download");
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(
            text.contains(r"s3://b/AWSLogs/x.json.gz\n2024-01-01T00:00:00Z ERROR forged: cannot download"),
            "{text}"
        );
        assert!(text.contains(r"bucket=b\r\u{1b}[2K events=3"), "{text}");
        assert_eq!(escape_controls("plain é"), "plain é");
        assert_eq!(escape_controls("a\u{2028}b\u{202e}c\u{85}"), r"a\u{2028}b\u{202e}c\u{85}");
    }

    #[test]
    fn progress_line_shows_counts_and_eta_once_listing_is_done() {
        let (stats, mut meter) = (Stats::default(), Meter::new());
        Stats::add(&stats.files_found, 10);
        Stats::add(&stats.files_read, 4);
        Stats::add(&stats.digests_read, 1);
        Stats::add(&stats.events_indexed, 1000);
        let pace = meter.observe(Duration::from_secs(10), &stats);
        let text = line(&stats, pace);
        assert!(text.starts_with("files 5/10+ (listing) · "), "a digest is a file done: {text}");
        assert!(text.contains("100 events/s") && !text.contains("ETA"), "{text}");
        Stats::set_flag(&stats.listing_done);
        assert!(line(&stats, pace).ends_with("ETA 10s"), "{}", line(&stats, pace));
    }

    #[test]
    fn a_stall_shows_at_once_and_the_eta_does_not_grow() {
        let (stats, mut meter) = (Stats::default(), Meter::new());
        Stats::add(&stats.files_found, 100);
        Stats::set_flag(&stats.listing_done);
        for t in 1..=60 {
            Stats::add(&stats.events_indexed, 1000);
            Stats::add(&stats.files_read, 1);
            meter.observe(Duration::from_secs(t), &stats);
        }
        let pace = meter.observe(Duration::from_secs(61), &stats);
        assert!((pace.events_per_sec - 900.0).abs() < 1.0, "the window holds the pause: {pace:?}");
        // An outage: nothing settles for 20 s.
        let pace = meter.observe(Duration::from_secs(80), &stats);
        let text = line(&stats, pace);
        assert!(text.contains(" 0 events/s") && text.contains("no file finished"), "{text}");
        assert_eq!(meter.samples.len(), 2, "old samples are dropped");
    }

    #[test]
    fn the_bulk_concurrency_is_shown_with_a_cluster_output() {
        let stats = Stats::default();
        assert!(!counts(&stats, Pace::default()).contains("concurrency"), "a file output");
        stats.bulk_limit.store(2, Relaxed);
        stats.bulk_limit_max.store(4, Relaxed);
        assert!(counts(&stats, Pace::default()).ends_with(" · bulk concurrency 2/4"));
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(5.2), "5s");
        assert_eq!(human_duration(125.0), "2m05s");
        assert_eq!(human_duration(7300.0), "2h01m");
        assert_eq!(human_duration(81_553_211.0), "943d21h");
    }
}
