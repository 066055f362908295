//! When and how long to wait before trying again.
//!
//! Exponential backoff with jitter, and a bounded total patience after which what still fails is
//! dead-lettered rather than retried for ever. What is worth retrying is decided in `bulk.rs`;
//! this file only decides how long to wait.

use rand::Rng;
use std::time::{Duration, Instant};

/// Backoff settings.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Wait before the first retry.
    pub initial: Duration,
    /// The longest single wait.
    pub max_delay: Duration,
    /// How long a batch may keep failing before its remaining items are dead-lettered.
    pub patience: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            initial: Duration::from_millis(200),
            max_delay: Duration::from_secs(30),
            patience: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
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
        started.elapsed() + next > self.patience
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_stay_within_bounds() {
        let p = RetryPolicy {
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
        let p = RetryPolicy { patience: Duration::from_secs(10), ..Default::default() };
        assert!(!p.exhausted(Instant::now(), Duration::from_secs(5)));
        assert!(p.exhausted(Instant::now(), Duration::from_secs(11)));
    }
}
