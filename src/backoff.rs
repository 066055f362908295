//! When and how long to wait before trying again: the one backoff policy of the tool.
//!
//! Exponential backoff with jitter, and a bounded total patience after which the caller gives up
//! (what that means is the caller's: the bulk output stops retrying a batch, follow stops waiting
//! for a cluster that never answers). Every retry loop — `_bulk` requests, follow's wait for its
//! cluster, SQS receives, S3 downloads — takes its waits from a [`Backoff`]; what is worth
//! retrying is decided by each caller (e.g. `output/elasticsearch/response.rs`).

use rand::Rng;
use std::time::{Duration, Instant};

/// Backoff settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// Wait before the first retry.
    pub initial: Duration,
    /// The longest single wait.
    pub max_delay: Duration,
    /// How long something may keep failing before the caller gives up (`Duration::MAX`: never).
    pub patience: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(200),
            max_delay: Duration::from_secs(30),
            patience: Duration::from_secs(300),
        }
    }
}

impl Backoff {
    /// Waits from `initial` up to `max_delay`, with no limit on patience.
    pub const fn unbounded(initial: Duration, max_delay: Duration) -> Self {
        Backoff { initial, max_delay, patience: Duration::MAX }
    }

    /// The wait before retry number `attempt` (1-based): doubling, capped, with "equal jitter"
    /// (between half and all of it) so that many clients do not retry in step.
    pub fn delay(&self, attempt: u32) -> Duration {
        let exp = self.initial.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let capped = exp.min(self.max_delay);
        let half = capped / 2;
        half + half.mul_f64(rand::rng().random::<f64>())
    }

    /// True when waiting `next` more, after starting at `started`, would exceed the patience.
    pub fn exhausted(&self, started: Instant, next: Duration) -> bool {
        started.elapsed().saturating_add(next) > self.patience
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_stay_within_bounds() {
        let p = Backoff {
            initial: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            ..Default::default()
        };
        for attempt in 1..40 {
            let full = Duration::from_millis(100)
                .saturating_mul(1 << (attempt - 1).min(16))
                .min(Duration::from_secs(1));
            let d = p.delay(attempt);
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?} vs {full:?}");
        }
    }

    #[test]
    fn patience_runs_out() {
        let p = Backoff { patience: Duration::from_secs(10), ..Default::default() };
        assert!(!p.exhausted(Instant::now(), Duration::from_secs(5)));
        assert!(p.exhausted(Instant::now(), Duration::from_secs(11)));
    }
}
