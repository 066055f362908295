//! Adaptive concurrency: how many bulk requests may be in flight, learnt from the cluster's answers.
//!
//! A fixed number is wrong both ways: too many for a small managed domain (429s, then every batch
//! retrying at once: a retry storm), too few for a big cluster. So the limit moves the way TCP's
//! congestion window does (and Vector's adaptive request concurrency), within 1 and
//! `--bulk-concurrency`:
//!
//! - it starts at 1 and, while nothing pushes back, grows by one per good answer (slow start:
//!   doubling per round trip), then, after the first cut, by one per `limit` good answers
//!   (additive increase: about one per round trip). It grows only when every permit was in use
//!   while the request was out: an idle allowance says nothing about what the cluster can take;
//! - a *pushback* halves it (multiplicative decrease), at most once per round trip: only an answer
//!   to a request sent after the last cut cuts again. A pushback is a 429 or 503 (also 502/504,
//!   what a managed domain's gateway answers when overloaded), an item refused with 429 or 503
//!   inside a 200, or no answer at all;
//! - a *slow* answer cuts too: a round trip more than [`SLOW_FACTOR`] times the smoothed one (and
//!   [`SLOW_MARGIN`] above it) means the cluster queues the requests;
//! - pushbacks in a row make every batch wait the backoff of the streak ([`Concurrency::delay`]),
//!   not of its own attempts, and a permit is held during a batch's wait. With the limit at 1 the
//!   cluster thus sees at most one request per backoff interval, whichever batch sends it, until
//!   it answers well again.
//!
//! The permits are a fair (FIFO) semaphore; a cut takes back free permits at once and the others
//! when they are returned ("debt"), so a batch in its retry loop gives its permit back between
//! attempts and waits its turn like the rest.

use crate::backoff::Backoff;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::{Semaphore, SemaphorePermit};

/// A round trip this many times the smoothed one is slow...
pub const SLOW_FACTOR: f64 = 2.0;
/// ...when it is also this much above it (a few ms of jitter on a fast cluster is not queueing).
pub const SLOW_MARGIN: Duration = Duration::from_millis(100);
/// Good answers seen before round trips are judged.
const WARM_UP: u32 = 5;
/// Weight of a new round trip in the smoothed one.
const ALPHA: f64 = 0.2;

/// What an answer says about the cluster's load.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Signal {
    /// Answered, in this round trip, with nothing refused for load.
    Answered(Duration),
    /// Busy: 429/502/503/504, items refused with 429/503, or no answer.
    Pushback,
    /// Says nothing about load (a 4xx, a 413): changes nothing.
    Neutral,
}

/// The limit and the permits for it.
pub struct Concurrency {
    max: usize,
    permits: Semaphore,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    limit: usize,
    in_flight: usize,
    /// Permits to forget when returned (the limit was cut below what was out).
    debt: usize,
    slow_start: bool,
    /// Good saturated answers since the last increase (additive increase).
    credit: usize,
    /// Pushbacks in a row.
    streak: u32,
    /// Bumped by each cut: an answer to a request sent before a cut does not cut again.
    epoch: u64,
    /// Smoothed round trip, seconds, and how many good answers it has seen.
    rtt: f64,
    samples: u32,
    /// How many admissions found every permit in use (the limit was the bound).
    fills: u64,
}

/// The right to send one request; returned when dropped.
pub struct Permit<'a> {
    owner: &'a Concurrency,
    permit: Option<SemaphorePermit<'a>>,
    epoch: u64,
    /// `fills` before this admission: more at its answer means the limit was in full use meanwhile.
    mark: u64,
}

impl Concurrency {
    /// A limit starting at 1, at most `max`.
    pub fn new(max: usize) -> Self {
        let state = State {
            limit: 1,
            in_flight: 0,
            debt: 0,
            slow_start: true,
            credit: 0,
            streak: 0,
            epoch: 0,
            rtt: 0.0,
            samples: 0,
            fills: 0,
        };
        Concurrency { max: max.max(1), permits: Semaphore::new(1), state: Mutex::new(state) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current limit.
    pub fn limit(&self) -> usize {
        self.lock().limit
    }

    /// The upper bound (`--bulk-concurrency`).
    pub fn max(&self) -> usize {
        self.max
    }

    /// Waits for a permit (first come, first served).
    pub async fn acquire(&self) -> Permit<'_> {
        let permit = self.permits.acquire().await.expect("the semaphore is never closed");
        self.admitted(permit)
    }

    /// A permit if one is free now.
    pub fn try_acquire(&self) -> Option<Permit<'_>> {
        self.permits.try_acquire().ok().map(|p| self.admitted(p))
    }

    fn admitted<'a>(&'a self, permit: SemaphorePermit<'a>) -> Permit<'a> {
        let mut s = self.lock();
        let mark = s.fills;
        s.in_flight += 1;
        if s.in_flight >= s.limit {
            s.fills += 1;
        }
        Permit { owner: self, permit: Some(permit), epoch: s.epoch, mark }
    }

    /// How long a batch waits before its retry number `attempt`: the backoff of its own attempts
    /// or of the pushbacks in a row, whichever is longer.
    pub fn delay(&self, backoff: &Backoff, attempt: u32) -> Duration {
        backoff.delay(attempt.max(self.lock().streak))
    }

    /// Learns from the answer to the request sent under `permit`; returns the new limit when it
    /// changed.
    pub fn record(&self, permit: &Permit<'_>, signal: Signal) -> Option<usize> {
        let mut s = self.lock();
        let before = s.limit;
        match signal {
            Signal::Neutral => return None,
            Signal::Pushback => {
                s.streak = s.streak.saturating_add(1);
                if permit.epoch == s.epoch {
                    self.cut(&mut s);
                }
            }
            Signal::Answered(rtt) => {
                s.streak = 0;
                let rtt = rtt.as_secs_f64();
                let slow = s.samples >= WARM_UP
                    && rtt > s.rtt * SLOW_FACTOR
                    && rtt - s.rtt > SLOW_MARGIN.as_secs_f64();
                s.rtt = if s.samples == 0 { rtt } else { s.rtt + ALPHA * (rtt - s.rtt) };
                s.samples = s.samples.saturating_add(1);
                if slow {
                    if permit.epoch == s.epoch {
                        self.cut(&mut s);
                    }
                } else if s.fills > permit.mark && s.limit < self.max {
                    s.credit += 1;
                    if s.slow_start || s.credit >= s.limit {
                        s.credit = 0;
                        self.grow(&mut s);
                    }
                }
            }
        }
        (s.limit != before).then_some(s.limit)
    }

    fn grow(&self, s: &mut State) {
        s.limit += 1;
        if s.debt > 0 {
            s.debt -= 1;
        } else {
            self.permits.add_permits(1);
        }
    }

    fn cut(&self, s: &mut State) {
        s.epoch += 1;
        s.slow_start = false;
        s.credit = 0;
        let target = (s.limit / 2).max(1);
        for _ in target..s.limit {
            match self.permits.try_acquire() {
                Ok(free) => free.forget(),
                Err(_) => s.debt += 1,
            }
        }
        s.limit = target;
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut s = self.owner.lock();
        s.in_flight -= 1;
        if let Some(permit) = self.permit.take() {
            if s.debt > 0 {
                s.debt -= 1;
                permit.forget();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: Signal = Signal::Answered(Duration::from_millis(10));

    /// Takes every free permit.
    fn all(c: &Concurrency) -> Vec<Permit<'_>> {
        std::iter::from_fn(|| c.try_acquire()).collect()
    }

    /// One round trip with every permit in use and good answers.
    fn good_round(c: &Concurrency) {
        let held = all(c);
        for p in &held {
            c.record(p, FAST);
        }
    }

    #[test]
    fn slow_start_doubles_per_round_up_to_the_bound() {
        let c = Concurrency::new(6);
        assert_eq!(c.limit(), 1);
        let mut seen = vec![];
        for _ in 0..5 {
            good_round(&c);
            seen.push(c.limit());
        }
        assert_eq!(seen, [2, 4, 6, 6, 6]);
        assert_eq!(all(&c).len(), 6, "as many permits as the limit");
    }

    #[test]
    fn an_allowance_not_used_does_not_grow() {
        let c = Concurrency::new(8);
        good_round(&c);
        good_round(&c);
        assert_eq!(c.limit(), 4);
        for _ in 0..10 {
            let one = c.try_acquire().unwrap();
            c.record(&one, FAST);
        }
        assert_eq!(c.limit(), 4, "one request at a time says nothing about four");
    }

    #[test]
    fn a_pushback_halves_once_per_round_trip_and_sustained_pushback_reaches_one() {
        let c = Concurrency::new(8);
        for _ in 0..3 {
            good_round(&c);
        }
        assert_eq!(c.limit(), 8);
        let held = all(&c);
        assert_eq!(c.record(&held[0], Signal::Pushback), Some(4));
        for p in &held[1..] {
            assert_eq!(c.record(p, Signal::Pushback), None, "sent before the cut: no second cut");
        }
        drop(held);
        assert_eq!(all(&c).len(), 4, "the permits out were taken back when returned");
        let mut limits = vec![];
        for _ in 0..4 {
            let held = all(&c);
            for p in &held {
                c.record(p, Signal::Pushback);
            }
            limits.push(c.limit());
        }
        assert_eq!(limits, [2, 1, 1, 1]);
        assert_eq!(all(&c).len(), 1);
    }

    #[test]
    fn after_a_cut_the_limit_grows_by_one_per_round_trip() {
        let c = Concurrency::new(10);
        for _ in 0..3 {
            good_round(&c);
        }
        assert_eq!(c.limit(), 8);
        let p = c.try_acquire().unwrap();
        c.record(&p, Signal::Pushback);
        drop(p);
        assert_eq!(c.limit(), 4);
        let mut limits = vec![];
        for _ in 0..4 {
            good_round(&c);
            limits.push(c.limit());
        }
        assert_eq!(limits, [5, 6, 7, 8], "additive now, not doubling");
    }

    #[test]
    fn a_cut_below_the_permits_out_holds_new_requests_back() {
        let c = Concurrency::new(4);
        good_round(&c);
        good_round(&c);
        let held = all(&c);
        assert_eq!(held.len(), 4);
        c.record(&held[0], Signal::Pushback);
        assert_eq!(c.limit(), 2);
        let mut held = held.into_iter();
        drop(held.next());
        drop(held.next());
        assert!(c.try_acquire().is_none(), "two still out, the limit is two");
        drop(held.next());
        assert!(c.try_acquire().is_some());
    }

    #[test]
    fn a_slow_round_trip_cuts_and_becomes_the_new_normal() {
        let c = Concurrency::new(4);
        for _ in 0..3 {
            good_round(&c);
        }
        assert_eq!(c.limit(), 4);
        let held = all(&c);
        c.record(&held[0], Signal::Answered(Duration::from_millis(15)));
        assert_eq!(c.limit(), 4, "jitter is not queueing");
        c.record(&held[1], Signal::Answered(Duration::from_millis(900)));
        assert_eq!(c.limit(), 2, "a round trip far above the usual one is");
        drop(held);
        for _ in 0..40 {
            let p = all(&c);
            for p in &p {
                c.record(p, Signal::Answered(Duration::from_millis(900)));
            }
        }
        assert_eq!(c.limit(), 4, "slow but steady grows back");
    }

    #[test]
    fn pushbacks_in_a_row_set_the_wait_and_a_good_answer_resets_it() {
        let b = Backoff {
            initial: Duration::from_millis(100),
            max_delay: Duration::from_secs(10),
            ..Default::default()
        };
        let c = Concurrency::new(2);
        let p = c.try_acquire().unwrap();
        for _ in 0..5 {
            c.record(&p, Signal::Pushback);
        }
        let d = c.delay(&b, 1);
        assert!(d >= Duration::from_millis(800), "the streak's backoff (5: 0.8–1.6 s): {d:?}");
        c.record(&p, Signal::Neutral);
        assert!(c.delay(&b, 1) >= Duration::from_millis(800), "a neutral answer keeps the streak");
        c.record(&p, FAST);
        assert!(c.delay(&b, 1) <= Duration::from_millis(100), "answered: the batch's own backoff");
    }

    #[tokio::test]
    async fn waiters_are_served_in_order_and_wait_for_a_returned_permit() {
        let c = Concurrency::new(1);
        let first = c.acquire().await;
        let second = c.acquire();
        tokio::pin!(second);
        assert!(futures::poll!(&mut second).is_pending());
        drop(first);
        let _second = second.await;
        assert!(c.try_acquire().is_none());
    }
}
