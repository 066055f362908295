//! How the report's tables map onto tallies and fields, worked out at compile time from `spec.rs`:
//! which scope each table counts in, which tables share a tally, which fields are hashed as
//! keys, which distinct count a tally feeds.
//!
//! Why apart from `aggregate.rs`: these are facts about the report's definition, not about
//! counting; computed once by the compiler, they leave the per-event code only index lookups.

use super::spec::{Scope, TableSpec, DISTINCT, FIELDS, SCOPES, TABLES};

/// The index in [`SCOPES`] of `scope`.
pub(super) const fn scope_index(scope: Scope) -> usize {
    let mut i = 0;
    while i < SCOPES.len() {
        if SCOPES[i].0 as u8 == scope as u8 {
            return i;
        }
        i += 1;
    }
    panic!("every scope is in SCOPES")
}

/// The index in [`SCOPES`] of each table's scope, by [`TABLES`] index.
pub(super) const TABLE_SCOPES: [usize; TABLES.len()] = {
    let mut out = [0; TABLES.len()];
    let mut i = 0;
    while i < TABLES.len() {
        out[i] = scope_index(TABLES[i].scope);
        i += 1;
    }
    out
};

/// Whether two tables count the same keys of the same events (they differ only in the rows
/// shown: `principals` and `new_principals`, `source_ips` and `new_ips`): one tally serves both,
/// the same numbers for a lookup less per event.
const fn same_counts(a: &TableSpec, b: &TableSpec) -> bool {
    if a.scope as u8 != b.scope as u8 || a.dims.len() != b.dims.len() {
        return false;
    }
    let mut i = 0;
    while i < a.dims.len() {
        if a.dims[i] as usize != b.dims[i] as usize {
            return false;
        }
        i += 1;
    }
    match (a.missing, b.missing) {
        (None, None) => true,
        (Some(x), Some(y)) => same_text(x, y),
        _ => false,
    }
}

/// By [`TABLES`] index, the first table counting the same as it (itself, mostly): whose tally
/// it reads.
pub(super) const TALLY_OF: [usize; TABLES.len()] = {
    let mut out = [0; TABLES.len()];
    let mut i = 0;
    while i < TABLES.len() {
        let mut j = 0;
        while !same_counts(&TABLES[j], &TABLES[i]) {
            j += 1;
        }
        out[i] = j;
        i += 1;
    }
    out
};

/// By [`F`] index, whether a table or a distinct count is keyed by the field (only those are
/// hashed).
pub(super) const KEYED: [bool; FIELDS.len()] = {
    let mut out = [false; FIELDS.len()];
    let mut i = 0;
    while i < TABLES.len() {
        let mut d = 0;
        while d < TABLES[i].dims.len() {
            out[TABLES[i].dims[d] as usize] = true;
            d += 1;
        }
        i += 1;
    }
    let mut i = 0;
    while i < DISTINCT.len() {
        out[DISTINCT[i].1 as usize] = true;
        i += 1;
    }
    out
};

/// The index in [`SCOPES`] of the launches.
pub(super) const LAUNCH_SCOPE: usize = scope_index(Scope::Launch);

/// `a == b`, in a `const` context.
const fn same_text(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() && a[i] == b[i] {
        i += 1;
    }
    i == a.len()
}

/// By [`TABLES`] index, the [`DISTINCT`] count whose values are the keys of the table's tally
/// (the tally of the table it names): a value is new to the distinct set only if its key is new
/// to the tally, so it is passed to the set only then.
pub(super) const DISTINCT_OF: [Option<usize>; TABLES.len()] = {
    let mut out = [None; TABLES.len()];
    let mut d = 0;
    while d < DISTINCT.len() {
        let mut t = 0;
        while !same_text(TABLES[t].id, DISTINCT[d].2) {
            t += 1;
        }
        out[TALLY_OF[t]] = Some(d);
        d += 1;
    }
    out
};
