//! Refresh off while a backfill writes (`index.refresh_interval: -1`), and back afterwards.
//!
//! A refresh makes what was indexed searchable; during a backfill nobody needs that every second,
//! and without it the node spends about 0.6× the CPU (measured on the dev Elasticsearch). So a
//! backfill (unless `--keep-refresh`) relaxes each index the first time a batch goes to it: the
//! index is created if it is not there yet (so the template applies), the value to put back is
//! written into the index's own `_meta` (`refresh_marker.rs`), and only then is refresh set to
//! `-1`. At the end, also after Ctrl-C/SIGTERM, every relaxed index gets its value back and loses
//! its marker; after a kill -9 (or a second Ctrl-C) the marker stays, and the next command of any
//! kind against the cluster restores it ([`refresh_marker::restore_interrupted`]).
//!
//! Today's (UTC) index, where a follower may be writing, and any later day's are left refreshing
//! unless `--relax-today`. An index whose refresh is already off is left alone, unless it carries
//! a marker (another backfill relaxed it, e.g. another `--shard`): then this run restores it at its
//! end too. A cluster that refuses the change (OpenSearch Serverless has no index settings; a user
//! without the `manage` index privilege) is written to as it is.
//!
//! Versions before kept the value to restore in `STATE.refresh` beside `--state`: such a record is
//! still read and restored by a backfill with that `--state` ([`restore_leftovers`]), never written.

pub use super::refresh_marker::RefreshError;
use super::refresh_marker::{self, put_interval, refused};
use crate::cluster::EsClient;
use crate::output::batch::{Batch, Destination};
use crate::state::{RefreshRecord, Relaxed};
use elasticsearch::http::Method;
use serde_json::{json, Value};
use std::path::PathBuf;
use tokio::sync::Mutex;
use tracing::{info, warn};

/// What a cluster output does about refresh: a backfill's relaxes it (unless `--keep-refresh`),
/// every other command's keeps it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RefreshSettings {
    /// Relax or keep.
    pub rule: RefreshRule,
    /// The `--state` journal beside which versions before kept `STATE.refresh`: what it records is
    /// restored when the output opens ([`restore_leftovers`]).
    pub legacy_state: Option<PathBuf>,
}

/// Whether refresh is switched off on the indices written (and back when the output ends).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RefreshRule {
    /// Leave refresh alone.
    #[default]
    Keep,
    /// Off on each index written; on today's (UTC) index and later days' only with `today`
    /// (`--relax-today`).
    Relax {
        /// Relax today's index too.
        today: bool,
    },
}

/// Relaxes the indices a backfill writes to and restores them.
pub struct RefreshRelax {
    client: EsClient,
    /// Relax today's index (and later days') too.
    relax_today: bool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Relaxed by this run (and marked), with the value to restore.
    relaxed: Relaxed,
    /// Indices already handled (relaxed, left alone, or found impossible to relax).
    seen: std::collections::HashSet<String>,
    /// The cluster refused once: do not ask again.
    refused: bool,
}

impl RefreshRelax {
    /// Relaxes the indices batches go to, as they go (today's and later days' only with
    /// `relax_today`).
    pub fn new(client: EsClient, relax_today: bool) -> Self {
        RefreshRelax { client, relax_today, state: Mutex::default() }
    }

    /// Relaxes the indices of `batch` not relaxed yet. Never fails the batch: a refusal is logged
    /// and the run goes on with refresh as it is.
    pub async fn relax(&self, batch: &Batch) {
        let mut state = self.state.lock().await;
        if state.refused {
            return;
        }
        for destination in batch.destinations() {
            let index = destination.name.clone();
            if !state.seen.insert(index.clone()) {
                continue;
            }
            if !self.relax_today && is_today_or_later(&destination, chrono::Utc::now().date_naive()) {
                info!(
                    index,
                    "refresh left on in today's index (a follower may be writing it; --relax-today)"
                );
                continue;
            }
            if let Err(e) = self.relax_one(&index, &mut state).await {
                warn!(
                    "{}: refresh left as it is ({e}); the backfill goes on, with the cluster refreshing as usual",
                    self.client.url()
                );
                state.refused = true;
                return;
            }
        }
    }

    async fn relax_one(&self, index: &str, state: &mut State) -> Result<(), RefreshError> {
        let previous = match current(&self.client, index).await? {
            Some(previous) => previous,
            None => {
                // Created here so that the template applies and its value is the one kept.
                let reply = self.client.send(Method::Put, &format!("/{index}"), None).await?;
                if reply.status != 200 && reply.status != 400 {
                    return Err(refused("create", index, reply.status));
                }
                current(&self.client, index).await?.ok_or_else(|| refused("create", index, 404))?
            }
        };
        if previous.as_deref() == Some("-1") {
            // Off already: by another backfill at work (its marker says what to put back, and
            // this run puts it back too when it ends), or by someone else (left alone).
            if let Some(previous) = refresh_marker::read(&self.client, index).await? {
                state.relaxed.insert(index.to_string(), previous);
            }
            return Ok(());
        }
        refresh_marker::mark(&self.client, index, &previous).await?;
        if let Err(e) = put_interval(&self.client, index, &json!("-1")).await {
            let _ = refresh_marker::unmark(&self.client, index).await;
            return Err(e);
        }
        state.relaxed.insert(index.to_string(), previous);
        info!(index, "refresh off while the backfill writes (restored at the end)");
        Ok(())
    }

    /// Puts every relaxed index back; what cannot be restored keeps its marker, for the next
    /// command against the cluster. True when everything was restored.
    pub async fn restore(&self) -> bool {
        let mut state = self.state.lock().await;
        let relaxed = std::mem::take(&mut state.relaxed);
        let mut left = Vec::new();
        for (index, previous) in relaxed {
            if let Err(e) = refresh_marker::restore(&self.client, &index, &previous).await {
                warn!("{}: cannot restore refresh: {e}", self.client.url());
                left.push(index);
            }
        }
        if !left.is_empty() {
            warn!(
                indices = left.len(),
                "refresh not restored yet on {}; the next cloudtrail-es command against this cluster \
                 (`setup`, a backfill, follow) restores it",
                left.join(", ")
            );
        }
        left.is_empty()
    }
}

/// True when `index` holds events (or findings) of `today` or a later day. An index whose day is
/// not known (named by a replayed dead letter) counts as today's: left refreshing.
fn is_today_or_later(index: &Destination, today: chrono::NaiveDate) -> bool {
    index.day.is_none_or(|day| day >= today)
}

/// Restores what a version that kept the record in `STATE.refresh` left there.
pub async fn restore_leftovers(client: &EsClient, record: &RefreshRecord) -> Result<usize, RefreshError> {
    let err = |source| RefreshError::Record { path: record.path().display().to_string(), source };
    let leftovers = record.load().map_err(err)?;
    if leftovers.is_empty() {
        return Ok(0);
    }
    let n = leftovers.len();
    let left = restore_all(client, leftovers).await;
    record.save(&left).map_err(err)?;
    match left.len() {
        0 => info!(indices = n, "refresh restored where an interrupted backfill had switched it off"),
        k => warn!(
            indices = k,
            "refresh still off where an interrupted backfill left it; trying again next run"
        ),
    }
    Ok(n - left.len())
}

/// Restores each index; returns those that could not be.
async fn restore_all(client: &EsClient, relaxed: Relaxed) -> Relaxed {
    let mut left = Relaxed::new();
    for (index, previous) in relaxed {
        let value = previous.as_deref().map_or(Value::Null, |v| json!(v));
        match put_interval(client, &index, &value).await {
            Ok(()) => {}
            // Deleted meanwhile: nothing to restore.
            Err(RefreshError::Refused { status: 404, .. }) => {}
            Err(e) => {
                warn!("{}: cannot restore refresh: {e}", client.url());
                left.insert(index, previous);
            }
        }
    }
    left
}

/// `index.refresh_interval` as set on `index` (`Some(None)`: not set), `None` if there is no index.
async fn current(client: &EsClient, index: &str) -> Result<Option<Option<String>>, RefreshError> {
    let reply = client.send(Method::Get, &format!("/{index}/_settings/index.refresh_interval"), None).await?;
    match reply.status {
        404 => Ok(None),
        200 => {
            let body: Value = serde_json::from_slice(&reply.body).unwrap_or_default();
            let value = body[index]["settings"]["index"]["refresh_interval"].as_str().map(str::to_string);
            Ok(Some(value))
        }
        status => Err(refused("read the settings of", index, status)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ack::{Delivery, FileAck};
    use crate::output::batch::Frame;
    use crate::output::elasticsearch::BulkFraming;
    use crate::transform::{Day, DocId, Routing};

    fn day(year: i32, month: u32, day: u32) -> Day {
        Day { year, month, day, unix: 0 }
    }

    #[test]
    fn the_indices_of_a_batch_each_once() {
        let (file, _receipt) = FileAck::new("f".into());
        let mut batch = Batch::default();
        let frame = BulkFraming::create("ct");
        for d in [1, 2, 1] {
            let routing = Routing { id: DocId::Event(b"\"x\""), day: day(2024, 5, d), omitted: false };
            frame.append(&mut batch, &routing, b"{}", file.event());
        }
        let names: Vec<_> = batch.destinations().iter().map(|d| d.name.clone()).collect();
        assert_eq!(names, ["ct-2024.05.01", "ct-2024.05.02"]);
        for item in batch.items {
            item.ack.settle(Delivery::Delivered);
        }
    }

    #[test]
    fn today_is_told_by_the_day_the_index_was_named_from() {
        let today = chrono::NaiveDate::from_ymd_opt(2024, 5, 2).unwrap();
        let (file, _receipt) = FileAck::new("f".into());
        let mut batch = Batch::default();
        let frame = BulkFraming::create("ct");
        for (d, finding) in
            [((2024, 5, 2), false), ((2024, 6, 1), false), ((2024, 5, 1), false), ((2024, 5, 2), true)]
        {
            let d = day(d.0, d.1, d.2);
            if finding {
                frame.append_finding(&mut batch, "f1", d, b"{}", file.event());
            } else {
                let routing = Routing { id: DocId::Event(b"\"x\""), day: d, omitted: false };
                frame.append(&mut batch, &routing, b"{}", file.event());
            }
        }
        let told: Vec<_> =
            batch.destinations().iter().map(|d| (d.name.clone(), is_today_or_later(d, today))).collect();
        let expected = [
            ("ct-2024.05.02", true),
            ("ct-2024.06.01", true), // a later day (a clock ahead)
            ("ct-2024.05.01", false),
            ("ct-findings-2024.05.02", true), // today's findings
        ];
        assert_eq!(told, expected.map(|(n, t)| (n.to_string(), t)));
        let replayed = Destination { name: "ct-2024.05.01".into(), day: None };
        assert!(is_today_or_later(&replayed, today), "a day not known is left refreshing");
        for item in batch.items {
            item.ack.settle(Delivery::Delivered);
        }
    }
}
