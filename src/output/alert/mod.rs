//! Alerts: messages about matching events to a chat webhook, a JSON webhook or an SNS topic, as an
//! output beside the index (`follow`).
//!
//! - `rules.rs`: the rules (`[[alert]]` tables, `--alert-*` flags) and their destinations;
//! - `message.rs`: the texts; `burst.rs`: one message per rule per interval; `dedup.rs`: no event
//!   alerts twice; `deliver.rs`: sending with bounded retries.
//!
//! Delivery is part of the acknowledgement. The reader pool asks the [`AlertTap`] which rules an
//! event matches (on the event as CloudTrail wrote it, like `--include`) and hands each match a
//! copy of the document as indexed (redacted) and its own [`EventAck`], minted from the file's
//! ack. So an SQS message is deleted only once its events are indexed *and* their alerts are
//! delivered, or given up after the retries and written to the dead-letter file. A rule with
//! `findings` gets the event's Sigma findings instead (each its own match, keyed by the finding's
//! id, its document the finding as indexed). With `--no-index`
//! the bulk output is replaced by [`discard`], which settles every document at once.

pub mod burst;
pub mod dedup;
pub mod deliver;
pub mod message;
pub mod rules;

use crate::ack::{Delivery, EventAck, FileAck};
use crate::backoff::Backoff;
use crate::detect::RuleInfo;
use crate::output::batch::Batch;
use crate::output::dead_letter::{DeadLetter, DeadLetters, Payload};
use crate::transform::{DocId, Selection, Selectors, TooComplex};
use burst::{Group, Pending};
use deliver::{Outgoing, Sender, Sent};
use message::Zone;
use rules::AlertRule;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{error, info};

/// How alerts are made and sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertSettings {
    /// The rules, in order.
    pub rules: Vec<AlertRule>,
    /// How times are shown.
    pub zone: Zone,
    /// Kibana's base URL, for Discover links.
    pub kibana_url: Option<String>,
    /// Matches of one rule within this interval become one message.
    pub burst_interval: Duration,
    /// Events described in full in one message (rules may say otherwise).
    pub burst_limit: usize,
    /// Retries of one message.
    pub backoff: Backoff,
    /// How many (rule, event id) pairs are remembered against repeats.
    pub remember: usize,
}

impl Default for AlertSettings {
    fn default() -> Self {
        AlertSettings {
            rules: Vec::new(),
            zone: Zone::default(),
            kibana_url: None,
            burst_interval: Duration::from_secs(10),
            burst_limit: 1,
            backoff: Backoff {
                initial: Duration::from_millis(500),
                max_delay: Duration::from_secs(30),
                patience: Duration::from_secs(300),
            },
            remember: 100_000,
        }
    }
}

/// One event for one rule, from a reader.
pub struct Matched {
    rule: usize,
    id: String,
    document: Vec<u8>,
    file: String,
    ack: EventAck,
}

/// A Sigma finding of an event, as the readers made it (`detect/finding.rs`).
pub struct Finding {
    /// The rule that matched.
    pub rule: RuleInfo,
    /// The finding's `_id` (the dedup key of its alerts).
    pub id: String,
    /// The finding document, as indexed.
    pub document: Vec<u8>,
}

/// The readers' side: which rules an event matches, and where matches go.
pub struct AlertTap {
    selectors: Selectors,
    /// Per rule: which findings it announces (`None`: it announces events).
    findings: Vec<Option<rules::FindingFilter>>,
    to_output: mpsc::Sender<Matched>,
}

impl AlertTap {
    /// Hands the event's document to every event rule `raw` matches, and each of its `findings`
    /// to every findings rule that selects the event and accepts the finding; each match with its
    /// own ack from `file`. Blocking (reader threads): waits when the alert output is behind.
    pub fn offer(
        &self,
        raw: &[u8],
        id: &DocId<'_>,
        document: &[u8],
        file: &FileAck,
        scratch: &mut Vec<u8>,
        findings: &[Finding],
    ) {
        if findings.is_empty() && self.findings.iter().all(Option::is_some) {
            return;
        }
        let rules = self.selectors.matching(raw, scratch);
        if rules.is_empty() {
            return;
        }
        // Only copied here: the output parses the few documents a message describes in full.
        let mut event_id = None;
        for rule in rules {
            let matched: Vec<(String, &[u8])> = match &self.findings[rule] {
                None => vec![(event_id.get_or_insert_with(|| id.to_text()).clone(), document)],
                Some(filter) => findings
                    .iter()
                    .filter(|f| filter.accepts(&f.rule))
                    .map(|f| (f.id.clone(), f.document.as_slice()))
                    .collect(),
            };
            for (id, document) in matched {
                let m = Matched {
                    rule,
                    id,
                    document: document.to_vec(),
                    file: file.file().to_string(),
                    ack: file.event(),
                };
                if let Err(unsent) = self.to_output.blocking_send(m) {
                    // The output is gone (the run is stopping): the ack fails the file, to be read again.
                    drop(unsent);
                    return;
                }
            }
        }
    }
}

/// Counts for the summary.
#[derive(Debug, Default)]
pub struct AlertStats {
    /// Messages delivered.
    pub sent: AtomicU64,
    /// Events announced in delivered messages.
    pub events: AtomicU64,
    /// Repeats of events already announced.
    pub repeats: AtomicU64,
    /// Events whose alert was given up (dead-lettered).
    pub given_up: AtomicU64,
}

/// The alert output: groups, deduplicates and delivers.
pub struct AlertOutput {
    settings: Arc<AlertSettings>,
    sender: Arc<Sender>,
    matches: mpsc::Receiver<Matched>,
    dead: Arc<DeadLetters>,
    /// Counters.
    pub stats: Arc<AlertStats>,
    abort: CancellationToken,
}

/// The rules compiled: the tap for the readers and the output that sends.
pub fn start(
    settings: AlertSettings,
    sns: Option<aws_sdk_sns::Client>,
    dead: &Arc<DeadLetters>,
    abort: &CancellationToken,
) -> Result<(AlertTap, AlertOutput), TooComplex> {
    let sets: Vec<Selection> = settings.rules.iter().map(|r| r.selection.clone()).collect();
    let selectors = Selectors::new(&sets)?;
    let findings = settings.rules.iter().map(|r| r.findings.clone()).collect();
    let (to_output, matches) = mpsc::channel(1024);
    let sender = Arc::new(Sender::new(sns, settings.backoff));
    let output = AlertOutput {
        settings: Arc::new(settings),
        sender,
        matches,
        dead: dead.clone(),
        stats: Arc::default(),
        abort: abort.clone(),
    };
    Ok((AlertTap { selectors, findings, to_output }, output))
}

impl AlertOutput {
    /// Runs until the readers are done, then sends what is waiting and returns.
    pub async fn run(mut self) {
        for rule in &self.settings.rules {
            match &rule.findings {
                Some(f) => info!(
                    "alert `{}` → {}: Sigma findings of level {} and above",
                    rule.name, rule.destination, f.level
                ),
                None => info!("alert `{}` → {}", rule.name, rule.destination),
            }
        }
        let recent = Arc::new(Mutex::new(dedup::Recent::new(self.settings.remember)));
        let mut groups: HashMap<usize, Group> = HashMap::new();
        let mut sending = JoinSet::new();
        loop {
            let next_due = groups.values().map(|g| g.due).min();
            tokio::select! {
                m = self.matches.recv() => match m {
                    Some(m) => self.add(m, &mut groups, &recent),
                    None => break,
                },
                _ = sleep_until(next_due) => {
                    let now = Instant::now();
                    let due: Vec<usize> = groups.iter().filter(|(_, g)| g.due <= now).map(|(r, _)| *r).collect();
                    for rule in due {
                        if let Some(g) = groups.remove(&rule) {
                            sending.spawn(self.send(rule, g));
                        }
                    }
                }
                Some(_) = sending.join_next(), if !sending.is_empty() => {}
            }
        }
        // The readers are done: what waits is sent now rather than at the end of its interval.
        for (rule, g) in groups.drain() {
            sending.spawn(self.send(rule, g));
        }
        while sending.join_next().await.is_some() {}
        let s = &self.stats;
        info!(
            "alerts: {} messages sent about {} events, {} repeats not sent again, {} given up",
            s.sent.load(Relaxed),
            s.events.load(Relaxed),
            s.repeats.load(Relaxed),
            s.given_up.load(Relaxed)
        );
    }

    fn add(&self, m: Matched, groups: &mut HashMap<usize, Group>, recent: &Mutex<dedup::Recent>) {
        let Ok(mut recent) = recent.lock() else { return };
        if recent.contains(m.rule, &m.id) {
            self.stats.repeats.fetch_add(1, Relaxed);
            match groups.get_mut(&m.rule).filter(|g| g.holds(&m.id)) {
                Some(g) => g.duplicates.push(m.ack),
                None => m.ack.settle(Delivery::Delivered),
            }
            return;
        }
        recent.insert(m.rule, &m.id);
        let limit = self.settings.rules[m.rule].burst_limit.unwrap_or(self.settings.burst_limit).max(1);
        let due = Instant::now() + self.settings.burst_interval;
        let group = groups.entry(m.rule).or_insert_with(|| Group::new(due));
        group.add(Pending { id: m.id, document: Some(m.document), file: m.file, ack: m.ack }, limit);
    }

    /// Sends one group and settles its events.
    fn send(&self, rule: usize, group: Group) -> impl std::future::Future<Output = ()> + Send + 'static {
        let (settings, sender, dead, stats, abort) = (
            self.settings.clone(),
            self.sender.clone(),
            self.dead.clone(),
            self.stats.clone(),
            self.abort.clone(),
        );
        async move {
            let r = &settings.rules[rule];
            let (shown, more) = group.shown();
            // Written by the transform, so valid JSON.
            let docs: Vec<Value> = shown.iter().filter_map(|d| serde_json::from_slice(d).ok()).collect();
            let docs: Vec<&Value> = docs.iter().collect();
            let kibana = settings.kibana_url.as_deref();
            let text = message::message(&r.name, &docs, more, settings.zone, kibana);
            let first = docs.first().copied().cloned().unwrap_or(Value::Null);
            let out = Outgoing {
                subject: message::subject(&r.name, &first, group.events.len()),
                json: json!({
                    "rule": r.name,
                    "summary": text,
                    "count": group.events.len(),
                    "more": more,
                    "events": docs,
                }),
                text,
            };
            let sent = sender.deliver(&r.name, &r.destination, &out, &abort).await;
            let outcome = match sent {
                Sent::Delivered => {
                    stats.sent.fetch_add(1, Relaxed);
                    stats.events.fetch_add(group.events.len() as u64, Relaxed);
                    Delivery::Delivered
                }
                Sent::Stopped => Delivery::Failed,
                Sent::GaveUp(why) => {
                    let reason = format!("alert `{}` to {} not delivered: {why}", r.name, r.destination);
                    error!("{reason} ({} events; see the dead-letter file)", group.events.len());
                    stats.given_up.fetch_add(group.events.len() as u64, Relaxed);
                    give_up(&dead, &reason, &group)
                }
            };
            for e in group.events {
                e.ack.settle(outcome);
            }
            for ack in group.duplicates {
                ack.settle(outcome);
            }
        }
    }
}

/// Writes the group's events as alert failures; how they count.
fn give_up(dead: &DeadLetters, reason: &str, group: &Group) -> Delivery {
    // Events beyond those described in full kept only their id.
    let ids: Vec<Vec<u8>> =
        group.events.iter().map(|e| json!({ "eventID": e.id }).to_string().into_bytes()).collect();
    let letters = group.events.iter().zip(&ids).map(|(e, id)| DeadLetter {
        file: &e.file,
        reason,
        status: None,
        action: None,
        event: Payload::from_bytes(e.document.as_deref().unwrap_or(id)),
    });
    match dead.write_all(letters) {
        Ok(()) => Delivery::DeadLettered,
        Err(e) => {
            error!("cannot write dead letter to {}: {e}", dead.path().display());
            Delivery::Failed
        }
    }
}

async fn sleep_until(due: Option<Instant>) {
    match due {
        Some(due) => tokio::time::sleep_until(due).await,
        None => std::future::pending().await,
    }
}

/// `--no-index`: takes the readers' batches and settles every document at once.
pub async fn discard(mut batches: mpsc::Receiver<Batch>) {
    while let Some(batch) = batches.recv().await {
        for item in batch.items {
            item.ack.settle(Delivery::Delivered);
        }
    }
}
