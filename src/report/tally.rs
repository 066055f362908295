//! Counting keys in bounded memory: exact while a table has at most [`CAP`] distinct keys, a
//! Space-Saving summary beyond.
//!
//! A report counts principals, addresses, keys, actions… and a trail can hold millions of distinct
//! ones, so no table may grow with them. A [`Tally`] keeps every key with its count and first
//! time while it has at most `2 × CAP`; past that it keeps the `CAP` most frequent and remembers
//! the highest count it dropped (`floor`). A key that comes back, or a new one, then starts at
//! `floor + 1`: its count may be too high by at most `floor`, but a key more frequent than `floor`
//! is never lost (the Space-Saving guarantee, Metwally et al. 2005, compacted in batches so that
//! an insert stays O(1) amortised). Such a table is marked approximate, with the bound. Totals
//! ("others") stay exact: they are counted apart.
//!
//! [`Distinct`] counts distinct values exactly (a set of 64-bit hashes, shared by the readers) up
//! to [`DISTINCT_CAP`], and says "at least" beyond.

use super::model::{Row, Table};
use super::spec::Order;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, DefaultHasher, Hash, Hasher};
use std::sync::Mutex;

/// Keys a table keeps exactly; it holds up to twice this between compactions.
pub const CAP: usize = 10_000;

/// Distinct values counted exactly per dimension (8 bytes each, about 18 bytes with the set's
/// overhead: 4 million take some 75 MB at most).
pub const DISTINCT_CAP: usize = 4_000_000;

/// One key's count and first time (Unix seconds).
#[derive(Clone, Copy, Debug)]
struct Entry {
    count: u64,
    first: i64,
}

/// A bounded count of keys: see the module docs.
#[derive(Debug, Default)]
pub struct Tally {
    map: HashMap<Box<str>, Entry>,
    /// Events counted (every add, kept or not).
    total: u64,
    /// The highest count dropped by a compaction (0: the table is exact).
    floor: u64,
}

impl Tally {
    /// Counts one event with `key` at `time`.
    pub fn add(&mut self, key: &str, time: i64) {
        self.add_n(key, 1, time);
    }

    /// Counts `n` events with `key`, the first at `time`.
    pub fn add_n(&mut self, key: &str, n: u64, time: i64) {
        self.total += n;
        if let Some(e) = self.map.get_mut(key) {
            e.count += n;
            e.first = e.first.min(time);
            return;
        }
        self.map.insert(key.into(), Entry { count: self.floor + n, first: time });
        if self.map.len() >= 2 * CAP {
            self.compact();
        }
    }

    /// Keeps the `CAP` most frequent keys, raising the floor to the highest count dropped.
    fn compact(&mut self) {
        let mut entries: Vec<(Box<str>, Entry)> = self.map.drain().collect();
        entries.sort_unstable_by(|a, b| b.1.count.cmp(&a.1.count).then_with(|| a.0.cmp(&b.0)));
        for (_, e) in entries.iter().skip(CAP) {
            self.floor = self.floor.max(e.count);
        }
        entries.truncate(CAP);
        self.map.extend(entries);
    }

    /// Adds another reader's counts to these.
    pub fn merge(&mut self, other: Tally) {
        self.total += other.total;
        self.floor += other.floor;
        for (key, e) in other.map {
            let mine = self.map.entry(key).or_insert(Entry { count: 0, first: e.first });
            mine.count += e.count;
            mine.first = mine.first.min(e.first);
        }
        if self.map.len() >= 2 * CAP {
            self.compact();
        }
    }

    /// The table: the first `rows` keys by `order` (split into their parts at `SEP`), the rest
    /// counted as others.
    pub fn table(&self, rows: usize, order: Order) -> Table {
        let mut entries: Vec<(&str, Entry)> = self.map.iter().map(|(k, e)| (&**k, *e)).collect();
        match order {
            Order::Count => {
                entries.sort_unstable_by(|a, b| b.1.count.cmp(&a.1.count).then_with(|| a.0.cmp(b.0)))
            }
            Order::FirstSeen => {
                entries.sort_unstable_by(|a, b| b.1.first.cmp(&a.1.first).then_with(|| a.0.cmp(b.0)))
            }
        }
        entries.truncate(rows);
        let shown: u64 = entries.iter().map(|(_, e)| e.count).sum();
        Table {
            rows: entries
                .into_iter()
                .map(|(k, e)| Row {
                    key: k.split(SEP).map(str::to_string).collect(),
                    count: e.count,
                    first_seen: (order == Order::FirstSeen).then(|| super::model::time_text(e.first)),
                })
                .collect(),
            others: self.total.saturating_sub(shown),
            error_bound: self.floor,
        }
    }
}

/// Between the parts of a composite key (a value holding it has it replaced, see [`key`]).
pub const SEP: char = '\u{1f}';

/// The key of `parts` in a [`Tally`].
pub fn key(parts: &[&str], out: &mut String) {
    out.clear();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            out.push(SEP);
        }
        if p.contains(SEP) {
            out.push_str(&p.replace(SEP, "\u{fffd}"));
        } else {
            out.push_str(p);
        }
    }
}

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
        let mut h = DefaultHasher::new();
        value.hash(&mut h);
        h.finish()
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
    use super::*;

    #[test]
    fn exact_under_the_cap_with_others_and_first_times() {
        let mut t = Tally::default();
        for (k, time) in [("b", 5), ("a", 9), ("b", 3), ("c", 1), ("a", 2), ("b", 7)] {
            t.add(k, time);
        }
        let table = t.table(2, Order::Count);
        let rows: Vec<(String, u64)> = table.rows.iter().map(|r| (r.key[0].clone(), r.count)).collect();
        assert_eq!(rows, [("b".into(), 3), ("a".into(), 2)]);
        assert_eq!((table.others, table.error_bound), (1, 0));
        let newest = t.table(3, Order::FirstSeen);
        let firsts: Vec<&str> = newest.rows.iter().map(|r| r.key[0].as_str()).collect();
        assert_eq!(firsts, ["b", "a", "c"], "first seen 3, 2, 1");
    }

    #[test]
    fn heavy_hitters_survive_many_distinct_keys_in_bounded_memory() {
        let mut t = Tally::default();
        for i in 0..200_000u64 {
            t.add(&format!("noise-{i}"), 0);
            if i % 10 == 0 {
                t.add("heavy", 0);
            }
        }
        assert!(t.map.len() < 2 * CAP);
        let table = t.table(1, Order::Count);
        assert_eq!(table.rows[0].key, ["heavy"]);
        let (count, bound) = (table.rows[0].count, table.error_bound);
        assert!(count >= 20_000 && count <= 20_000 + bound, "{count} ± {bound}");
        assert_eq!(table.others + count, 220_000, "totals stay exact");
    }

    #[test]
    fn merged_readers_add_up_and_keys_split() {
        let (mut a, mut b) = (Tally::default(), Tally::default());
        let mut k = String::new();
        key(&["alice", "s3", "x\u{1f}y"], &mut k);
        a.add(&k, 10);
        b.add(&k, 4);
        a.merge(b);
        let table = a.table(5, Order::Count);
        assert_eq!(table.rows[0].key, ["alice", "s3", "x\u{fffd}y"]);
        assert_eq!(table.rows[0].count, 2);
        let d = Distinct::default();
        d.add(&mut vec![Distinct::hash("a"), Distinct::hash("b"), Distinct::hash("a")]);
        assert_eq!(d.count(), (2, true));
    }
}
