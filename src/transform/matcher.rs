//! Many field paths compiled into one automaton, so the event walker pays one small table lookup
//! per key, whatever the number of rules.
//!
//! The walker keeps one [`StateId`] per open object or array: the state says which rules could
//! still match below, and which match right here. Stepping is by key ([`Matcher::key`]) or by array
//! element ([`Matcher::element`]). The automaton is built once, at start, by the subset
//! construction over the paths' segments (a deterministic automaton: no per-key set arithmetic at
//! run time). State [`DEAD`] means "nothing can match here or below", which lets the walker skip a
//! whole subtree with its fast validating scanner.
//!
//! Each state carries a payload computed from the indexes of the paths that end there (see
//! [`Matcher::new`]); the matcher itself knows nothing of redaction or filters.
//!
//! Paths hold no dotted key (`path.rs` splits them), and [`Matcher::member`] reads a dotted key of
//! an event as the nested keys it spells, as Elasticsearch indexes it.

use super::path::{FieldPath, Segment};
use std::collections::HashMap;

/// A state of the automaton.
pub type StateId = u32;

/// No path can match here or anywhere below.
pub const DEAD: StateId = 0;
/// The top of an event.
pub const ROOT: StateId = 1;

/// More states than this means the paths are pathological (many `**` interleaved with `*`).
const MAX_STATES: usize = 10_000;

/// The paths could not be compiled.
#[derive(Debug, thiserror::Error)]
#[error("the field paths are too complex to combine (over {MAX_STATES} matcher states); use fewer `**`")]
pub struct TooComplex;

struct State<A> {
    /// Keys with a transition of their own (with their [`tag`]), and where they lead, by length:
    /// those of `n` bytes are `keys[by_length[n]..by_length[n + 1]]` (`n` ≥ 63 share 63).
    keys: Box<[Key]>,
    /// See `keys` (empty when there are none).
    by_length: Box<[u32]>,
    /// Bit `n` is set when some key in `keys` is `n` bytes long (`n` ≥ 63 share bit 63): most keys
    /// are ruled out by one test.
    lengths: u64,
    /// Where any other key, and any array element, leads.
    other: StateId,
    /// Some path could still match below this point.
    descends: bool,
    /// What the paths ending here mean.
    payload: A,
}

/// The compiled automaton; `A` is what a state means to its user (built from the path indexes).
pub struct Matcher<A> {
    states: Vec<State<A>>,
}

/// A position inside one path: the path's index and how many segments are behind.
type Position = (u32, u32);

/// A key with a transition of its own.
struct Key {
    /// Its [`words`].
    words: (u64, u64),
    name: Box<[u8]>,
    /// Where it leads.
    next: StateId,
}

/// Whether a (short) key holds a `.`: a plain loop, in line (the library's search is a call for
/// sixteen bytes and more).
#[inline]
fn has_dot(key: &[u8]) -> bool {
    for &b in key {
        if b == b'.' {
            return true;
        }
    }
    false
}

/// A key's first and last eight bytes (a shorter key's bytes, and 0): two keys of one length
/// up to 16 bytes, most keys, are the same exactly when these are; a longer key is compared
/// whole once they agree. So a lookup compares words, not bytes (the top of an event has
/// several keys of nine bytes: `eventName`, `eventTime`, `eventType`, `awsRegion`…).
#[inline]
fn words(key: &[u8]) -> (u64, u64) {
    match (key.first_chunk::<8>(), key.last_chunk::<8>()) {
        (Some(head), Some(tail)) => (u64::from_le_bytes(*head), u64::from_le_bytes(*tail)),
        _ => {
            let mut word = 0u64;
            for (i, &b) in key.iter().enumerate() {
                word |= u64::from(b) << (8 * i);
            }
            (word, 0)
        }
    }
}

impl<A> Matcher<A> {
    /// Compiles `paths`. `payload(ends)` is called once per state with the indexes (into `paths`,
    /// ascending) of the paths that match exactly at that state.
    pub fn new(paths: &[&FieldPath], mut payload: impl FnMut(&[u32]) -> A) -> Result<Self, TooComplex> {
        let segments = |(p, i): Position| paths[p as usize].segments().get(i as usize);
        // Follows `**` without consuming anything: it may match zero segments.
        let close = |set: &mut Vec<Position>| {
            let mut i = 0;
            while i < set.len() {
                let (p, at) = set[i];
                if segments((p, at)) == Some(&Segment::AnyDepth) && !set.contains(&(p, at + 1)) {
                    set.push((p, at + 1));
                }
                i += 1;
            }
            set.sort_unstable();
            set.dedup();
        };
        // Where `set` goes on `key` (`None`: an array element or a key no path names).
        let step = |set: &[Position], key: Option<&str>| {
            let mut next = Vec::new();
            for &(p, at) in set {
                match segments((p, at)) {
                    Some(Segment::Key(k)) if Some(k.as_str()) == key => next.push((p, at + 1)),
                    Some(Segment::Any) => next.push((p, at + 1)),
                    Some(Segment::AnyDepth) => next.push((p, at)),
                    _ => {}
                }
            }
            close(&mut next);
            next
        };

        let mut ids: HashMap<Vec<Position>, StateId> = HashMap::new();
        let mut sets: Vec<Vec<Position>> = vec![Vec::new()];
        ids.insert(Vec::new(), DEAD);
        let mut root: Vec<Position> = (0..paths.len() as u32).map(|p| (p, 0)).collect();
        close(&mut root);
        if !root.is_empty() {
            ids.insert(root.clone(), ROOT);
        }
        sets.push(root);
        let mut states = Vec::new();
        let mut intern = |set: Vec<Position>, sets: &mut Vec<Vec<Position>>| -> Result<StateId, TooComplex> {
            if let Some(&id) = ids.get(&set) {
                return Ok(id);
            }
            if sets.len() >= MAX_STATES {
                return Err(TooComplex);
            }
            let id = sets.len() as StateId;
            ids.insert(set.clone(), id);
            sets.push(set);
            Ok(id)
        };
        let mut next_id = 0;
        while next_id < sets.len() {
            let set = sets[next_id].clone();
            let mut names: Vec<&str> = set
                .iter()
                .filter_map(|&pos| match segments(pos) {
                    Some(Segment::Key(k)) => Some(k.as_str()),
                    _ => None,
                })
                .collect();
            names.sort_unstable();
            names.dedup();
            names.sort_by_key(|n| n.len().min(63));
            let mut keys = Vec::with_capacity(names.len());
            let mut lengths = 0u64;
            for name in &names {
                let next = intern(step(&set, Some(name)), &mut sets)?;
                keys.push(Key { words: words(name.as_bytes()), name: name.as_bytes().into(), next });
                lengths |= 1 << name.len().min(63);
            }
            let by_length: Box<[u32]> = if names.is_empty() {
                Box::new([])
            } else {
                (0..=64).map(|n| names.iter().filter(|k| k.len().min(63) < n).count() as u32).collect()
            };
            let other = intern(step(&set, None), &mut sets)?;
            let ends: Vec<u32> =
                set.iter().filter(|&&pos| segments(pos).is_none()).map(|&(p, _)| p).collect();
            let descends = set.iter().any(|&pos| segments(pos).is_some());
            states.push(State {
                keys: keys.into(),
                by_length,
                lengths,
                other,
                descends,
                payload: payload(&ends),
            });
            next_id += 1;
        }
        Ok(Matcher { states })
    }

    /// The state for the value of `key` inside an object at state `s`. `key` is unescaped.
    /// In line always: called for every key the walk tracks, where a call cost as much as the
    /// lookup.
    #[inline(always)]
    pub fn key(&self, s: StateId, key: &[u8]) -> StateId {
        let state = &self.states[s as usize];
        let n = key.len().min(63);
        if state.lengths & (1 << n) != 0 {
            let w = words(key);
            let at = |n: usize| state.by_length.get(n).map_or(0, |&i| i as usize);
            for k in state.keys.get(at(n)..at(n + 1)).unwrap_or_default() {
                // Of one length: the words say it all up to 16 bytes.
                if k.words == w && (key.len() <= 16 || *k.name == *key) {
                    return k.next;
                }
            }
        }
        state.other
    }

    /// The state for the value of the member `key` (unescaped) of an object at state `s`, reading a
    /// dotted key as the nested keys it spells: `"a.b"` at `s` is `b` inside `a`. Also returns the
    /// first state passed on the way there (not the last one) whose payload satisfies `stop`: the
    /// value is part of the object at that state (a rule that hides that object hides it too).
    #[inline]
    pub fn member(&self, s: StateId, key: &[u8], stop: impl Fn(&A) -> bool) -> (StateId, Option<StateId>) {
        // Keys are short: a plain loop beats a call to the vectorised search.
        let dotted = if key.len() <= 32 { has_dot(key) } else { memchr::memchr(b'.', key).is_some() };
        if !dotted {
            return (self.key(s, key), None);
        }
        let (mut state, mut outer) = (s, None);
        let mut pieces = key.split(|&b| b == b'.').peekable();
        while let Some(piece) = pieces.next() {
            state = self.key(state, piece);
            if state == DEAD {
                break;
            }
            if outer.is_none() && pieces.peek().is_some() && stop(self.payload(state)) {
                outer = Some(state);
            }
        }
        (state, outer)
    }

    /// The state for the elements of an array at state `s`.
    #[inline]
    pub fn element(&self, s: StateId) -> StateId {
        self.states[s as usize].other
    }

    /// True when some path could match below `s` (inside its object or array).
    #[inline]
    pub fn descends(&self, s: StateId) -> bool {
        self.states[s as usize].descends
    }

    /// What the paths ending at `s` mean.
    #[inline]
    pub fn payload(&self, s: StateId) -> &A {
        &self.states[s as usize].payload
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transform::path::Step;

    fn compile(paths: &[&str]) -> (Vec<FieldPath>, Matcher<Vec<u32>>) {
        let parsed: Vec<FieldPath> = paths.iter().map(|p| p.parse().unwrap()).collect();
        let refs: Vec<&FieldPath> = parsed.iter().collect();
        let m = Matcher::new(&refs, |ends| ends.to_vec()).unwrap();
        (parsed, m)
    }

    fn walk(m: &Matcher<Vec<u32>>, location: &[Step]) -> StateId {
        location.iter().fold(ROOT, |s, step| match step {
            Step::Key(k) => m.member(s, k.as_bytes(), |_| false).0,
            Step::Element => m.element(s),
        })
    }

    #[test]
    fn states_know_what_ends_and_what_descends() {
        let (_, m) = compile(&["userIdentity.accessKeyId", "eventID", "requestParameters.**.password"]);
        let ui = m.key(ROOT, b"userIdentity");
        assert!(m.descends(ui) && m.payload(ui).is_empty());
        assert_eq!(m.payload(m.key(ui, b"accessKeyId")), &[0]);
        assert_eq!(m.key(ui, b"userName"), DEAD);
        assert_eq!(m.key(ROOT, b"eventName"), DEAD, "no rule below an unnamed key");
        let id = m.key(ROOT, b"eventID");
        assert_eq!((m.payload(id).as_slice(), m.descends(id)), (&[1][..], false));
        let rp = m.key(ROOT, b"requestParameters");
        let deep = m.element(m.key(rp, b"list"));
        assert_eq!(m.payload(m.key(deep, b"password")), &[2]);
    }

    #[test]
    fn automaton_agrees_with_the_reference_matcher() {
        use Step::{Element as E, Key as K};
        let paths = [
            "a.b",
            "a.*",
            "a.**.c",
            "**.c",
            "x.*.y",
            "x.**",
            "resources.*.ARN",
            "k\\.dotted.v",
            "a.b.c.d",
            "**.*.z",
        ];
        let (parsed, m) = compile(&paths);
        let keys =
            ["a", "b", "c", "d", "x", "y", "z", "resources", "ARN", "k.dotted", "v", "other", "a.b", "x.q.y"];
        // Every location up to depth 4 over those keys and array elements.
        let (mut locations, mut frontier): (Vec<Vec<Step>>, Vec<Vec<Step>>) = (vec![], vec![vec![]]);
        for _ in 0..4 {
            let mut next = Vec::new();
            for loc in &frontier {
                for step in keys.iter().map(|k| K(k)).chain([E]) {
                    let mut l = loc.clone();
                    l.push(step);
                    next.push(l);
                }
            }
            locations.extend(next.iter().cloned());
            frontier = next;
        }
        assert!(locations.len() > 40_000);
        for loc in &locations {
            let want: Vec<u32> =
                (0..parsed.len() as u32).filter(|&i| parsed[i as usize].matches(loc)).collect();
            let s = walk(&m, loc);
            assert_eq!(m.payload(s), &want, "at {loc:?}");
        }
    }

    #[test]
    fn dotted_members_step_through_their_pieces_and_report_the_first_stop() {
        let (_, m) = compile(&["a", "a.b.c", "x.y"]);
        let (state, outer) = m.member(ROOT, b"a.b.c", |ends| !ends.is_empty());
        assert_eq!(m.payload(state), &[1]);
        assert_eq!(outer.map(|o| m.payload(o).clone()), Some(vec![0]), "`a` is passed on the way");
        let (state, outer) = m.member(ROOT, b"x.y", |ends| !ends.is_empty());
        assert_eq!((m.payload(state).as_slice(), outer), (&[2][..], None), "the last piece is not a stop");
        assert_eq!(m.member(ROOT, b"q.y", |_| true), (DEAD, None));
        assert_eq!(m.member(ROOT, b"x", |_| true).0, m.key(ROOT, b"x"));
    }

    #[test]
    fn no_paths_means_everything_is_dead() {
        let (_, m) = compile(&[]);
        assert_eq!(m.key(ROOT, b"anything"), DEAD);
        assert!(!m.descends(ROOT));
    }

    #[test]
    fn keys_of_one_length_are_told_apart_wherever_they_differ() {
        for len in 1..=40 {
            let key = |at: usize, b: u8| {
                let mut k = vec![b'a'; len];
                if at < len {
                    k[at] = b;
                }
                String::from_utf8(k).unwrap()
            };
            let names: Vec<String> = (0..len).map(|at| key(at, b'b')).collect();
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let (_, m) = compile(&refs);
            for (i, name) in names.iter().enumerate() {
                assert_eq!(m.payload(m.key(ROOT, name.as_bytes())), &[i as u32], "{name}");
            }
            assert_eq!(m.key(ROOT, key(len, b'b').as_bytes()), DEAD, "all a, {len}");
            assert_eq!(m.key(ROOT, key(len / 2, b'c').as_bytes()), DEAD, "{len}");
        }
    }

    #[test]
    fn long_keys_share_the_last_length_bit() {
        let long = "k".repeat(80);
        let (_, m) = compile(&[&long]);
        assert_eq!(m.payload(m.key(ROOT, long.as_bytes())), &[0]);
        assert_eq!(m.key(ROOT, "k".repeat(81).as_bytes()), DEAD);
    }
}
