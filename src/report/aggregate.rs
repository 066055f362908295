//! The report from files: each reader thread counts the events it reads into its own
//! [`Aggregator`] (no lock per event); at the end the aggregators are merged into the report.
//! Distinct values go, buffered, into sets the readers share ([`Distinct`]), so that a million
//! principals are held once, not once per reader.
//!
//! The predicates here are those of `spec::scope_query`, which computes the same numbers on a
//! cluster.

use super::distinct::Distinct;
use super::findings::FindingTally;
use super::layout::{DISTINCT_OF, KEYED, LAUNCH_SCOPE, TABLE_SCOPES, TALLY_OF};
use super::model::{self, Launch, Report, Span, LAUNCH_ROWS};
use super::spec::{
    is_denied, is_internal, Scope, DISTINCT, F, FIELDS, READ_PREFIXES, RESOURCES, SCOPES, TABLES,
};
use super::tally::{hash_parts, hash_text, Tally, SEP};
use crate::detect::RuleInfo;
use std::borrow::Cow;
use std::sync::Arc;

/// What the report counts that the user chooses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// "Who did what" counts read-only calls too (by default only writes).
    pub with_reads: bool,
    /// The event names listed as launches and creations.
    pub launch_events: Vec<String>,
    /// The findings section (`--rules`): from files, the readers pass each match to
    /// [`Aggregator::finding`]; from a cluster, `PREFIX-findings-*` is read.
    pub findings: bool,
}

impl Options {
    /// Whether an event named `name` is a launch or creation listed ([`Scope::Launch`]).
    pub fn launch(&self, name: Option<&str>) -> bool {
        // The first byte first: most names are ruled out without comparing them whole.
        name.is_some_and(|n| {
            let first = n.as_bytes().first();
            self.launch_events.iter().any(|l| l.as_bytes().first() == first && l == n)
        })
    }
}

/// One event as the report reads it: the values of [`FIELDS`] then of [`RESOURCES`]; whether it
/// is a console operation; its time (Unix seconds).
pub struct Event<'a> {
    /// By [`F`] index; `None` when absent or null. A borrowed value is the event's own text
    /// (a string without escapes, a number, a boolean): it holds no control character, [`SEP`]
    /// among them; only an owned one (unescaped) is looked through for [`SEP`].
    /// Then, from index `FIELDS.len()`, the values of [`RESOURCES`]: a launch or creation
    /// ([`Options::launch`]) is listed with the first non-empty one, in their order.
    pub values: [Option<Cow<'a, str>>; FIELDS.len() + RESOURCES.len()],
    /// The console rule.
    pub console: bool,
    /// Whether it is a launch or creation listed ([`Options::launch`]: the reader, which reads
    /// [`RESOURCES`] for those alone, asked already).
    pub launch: bool,
    /// When.
    pub time: i64,
}

impl Event<'_> {
    fn get(&self, f: F) -> Option<&str> {
        self.values.get(f as usize).and_then(|v| v.as_deref())
    }

    fn is(&self, f: F, value: &str) -> bool {
        self.get(f) == Some(value)
    }

    fn write(&self) -> bool {
        match self.get(F::ReadOnly) {
            Some(v) => v == "false",
            None => self.get(F::EventName).is_some_and(|name| {
                !READ_PREFIXES.iter().any(|p| name.starts_with(p))
                    && !self.is(F::EventType, "AwsConsoleSignIn")
            }),
        }
    }

    /// Which of [`SCOPES`] the event is in (by index), the parts the predicates share read once.
    fn scopes(&self, options: &Options) -> [bool; SCOPES.len()] {
        let name = self.get(F::EventName);
        let sign_in = name == Some("ConsoleLogin");
        let login = self.get(F::ConsoleLogin);
        let write = self.write();
        let internal = self.get(F::SourceIp).map(is_internal);
        let error = self.get(F::ErrorCode);
        let mut within = [false; SCOPES.len()];
        for (within, (scope, _)) in within.iter_mut().zip(SCOPES) {
            *within = match scope {
                Scope::All => true,
                Scope::Console => self.console,
                Scope::Write => write,
                Scope::ConsoleWrite => self.console && write,
                Scope::Activity => options.with_reads || write,
                Scope::SignIn => sign_in,
                Scope::SignInSuccess => sign_in && login == Some("Success"),
                Scope::SignInFailed => sign_in && login == Some("Failure"),
                Scope::SignInNoMfa => sign_in && login == Some("Success") && self.is(F::MfaUsed, "No"),
                Scope::Root => self.is(F::IdentityType, "Root"),
                Scope::Error => error.is_some(),
                Scope::Denied => error.is_some_and(is_denied),
                Scope::Caller => internal == Some(false),
                Scope::Internal => internal == Some(true),
                Scope::Launch => self.launch,
            };
        }
        within
    }
}

/// A value as one part of a table's key: [`SEP`], which separates the parts, replaced (it can
/// only be in an owned value: see [`Event::values`]).
fn part(value: &str, owned: bool) -> Cow<'_, str> {
    if owned && value.contains(SEP) {
        Cow::Owned(value.replace(SEP, "\u{fffd}"))
    } else {
        Cow::Borrowed(value)
    }
}

/// The Unix time of a launch's time text, when its year has four digits (0 to 9999). Launches
/// sort by that text first, and any earlier time's text (a year of four digits, a negative year's
/// `-…`, or the empty text of a time out of range) sorts below it: an earlier launch is surely
/// ranked lower. Otherwise `None` (no launch is passed over).
fn four_digit_year_time(text: &str) -> Option<i64> {
    let t = chrono::DateTime::parse_from_rfc3339(text).ok()?.timestamp();
    (-62_167_219_200..=253_402_300_799).contains(&t).then_some(t)
}

/// What the readers share: the distinct sets, by [`DISTINCT`] index.
#[derive(Debug)]
pub struct Shared {
    distinct: Vec<Distinct>,
}

impl Default for Shared {
    fn default() -> Self {
        Shared { distinct: DISTINCT.iter().map(|_| Distinct::default()).collect() }
    }
}

/// Hashes a reader buffers before adding them to a shared set.
const BUFFERED: usize = 4096;

/// One reader's counts.
pub struct Aggregator {
    options: Arc<Options>,
    shared: Arc<Shared>,
    events: u64,
    counts: Vec<u64>,
    tallies: Vec<Tally>,
    span: Option<(i64, i64)>,
    launches: Vec<Launch>,
    /// The time of the earliest launch kept once `launches` was cut to [`LAUNCH_ROWS`]: an
    /// earlier one cannot be among the latest, so it is not made (its nine texts are not copied).
    launch_floor: Option<i64>,
    pending: Vec<Vec<u64>>,
    /// By [`DISTINCT`] index: whether a value had [`SEP`] replaced in its key (after which a
    /// key's being known no longer means that its value was passed).
    replaced: [bool; DISTINCT.len()],
    findings: Option<FindingTally>,
}

impl Aggregator {
    /// An empty aggregator for one reader.
    pub fn new(options: Arc<Options>, shared: Arc<Shared>) -> Self {
        Aggregator {
            shared,
            events: 0,
            counts: vec![0; SCOPES.len()],
            tallies: TABLES.iter().map(|_| Tally::default()).collect(),
            span: None,
            launches: Vec::new(),
            launch_floor: None,
            pending: DISTINCT.iter().map(|_| Vec::with_capacity(BUFFERED)).collect(),
            replaced: [false; DISTINCT.len()],
            findings: options.findings.then(FindingTally::default),
            options,
        }
    }

    /// Counts one finding: `rule` matched the event last [added](Aggregator::add), `e`.
    pub fn finding(&mut self, rule: &RuleInfo, e: &Event) {
        if let Some(findings) = &mut self.findings {
            findings.add(rule, e.get(F::Arn), e.time);
        }
    }

    /// Counts one event.
    pub fn add(&mut self, e: &Event) {
        self.events += 1;
        self.span = Some(match self.span {
            None => (e.time, e.time),
            Some((a, b)) => (a.min(e.time), b.max(e.time)),
        });
        let within = e.scopes(&self.options);
        // By index, here and below: zipped with the arrays by value, the loops had the compiler
        // copy them through the stack first.
        for (i, count) in self.counts.iter_mut().enumerate() {
            *count += u64::from(within[i]);
        }
        // Each value's key text and hash, once per event (not once per table). A key text is the
        // value's own but for an unescaped value holding `SEP` (rare): those are made first, so
        // that the texts can borrow them.
        let replaced: Vec<(usize, String)> = (0..FIELDS.len())
            .filter(|&i| KEYED[i])
            .filter_map(|i| match &e.values[i] {
                Some(v @ Cow::Owned(_)) => match part(v, true) {
                    Cow::Owned(text) => Some((i, text)),
                    Cow::Borrowed(_) => None,
                },
                _ => None,
            })
            .collect();
        let mut keyed: [Option<(&str, u64)>; FIELDS.len()] = [None; FIELDS.len()];
        for (i, k) in keyed.iter_mut().enumerate() {
            if !KEYED[i] {
                continue;
            }
            let text = match replaced.iter().find(|(at, _)| *at == i) {
                Some((_, text)) => Some(text.as_str()),
                None => e.values[i].as_deref(),
            };
            *k = text.map(|text| (text, hash_text(text)));
        }
        for (i, ((spec, scope), tally_of)) in TABLES.iter().zip(TABLE_SCOPES).zip(TALLY_OF).enumerate() {
            if tally_of != i || !within[scope] {
                continue;
            }
            let (mut parts, mut hashes): ([&str; 4], [u64; 4]) = ([""; 4], [0; 4]);
            let all = spec.dims.iter().enumerate().all(|(i, d)| {
                let value = match (keyed[*d as usize], spec.missing) {
                    (Some(value), _) => value,
                    (None, Some(missing)) => (missing, hash_text(missing)),
                    (None, None) => return false,
                };
                if i < parts.len() {
                    (parts[i], hashes[i]) = value;
                }
                i < parts.len()
            });
            if !all {
                continue;
            }
            let n = spec.dims.len();
            let new = self.tallies[i].add_parts(hash_parts(&hashes[..n]), &parts[..n], e.time);
            if let Some(d) = DISTINCT_OF[i] {
                // The value as written: the key's hash unless `SEP` was replaced in it (then the
                // key may be another value's, so it is passed each time, and from then on every
                // value is).
                let f = DISTINCT[d].1;
                let hash = match keyed[f as usize] {
                    Some(_) if replaced.iter().any(|(at, _)| *at == f as usize) => {
                        self.replaced[d] = true;
                        e.get(f).map(Distinct::hash)
                    }
                    Some((_, hash)) if new || self.replaced[d] => Some(hash),
                    _ => None,
                };
                if let Some(hash) = hash {
                    self.pending[d].push(hash);
                    if self.pending[d].len() >= BUFFERED {
                        self.shared.distinct[d].add(&mut self.pending[d]);
                    }
                }
            }
        }
        if within[LAUNCH_SCOPE] {
            self.launch(e);
        }
    }

    fn launch(&mut self, e: &Event) {
        if self.launch_floor.is_some_and(|floor| e.time < floor) {
            return;
        }
        let text = |f: F| e.get(f).unwrap_or_default().to_string();
        self.launches.push(Launch {
            time: model::time_text(e.time),
            action: text(F::EventName),
            resource: e.values[FIELDS.len()..]
                .iter()
                .flatten()
                .find(|v| !v.is_empty())
                .map_or_else(String::new, |v| v.to_string()),
            principal: text(F::Arn),
            source_ip: text(F::SourceIp),
            user_agent: text(F::UserAgent),
            region: text(F::Region),
            account: text(F::Account),
            error: text(F::ErrorCode),
        });
        if self.launches.len() >= 2 * LAUNCH_ROWS {
            Launch::sort(&mut self.launches);
            self.launches.truncate(LAUNCH_ROWS);
            self.launch_floor = self.launches.last().and_then(|l| four_digit_year_time(&l.time));
        }
    }

    /// Adds another reader's counts to these.
    pub fn merge(&mut self, mut other: Aggregator) {
        other.flush();
        self.events += other.events;
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        for (a, b) in self.tallies.iter_mut().zip(other.tallies) {
            a.merge(b);
        }
        self.span = match (self.span, other.span) {
            (Some((a, b)), Some((c, d))) => Some((a.min(c), b.max(d))),
            (x, y) => x.or(y),
        };
        self.launches.extend(other.launches);
        Launch::sort(&mut self.launches);
        self.launches.truncate(LAUNCH_ROWS);
        if let (Some(a), Some(b)) = (&mut self.findings, other.findings) {
            a.merge(b);
        }
    }

    fn flush(&mut self) {
        for (i, pending) in self.pending.iter_mut().enumerate() {
            self.shared.distinct[i].add(pending);
        }
    }

    /// The report of everything counted (`about` left for the caller).
    pub fn report(mut self) -> Report {
        self.flush();
        Launch::sort(&mut self.launches);
        self.launches.truncate(LAUNCH_ROWS);
        Report {
            events: self.events,
            span: self.span.map(|(a, b)| Span { first: model::time_text(a), last: model::time_text(b) }),
            counts: SCOPES.iter().zip(&self.counts).map(|((_, name), n)| (name.to_string(), *n)).collect(),
            distinct: DISTINCT
                .iter()
                .zip(&self.shared.distinct)
                .map(|((name, _, _), d)| {
                    let (count, exact) = d.count();
                    (name.to_string(), model::Distinct { count, exact })
                })
                .collect(),
            tables: TABLES
                .iter()
                .zip(TALLY_OF)
                .map(|(s, t)| (s.id.to_string(), self.tallies[t].table(s.rows, s.order)))
                .collect(),
            launches: self.launches,
            findings: self.findings.as_ref().map(FindingTally::findings),
            about: Default::default(),
        }
    }
}

#[cfg(test)]
#[path = "aggregate_tests.rs"]
mod tests;
