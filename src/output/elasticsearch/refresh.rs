//! Refresh off while a backfill writes (`index.refresh_interval: -1`), and back afterwards.
//!
//! A refresh makes what was indexed searchable; during a backfill nobody needs that every second,
//! and without it the node spends about 0.6× the CPU (measured on the dev Elasticsearch). So a
//! backfill with `--state` (and without `--keep-refresh`) relaxes each index the first time a batch
//! goes to it: the index is created if it is not there yet (so the template applies), its current
//! value is written to `STATE.refresh` (`state.rs`, synced) and only then set to `-1`. At the end,
//! also after Ctrl-C/SIGTERM, every relaxed index gets its value back and the record is removed;
//! after a kill -9 (or a second Ctrl-C) the record stays, and the next backfill with the same
//! `--state` restores it before anything else. Without `--state` there is no place to remember it,
//! so nothing is relaxed. A cluster that refuses the change (OpenSearch Serverless has no index
//! settings; a user without the `manage` index privilege) is written to as it is.

use crate::cluster::{ClientError, EsClient};
use crate::output::batch::{line, Batch};
use crate::state::{RefreshRecord, Relaxed};
use bytes::Bytes;
use elasticsearch::http::Method;
use serde_json::{json, Value};
use tokio::sync::Mutex;
use tracing::{info, warn};

/// Why refresh could not be relaxed or restored.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// No answer, or credentials refused.
    #[error(transparent)]
    Cluster(#[from] ClientError),
    /// An answer other than success.
    #[error("{what} {index}: HTTP {status}")]
    Refused {
        /// What was asked.
        what: &'static str,
        /// Of which index.
        index: String,
        /// The answer.
        status: u16,
    },
    /// `STATE.refresh` cannot be read or written.
    #[error("{path}: {source}")]
    Record {
        /// The record.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// Relaxes the indices a backfill writes to and restores them.
pub struct RefreshRelax {
    client: EsClient,
    record: RefreshRecord,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Relaxed by this run (and in the record), with the value to restore.
    relaxed: Relaxed,
    /// Indices already handled (relaxed, or found impossible to relax).
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
    /// Restores what an earlier run left relaxed in `record`, then relaxes from scratch.
    pub async fn open(client: EsClient, record: RefreshRecord) -> Result<Self, RefreshError> {
        restore_leftovers(&client, &record).await?;
        Ok(RefreshRelax { client, record, state: Mutex::default() })
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
        state.relaxed.insert(index.to_string(), previous);
        self.record.save(&state.relaxed).map_err(|e| self.record_error(e))?;
        if let Err(e) = put_interval(&self.client, index, &json!("-1")).await {
            state.relaxed.remove(index);
            let _ = self.record.save(&state.relaxed);
            return Err(e);
        }
        info!(index, "refresh off while the backfill writes (restored at the end)");
        Ok(())
    }

    /// Puts every relaxed index back; what cannot be restored stays in the record for the next
    /// run with the same `--state`. True when everything was restored.
    pub async fn restore(&self) -> bool {
        let mut state = self.state.lock().await;
        let relaxed = std::mem::take(&mut state.relaxed);
        let left = restore_all(&self.client, relaxed).await;
        let saved = self.record.save(&left);
        if let Err(e) = &saved {
            warn!("cannot update {}: {e}", self.record.path().display());
        }
        if !left.is_empty() {
            warn!(
                indices = left.len(),
                "refresh not restored yet on {}; a backfill with the same --state restores it",
                left.keys().cloned().collect::<Vec<_>>().join(", ")
            );
        }
        left.is_empty() && saved.is_ok()
    }

    fn record_error(&self, source: std::io::Error) -> RefreshError {
        RefreshError::Record { path: self.record.path().display().to_string(), source }
    }
}

/// Restores what an earlier run recorded in `record` (whether or not this run relaxes anything).
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

async fn put_interval(client: &EsClient, index: &str, value: &Value) -> Result<(), RefreshError> {
    let body = Bytes::from(json!({"index": {"refresh_interval": value}}).to_string());
    let reply =
        client.send(Method::Put, &format!("/{index}/_settings"), Some((body, "application/json"))).await?;
    match reply.status {
        200 => Ok(()),
        status => Err(refused("set the refresh interval of", index, status)),
    }
}

fn refused(what: &'static str, index: &str, status: u16) -> RefreshError {
    RefreshError::Refused { what, index: index.to_string(), status }
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
}
