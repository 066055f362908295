//! Tests of the tallies (`tally.rs`), kept apart so that file stays short.

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
    assert!(t.slots.len() < 2 * CAP);
    let table = t.table(1, Order::Count);
    assert_eq!(table.rows[0].key, ["heavy"]);
    let (count, bound) = (table.rows[0].count, table.error_bound);
    assert!(count >= 20_000 && count <= 20_000 + bound, "{count} ± {bound}");
    assert_eq!(table.others + count, 220_000, "totals stay exact");
}

#[test]
fn a_full_table_keeps_the_latest_newcomers_among_equals() {
    let mut t = Tally::default();
    // Keys seen once each, the later ones sorting first by text.
    for i in 0..2 * CAP as i64 {
        t.add(&format!("k{:06}", 1_000_000 - i), i);
    }
    assert_eq!(t.slots.len(), CAP);
    assert_eq!(t.floor, 1);
    let newest = t.table(3, Order::FirstSeen);
    let firsts: Vec<&str> = newest.rows.iter().map(|r| r.key[0].as_str()).collect();
    let last = 2 * CAP as i64 - 1;
    assert_eq!(firsts, [0, 1, 2].map(|n| format!("k{:06}", 1_000_000 - last + n)));
    assert!(t.slots.iter().all(|s| s.entry.first >= CAP as i64), "the older half went");
}

#[test]
fn a_full_table_keeps_its_size_through_compactions() {
    let mut t = Tally::default();
    for i in 0..300_000u64 {
        t.add(&format!("arn:aws:iam::111122223333:user/user-{i:09}"), i as i64);
        // Room for 2 × CAP keys: a table that doubled would hold nearly 6 × CAP.
        assert!(t.index.capacity() < 3 * CAP, "{} at {i}", t.index.capacity());
        assert!(t.slots.capacity() < 4 * CAP, "{} at {i}", t.slots.capacity());
    }
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
    // A key counted from its parts is the key counted from its text.
    let parts = ["alice", "s3", "x\u{fffd}y"];
    let hash = hash_parts(&parts.map(hash_text));
    a.add_parts(hash, &parts, 2);
    let mut one = Tally::default();
    one.add_parts(hash_text("bob"), &["bob"], 1);
    one.add("bob", 3);
    let (table, bob) = (a.table(5, Order::Count), one.table(5, Order::Count));
    assert_eq!((table.rows.len(), table.rows[0].count, table.rows[0].first_seen.is_none()), (1, 3, true));
    assert_eq!((bob.rows.len(), bob.rows[0].count), (1, 2));
}
