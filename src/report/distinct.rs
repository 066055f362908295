//! Counting distinct values exactly, in bounded memory: a set of 64-bit hashes per dimension
//! (principals, access keys, addresses…), shared by the reader threads, exact up to
//! [`DISTINCT_CAP`] values and "at least" beyond.
//!
//! Why hashes, not the values: a million principals' ARNs take some 100 MB, their hashes 8 bytes
//! each. Two values that hash alike would count once; with 64-bit hashes (seeded per process, see
//! `tally.rs`) the chance that any two of four million do is under one in a million.

use super::tally::hash_text;
use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Mutex;

/// Distinct values counted exactly per dimension (8 bytes each, about 18 bytes with the set's
/// overhead: 4 million take some 75 MB at most).
pub const DISTINCT_CAP: usize = 4_000_000;

/// A hasher that passes a `u64` through (the values are hashes already).
#[derive(Default)]
pub struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Distinct values of one dimension, shared by the readers (each buffers its hashes).
#[derive(Debug, Default)]
pub struct Distinct {
    set: Mutex<(HashSet<u64, BuildHasherDefault<Identity>>, bool)>,
}

impl Distinct {
    /// The hash a value is counted by.
    pub fn hash(value: &str) -> u64 {
        hash_text(value)
    }

    /// Adds a reader's buffered hashes (and empties the buffer).
    pub fn add(&self, hashes: &mut Vec<u64>) {
        let mut guard = self.set.lock().unwrap_or_else(|p| p.into_inner());
        let (set, full) = &mut *guard;
        for h in hashes.drain(..) {
            if set.len() < DISTINCT_CAP {
                set.insert(h);
            } else if !set.contains(&h) {
                *full = true;
            }
        }
    }

    /// How many, and whether exactly (false: at least that many).
    pub fn count(&self) -> (u64, bool) {
        let guard = self.set.lock().unwrap_or_else(|p| p.into_inner());
        (guard.0.len() as u64, !guard.1)
    }
}

#[cfg(test)]
mod tests {
    use super::Distinct;

    #[test]
    fn each_value_counts_once() {
        let d = Distinct::default();
        d.add(&mut vec![Distinct::hash("a"), Distinct::hash("b"), Distinct::hash("a")]);
        assert_eq!(d.count(), (2, true));
    }
}
