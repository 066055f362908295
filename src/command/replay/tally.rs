//! What `replay` counts by line (the output's own counters are in [`crate::stats::Stats`]), and
//! the writing back of letters that could not be delivered: whole, into the new dead-letter file,
//! so that nothing the input held is only in the input.

use crate::output::batch::ActionLine;
use crate::output::dead_letter::{DeadLetter, DeadLetters, Payload};
use crate::source::dead_letter_reader::{Kept, Letter};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use tracing::error;

/// Line numbers shown in the summary, per kind.
const SHOWN: usize = 20;

/// A count of lines, and the first few of their numbers.
#[derive(Debug, Default)]
pub struct Lines {
    count: AtomicU64,
    first: Mutex<Vec<u64>>,
}

impl Lines {
    /// Counts line `n`.
    pub fn add(&self, n: u64) {
        self.count.fetch_add(1, Relaxed);
        if let Ok(mut first) = self.first.lock() {
            if first.len() < SHOWN {
                first.push(n);
            }
        }
    }

    /// How many.
    pub fn count(&self) -> u64 {
        self.count.load(Relaxed)
    }

    /// `(lines 3, 7, 9 and 12 more)`, or nothing when there are none.
    pub fn shown(&self) -> String {
        let count = self.count();
        let mut first = self.first.lock().map(|f| f.clone()).unwrap_or_default();
        if count == 0 {
            return String::new();
        }
        first.sort_unstable();
        let list: Vec<String> = first.iter().map(u64::to_string).collect();
        let word = if count == 1 { "line" } else { "lines" };
        let more = count.saturating_sub(first.len() as u64);
        let more = if more > 0 { format!(" and {more} more") } else { String::new() };
        format!(" ({word} {}{more})", list.join(", "))
    }
}

/// Replay's counts by line.
#[derive(Debug, Default)]
pub struct Tally {
    /// Lines that are not letters.
    pub invalid: Lines,
    /// Letters that do not hold their event (`raw_withheld`, `truncated`).
    pub not_replayable: Lines,
    /// Letters refused again (their new letters are in the new file).
    pub refused: Lines,
    /// Letters not delivered (no cluster, or it did not answer in time), written back whole.
    pub unavailable: Lines,
    /// Letters that could not even be written back (they are still in the input).
    pub lost: Lines,
}

/// Letters written back to the new file, whole, a few hundred per write (each write is synced).
pub struct Rewriter {
    dead: Arc<DeadLetters>,
    tally: Arc<Tally>,
    waiting: Vec<(u64, Letter)>,
}

/// Letters gathered before one write.
const PER_WRITE: usize = 500;

impl Rewriter {
    /// Writes to `dead`, counting in `tally`.
    pub fn new(dead: Arc<DeadLetters>, tally: Arc<Tally>) -> Self {
        Rewriter { dead, tally, waiting: Vec::new() }
    }

    /// The counts it writes into.
    pub fn tally(&self) -> &Tally {
        &self.tally
    }

    /// Line `n`'s letter was not delivered: it goes to the new file.
    pub fn push(&mut self, n: u64, letter: Letter) {
        self.waiting.push((n, letter));
        if self.waiting.len() >= PER_WRITE {
            self.flush();
        }
    }

    /// Writes what is waiting.
    pub fn flush(&mut self) {
        if self.waiting.is_empty() {
            return;
        }
        let letters = self.waiting.iter().map(|(_, l)| DeadLetter {
            file: &l.file,
            reason: &l.reason,
            status: l.status,
            action: l.action.as_deref().map(ActionLine::Verbatim),
            event: match &l.event {
                Kept::Document(document) => Payload::Json(document),
                Kept::Raw(bytes) => Payload::Raw(bytes),
                // Not replayable, so never waiting here; kept withheld were one to come.
                Kept::Withheld | Kept::Truncated => Payload::withheld(0),
            },
        });
        let written = self.dead.write_all(letters);
        let lines = match &written {
            Ok(()) => &self.tally.unavailable,
            Err(e) => {
                error!(
                    letters = self.waiting.len(),
                    "cannot write letters back to {}: {e}; they are only in the input",
                    self.dead.path().display()
                );
                &self.tally.lost
            }
        };
        for (n, _) in self.waiting.drain(..) {
            lines.add(n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_show_the_first_numbers_and_how_many_more() {
        let lines = Lines::default();
        assert_eq!(lines.shown(), "");
        lines.add(7);
        assert_eq!(lines.shown(), " (line 7)");
        for n in (1..=30).rev() {
            lines.add(n * 100);
        }
        assert_eq!(lines.count(), 31);
        assert!(lines.shown().starts_with(" (lines 7, 1200, 1300,"), "{}", lines.shown());
        assert!(lines.shown().ends_with("3000 and 11 more)"), "{}", lines.shown());
    }
}
