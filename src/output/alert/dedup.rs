//! Recently alerted events, so that a redelivered SQS message (or the same event arriving twice)
//! does not alert twice. Bounded: the oldest ids are forgotten first. It lives in the process: a
//! follower killed before its alerts were delivered has nothing to remember, and the redelivered
//! message alerts again, as it must.

use std::collections::{HashSet, VecDeque};

/// `(rule, document id)` pairs, at most `capacity` of them.
pub struct Recent {
    capacity: usize,
    order: VecDeque<(usize, String)>,
    set: HashSet<(usize, String)>,
}

impl Recent {
    /// Remembers up to `capacity` pairs.
    pub fn new(capacity: usize) -> Self {
        Recent { capacity: capacity.max(1), order: VecDeque::new(), set: HashSet::new() }
    }

    /// True when `rule` has already alerted (or is alerting) about `id`.
    pub fn contains(&self, rule: usize, id: &str) -> bool {
        self.set.contains(&(rule, id.to_string()))
    }

    /// Remembers the pair, forgetting the oldest one when full.
    pub fn insert(&mut self, rule: usize, id: &str) {
        let key = (rule, id.to_string());
        if self.set.insert(key.clone()) {
            self.order.push_back(key);
            if self.order.len() > self.capacity {
                if let Some(old) = self.order.pop_front() {
                    self.set.remove(&old);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_per_rule() {
        let mut r = Recent::new(2);
        r.insert(0, "a");
        r.insert(0, "a");
        r.insert(1, "a");
        assert!(r.contains(0, "a") && r.contains(1, "a") && !r.contains(2, "a"));
        r.insert(0, "b");
        assert!(!r.contains(0, "a"), "the oldest is forgotten");
        assert!(r.contains(1, "a") && r.contains(0, "b"));
    }
}
