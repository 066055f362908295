//! Counting keys in bounded memory: exact while a table has at most [`CAP`] distinct keys, a
//! Space-Saving summary beyond.
//!
//! A report counts principals, addresses, keys, actions… and a trail can hold millions of distinct
//! ones, so no table may grow with them. A [`Tally`] keeps every key with its count and first
//! time while it has at most `2 × CAP`; past that it keeps the `CAP` most frequent (among equal
//! counts the latest first seen, which a first-seen table shows) and remembers the highest count
//! it dropped (`floor`). A key that comes back, or a new one, then starts at
//! `floor + 1`: its count may be too high by at most `floor`, but a key more frequent than `floor`
//! is never lost (the Space-Saving guarantee, Metwally et al. 2005, compacted in batches so that
//! an insert stays O(1) amortised). Such a table is marked approximate, with the bound. Totals
//! ("others") stay exact: they are counted apart.
//!
//! Distinct values are counted apart, in `distinct.rs`.

use super::model::{Row, Table};
use super::spec::Order;
use hashbrown::HashTable;
use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;

/// Keys a table keeps exactly; it holds up to twice this between compactions.
pub const CAP: usize = 10_000;

/// The hash of keys and distinct values: `foldhash` (the hasher `hashbrown` itself defaults to,
/// already in the tree), several times faster than the standard SipHash on short keys (that
/// hashing was some 18% of a report's time). Seeded at random once per process: the values are
/// the event's, attacker-controlled, so the seed (from the standard library's random keys) is not
/// guessable; and one seed for the process, so that the readers' tables merge by their stored
/// hashes and share the distinct sets.
fn hasher() -> &'static foldhash::fast::FixedState {
    static STATE: OnceLock<foldhash::fast::FixedState> = OnceLock::new();
    STATE.get_or_init(|| {
        let seed = std::collections::hash_map::RandomState::new().hash_one(0x5eed_u64);
        foldhash::fast::FixedState::with_seed(seed)
    })
}

/// The hash of one part of a key, or of a distinct value.
pub fn hash_text(text: &str) -> u64 {
    hasher().hash_one(text.as_bytes())
}

/// The hash of a key from the hashes of its parts ([`hash_text`] of each, with [`SEP`] already
/// replaced): a key of one part hashes as that part.
pub fn hash_parts(hashes: &[u64]) -> u64 {
    match hashes {
        [one] => *one,
        _ => {
            let mut h = hasher().build_hasher();
            for x in hashes {
                h.write_u64(*x);
            }
            h.finish()
        }
    }
}

/// The hash of a key made by [`key`].
fn hash_key(key: &str) -> u64 {
    let mut parts = [0u64; 8];
    let mut n = 0;
    let mut rest = key.split(SEP);
    for (slot, part) in parts.iter_mut().zip(&mut rest) {
        *slot = hash_text(part);
        n += 1;
    }
    if rest.next().is_some() {
        // More parts than any table has: hashed whole (such keys only meet each other).
        return hash_text(key);
    }
    hash_parts(&parts[..n])
}

/// Whether `key` (parts joined by [`SEP`]) is `parts` (none holding [`SEP`]).
fn same(key: &[u8], parts: &[&str]) -> bool {
    let joined = parts.iter().map(|p| p.len()).sum::<usize>() + parts.len().saturating_sub(1);
    if key.len() != joined {
        return false;
    }
    let mut at = 0;
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            if key[at] != SEP as u8 {
                return false;
            }
            at += 1;
        }
        if key[at..at + p.len()] != *p.as_bytes() {
            return false;
        }
        at += p.len();
    }
    true
}

/// Bytes of a key kept in its slot rather than on the heap.
const INLINE: usize = 30;

/// A key's text: a short one (an address, an access key, most names) in place, a longer one on
/// the heap. A table that churns through millions of new keys then allocates nothing for most.
#[derive(Debug)]
enum KeyText {
    Inline(u8, [u8; INLINE]),
    Heap(Box<str>),
}

impl KeyText {
    /// The key of `parts` (none holding [`SEP`]), joined by [`SEP`].
    fn of(parts: &[&str]) -> Self {
        let len = parts.iter().map(|p| p.len()).sum::<usize>() + parts.len().saturating_sub(1);
        if len > INLINE {
            return KeyText::Heap(parts.join("\u{1f}").into());
        }
        let mut bytes = [0u8; INLINE];
        let mut at = 0;
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                bytes[at] = SEP as u8;
                at += 1;
            }
            bytes[at..at + p.len()].copy_from_slice(p.as_bytes());
            at += p.len();
        }
        KeyText::Inline(len as u8, bytes)
    }

    fn bytes(&self) -> &[u8] {
        match self {
            KeyText::Inline(len, bytes) => &bytes[..usize::from(*len)],
            KeyText::Heap(text) => text.as_bytes(),
        }
    }

    /// The text (always UTF-8: it was made of whole texts and `SEP`).
    fn text(&self) -> &str {
        std::str::from_utf8(self.bytes()).unwrap_or_default()
    }
}

/// One key's count and first time (Unix seconds).
#[derive(Clone, Copy, Debug)]
struct Entry {
    count: u64,
    first: i64,
}

/// A key with its hash and counts.
#[derive(Debug)]
struct Slot {
    hash: u64,
    key: KeyText,
    entry: Entry,
}

/// A bounded count of keys: see the module docs.
///
/// Laid out as an index over a list (as `indexmap` is): the hash table holds 4-byte positions in
/// `slots`, where a new key is appended. Most keys of a busy trail are new (a session's key, an
/// address) and many are never seen again: appending touches memory in order, and the index
/// (some 100 KB for 2 × [`CAP`] keys) stays in the core's cache, where slots spread over a table of
/// a megabyte cost a cache miss or two per new key.
#[derive(Debug, Default)]
pub struct Tally {
    /// Positions in `slots`, by their keys' hashes (computed once per event by the caller, not once
    /// per table).
    index: HashTable<u32>,
    /// The keys with their counts, in the order they came (compactions keep that order).
    slots: Vec<Slot>,
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
        let hash = hash_key(key);
        self.count(hash, |k| k == key.as_bytes(), || KeyText::of(&[key]), n, time);
    }

    /// Counts one event with the key of `parts` (none holding [`SEP`]), whose hash is `hash`
    /// ([`hash_parts`]), at `time`: the key's text is only made when it is new. True when the key
    /// was not in the table (new, or dropped since it was last counted).
    pub fn add_parts(&mut self, hash: u64, parts: &[&str], time: i64) -> bool {
        self.count(hash, |k| same(k, parts), || KeyText::of(parts), 1, time)
    }

    fn count(
        &mut self,
        hash: u64,
        is: impl Fn(&[u8]) -> bool,
        make: impl FnOnce() -> KeyText,
        n: u64,
        time: i64,
    ) -> bool {
        self.total += n;
        let slots = &mut self.slots;
        // One probe finds the key or where it goes.
        let found = self.index.entry(
            hash,
            |&i| slots[i as usize].hash == hash && is(slots[i as usize].key.bytes()),
            |&i| slots[i as usize].hash,
        );
        match found {
            hashbrown::hash_table::Entry::Occupied(found) => {
                let s = &mut slots[*found.get() as usize];
                s.entry.count += n;
                s.entry.first = s.entry.first.min(time);
                return false;
            }
            hashbrown::hash_table::Entry::Vacant(place) => {
                // At most 2 × CAP slots: a position fits in 4 bytes.
                place.insert(slots.len() as u32);
                let entry = Entry { count: self.floor + n, first: time };
                slots.push(Slot { hash, key: make(), entry });
            }
        }
        if self.slots.len() >= 2 * CAP {
            self.compact();
        }
        true
    }

    /// Keeps the `CAP` first keys by [`rank`], raising the floor to the highest count dropped.
    /// A selection: the keys kept are not sorted, and stay in the order they came.
    fn compact(&mut self) {
        if self.slots.len() <= CAP {
            return;
        }
        let slots = &self.slots;
        let mut order: Vec<u32> = (0..slots.len() as u32).collect();
        order.select_nth_unstable_by(CAP - 1, |&a, &b| rank(&slots[a as usize], &slots[b as usize]));
        let dropped = order[CAP..].iter().map(|&i| slots[i as usize].entry.count).max().unwrap_or(0);
        let mut keep = vec![false; slots.len()];
        for &i in &order[..CAP] {
            keep[i as usize] = true;
        }
        self.floor = self.floor.max(dropped);
        let mut kept = keep.into_iter();
        self.slots.retain(|_| kept.next().unwrap_or(false));
        self.reindex();
    }

    /// Builds the index again from `slots` (its capacity kept: no allocation).
    fn reindex(&mut self) {
        self.index.clear();
        let slots = &self.slots;
        for (i, s) in slots.iter().enumerate() {
            self.index.insert_unique(s.hash, i as u32, |&j| slots[j as usize].hash);
        }
    }

    /// Adds another reader's counts to these.
    pub fn merge(&mut self, other: Tally) {
        self.total += other.total;
        self.floor += other.floor;
        for s in other.slots {
            let (hash, e) = (s.hash, s.entry);
            let slots = &mut self.slots;
            let found = self.index.find(hash, |&i| {
                let mine = &slots[i as usize];
                mine.hash == hash && mine.key.bytes() == s.key.bytes()
            });
            match found {
                Some(&i) => {
                    let mine = &mut slots[i as usize].entry;
                    mine.count += e.count;
                    mine.first = mine.first.min(e.first);
                }
                None => {
                    self.index.insert_unique(hash, slots.len() as u32, |&j| slots[j as usize].hash);
                    slots.push(s);
                }
            }
        }
        if self.slots.len() >= 2 * CAP {
            self.compact();
        }
    }

    /// The table: the first `rows` keys by `order` (split into their parts at `SEP`), the rest
    /// counted as others.
    pub fn table(&self, rows: usize, order: Order) -> Table {
        let mut entries: Vec<(&str, Entry)> = self.slots.iter().map(|s| (s.key.text(), s.entry)).collect();
        let cmp: fn(&Ranked, &Ranked) -> std::cmp::Ordering = match order {
            Order::Count => |a, b| b.1.count.cmp(&a.1.count).then_with(|| a.0.cmp(b.0)),
            Order::FirstSeen => |a, b| b.1.first.cmp(&a.1.first).then_with(|| a.0.cmp(b.0)),
        };
        // The rows shown are selected, then only they are sorted (a table holds up to 2 × CAP keys).
        if entries.len() > rows {
            entries.select_nth_unstable_by(rows, cmp);
            entries.truncate(rows);
        }
        entries.sort_unstable_by(cmp);
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

/// A key's text and counts, as a table ranks them.
type Ranked<'a> = (&'a str, Entry);

/// The order in which a full table keeps its keys: the most frequent first; among equals the
/// latest first seen (what a first-seen table shows; and a newcomer has had the less time to
/// count), then by key (each key once: no two rank alike).
fn rank(a: &Slot, b: &Slot) -> std::cmp::Ordering {
    b.entry
        .count
        .cmp(&a.entry.count)
        .then(b.entry.first.cmp(&a.entry.first))
        .then_with(|| a.key.bytes().cmp(b.key.bytes()))
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

#[cfg(test)]
#[path = "tally_tests.rs"]
mod tests;
