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
use crate::output::batch::{line, Batch};
use crate::state::{RefreshRecord, Relaxed};
use elasticsearch::http::Method;
use serde_json::{json, Value};
use tokio::sync::Mutex;
use tracing::{info, warn};

/// Relaxes the indices a backfill writes to and restores them.
pub struct RefreshRelax {
    client: EsClient,
    /// Index names are `PREFIX-YYYY.MM.DD`: today's is told by its name.
    prefix: String,
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

/// The `_index` of each item of `batch`, each name once.
pub fn indices(batch: &Batch) -> Vec<String> {
    const KEY: &[u8] = b"\"_index\":\"";
    let mut names: Vec<String> = Vec::new();
    for item in &batch.items {
        let action = line(&batch.body, &item.action);
        let Some(at) = action.windows(KEY.len()).position(|w| w == KEY) else { continue };
        let rest = &action[at + KEY.len()..];
        let Some(end) = rest.iter().position(|b| *b == b'"') else { continue };
        let name = String::from_utf8_lossy(&rest[..end]);
        if !names.iter().any(|n| *n == name) {
            names.push(name.into_owned());
        }
    }
    names
}

impl RefreshRelax {
    /// Relaxes the indices named `PREFIX-YYYY.MM.DD` as batches go to them (today's and later days'
    /// only with `relax_today`).
    pub fn new(client: EsClient, prefix: &str, relax_today: bool) -> Self {
        RefreshRelax { client, prefix: prefix.to_string(), relax_today, state: Mutex::default() }
    }

    /// Relaxes the indices of `batch` not relaxed yet. Never fails the batch: a refusal is logged
    /// and the run goes on with refresh as it is.
    pub async fn relax(&self, batch: &Batch) {
        let mut state = self.state.lock().await;
        if state.refused {
            return;
        }
        for index in indices(batch) {
            if !state.seen.insert(index.clone()) {
                continue;
            }
            if !self.relax_today && is_today_or_later(&self.prefix, &index, chrono::Utc::now().date_naive()) {
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

/// True when `index` is `PREFIX-…YYYY.MM.DD` (the events' or the findings' index) of `today` or a
/// later day.
fn is_today_or_later(prefix: &str, index: &str, today: chrono::NaiveDate) -> bool {
    let Some(rest) = index.strip_prefix(prefix).and_then(|rest| rest.strip_prefix('-')) else { return false };
    let day = rest.rsplit('-').next().unwrap_or(rest);
    chrono::NaiveDate::parse_from_str(day, "%Y.%m.%d").is_ok_and(|d| d >= today)
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

    #[test]
    fn the_indices_of_a_batch_each_once() {
        let (file, _receipt) = FileAck::new("f".into());
        let mut batch = Batch::default();
        for index in ["ct-2024.05.01", "ct-2024.05.02", "ct-2024.05.01"] {
            let start = batch.body.len();
            let action = format!("{{\"create\":{{\"_index\":\"{index}\",\"_id\":\"x\"}}}}\n{{}}\n");
            batch.body.extend_from_slice(action.as_bytes());
            batch.push_written(start, file.event(), 0);
        }
        assert_eq!(indices(&batch), ["ct-2024.05.01", "ct-2024.05.02"]);
        for item in batch.items {
            item.ack.settle(Delivery::Delivered);
        }
    }

    #[test]
    fn today_is_told_by_the_index_name() {
        let today = chrono::NaiveDate::from_ymd_opt(2024, 5, 2).unwrap();
        assert!(is_today_or_later("ct", "ct-2024.05.02", today));
        assert!(is_today_or_later("ct", "ct-2024.06.01", today), "a later day (a clock ahead)");
        assert!(!is_today_or_later("ct", "ct-2024.05.01", today));
        assert!(is_today_or_later("ct", "ct-findings-2024.05.02", today), "today's findings");
        assert!(!is_today_or_later("cx", "ct-2024.05.02", today), "another prefix's");
        assert!(!is_today_or_later("ct", "ct-2024.05.02-x", today));
    }
}
