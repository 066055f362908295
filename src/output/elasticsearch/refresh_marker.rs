//! Where a relaxed index keeps the refresh interval to put back: in its own mapping's `_meta`,
//! `_meta.cloudtrail_es.refresh_to_restore` (a string, or `null` for "not set on the index: the
//! cluster's default").
//!
//! Kept in the index, not in a local file, so that it survives a kill -9 of the backfill and any
//! later run of any command against the cluster, from any machine, finds it: `backfill`, `follow`
//! and `replay` (when they open the cluster output) and `setup` call [`restore_interrupted`]. That
//! costs one request when nothing is left (the refresh intervals of `PREFIX-*`, filtered on the
//! server), and one more when some index has refresh off: its `_meta`, to tell an index a crashed
//! backfill left relaxed from one a user switched off (left alone).
//!
//! The marker is written before refresh is switched off and removed after it is restored, so that
//! a kill at any point leaves either nothing to do or a marker to act on. A marker left on an
//! index whose refresh is on (killed between the two requests of a restore) is ignored, and
//! overwritten by the next relaxation. Both Elasticsearch and OpenSearch accept `_meta` updates on
//! an existing index; the update replaces the whole `_meta`, so it is read and merged first.

use crate::cluster::{ClientError, EsClient};
use bytes::Bytes;
use elasticsearch::http::Method;
use serde_json::{json, Map, Value};
use tracing::{info, warn};

/// Our object in `_meta`.
const OURS: &str = "cloudtrail_es";
/// Its key holding the value to restore.
const KEY: &str = "refresh_to_restore";

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

/// The value a relaxed index is to get back (`None`: unset it).
pub type Previous = Option<String>;

/// The index's mapping `_meta` (empty when it has none).
async fn meta(client: &EsClient, index: &str) -> Result<Map<String, Value>, RefreshError> {
    let reply =
        client.send(Method::Get, &format!("/{index}/_mapping?filter_path=*.mappings._meta"), None).await?;
    if reply.status != 200 {
        return Err(refused("read the mapping of", index, reply.status));
    }
    let body: Value = serde_json::from_slice(&reply.body).unwrap_or_default();
    Ok(body[index]["mappings"]["_meta"].as_object().cloned().unwrap_or_default())
}

/// The value to restore that `meta` holds, if it holds one.
fn marker(meta: &Map<String, Value>) -> Option<Previous> {
    let value = meta.get(OURS)?.as_object()?.get(KEY)?;
    match value {
        Value::Null => Some(None),
        Value::String(s) => Some(Some(s.clone())),
        _ => None,
    }
}

async fn put_meta(client: &EsClient, index: &str, meta: Map<String, Value>) -> Result<(), RefreshError> {
    let body = Bytes::from(json!({ "_meta": meta }).to_string());
    let reply =
        client.send(Method::Put, &format!("/{index}/_mapping"), Some((body, "application/json"))).await?;
    match reply.status {
        200 => Ok(()),
        status => Err(refused("write the mapping _meta of", index, status)),
    }
}

/// The marker of `index`, if it has one.
pub async fn read(client: &EsClient, index: &str) -> Result<Option<Previous>, RefreshError> {
    Ok(marker(&meta(client, index).await?))
}

/// Records on `index` that its refresh is to become `previous` again.
pub async fn mark(client: &EsClient, index: &str, previous: &Previous) -> Result<(), RefreshError> {
    let mut meta = meta(client, index).await?;
    let ours = meta.entry(OURS).or_insert_with(|| json!({}));
    if !ours.is_object() {
        *ours = json!({});
    }
    ours[KEY] = previous.as_deref().map_or(Value::Null, |v| json!(v));
    put_meta(client, index, meta).await
}

/// Removes the marker of `index` (the rest of its `_meta` is kept).
pub async fn unmark(client: &EsClient, index: &str) -> Result<(), RefreshError> {
    let mut meta = meta(client, index).await?;
    let Some(ours) = meta.get_mut(OURS).and_then(Value::as_object_mut) else { return Ok(()) };
    if ours.remove(KEY).is_none() {
        return Ok(());
    }
    if ours.is_empty() {
        meta.remove(OURS);
    }
    put_meta(client, index, meta).await
}

/// Puts back what a backfill stopped before its end (kill -9, a second Ctrl-C, a crash) left
/// relaxed among `PREFIX-*`; returns how many indices were restored. `dry_run`: only counts them.
pub async fn restore_interrupted(
    client: &EsClient,
    prefix: &str,
    dry_run: bool,
) -> Result<usize, RefreshError> {
    let pattern = format!("{prefix}-*");
    let path =
        format!("/{pattern}/_settings/index.refresh_interval?filter_path=*.settings.index.refresh_interval");
    let reply = client.send(Method::Get, &path, None).await?;
    if reply.status != 200 {
        return Err(refused("read the refresh intervals of", &pattern, reply.status));
    }
    let body: Value = serde_json::from_slice(&reply.body).unwrap_or_default();
    let off: Vec<&String> = body
        .as_object()
        .map(|indices| {
            let is_off = |v: &Value| v["settings"]["index"]["refresh_interval"].as_str() == Some("-1");
            indices.iter().filter(|(_, v)| is_off(v)).map(|(name, _)| name).collect()
        })
        .unwrap_or_default();
    if off.is_empty() {
        return Ok(0);
    }
    // One request for the markers of all of them (a list of names could outgrow a URL).
    let reply = client
        .send(Method::Get, &format!("/{pattern}/_mapping?filter_path=*.mappings._meta.{OURS}"), None)
        .await?;
    if reply.status != 200 {
        return Err(refused("read the mappings of", &pattern, reply.status));
    }
    let metas: Value = serde_json::from_slice(&reply.body).unwrap_or_default();
    let mut restored = 0;
    for index in off {
        let Some(meta) = metas[index.as_str()]["mappings"]["_meta"].as_object() else { continue };
        let Some(previous) = marker(meta) else { continue };
        if !dry_run {
            if let Err(e) = restore(client, index, &previous).await {
                warn!("{}: cannot restore the refresh of {index}: {e}", client.url());
                continue;
            }
        }
        restored += 1;
    }
    if restored > 0 && !dry_run {
        info!(indices = restored, "refresh restored where an interrupted backfill had switched it off");
    }
    Ok(restored)
}

/// Gives `index` its refresh interval back, then removes its marker. A deleted index is fine.
pub async fn restore(client: &EsClient, index: &str, previous: &Previous) -> Result<(), RefreshError> {
    let value = previous.as_deref().map_or(Value::Null, |v| json!(v));
    match put_interval(client, index, &value).await {
        Ok(()) => {}
        Err(RefreshError::Refused { status: 404, .. }) => return Ok(()),
        Err(e) => return Err(e),
    }
    match unmark(client, index).await {
        Err(RefreshError::Refused { status: 404, .. }) => Ok(()),
        other => other,
    }
}

/// Sets `index.refresh_interval` of `index` to `value` (`null`: unset).
pub async fn put_interval(client: &EsClient, index: &str, value: &Value) -> Result<(), RefreshError> {
    let body = Bytes::from(json!({"index": {"refresh_interval": value}}).to_string());
    let reply =
        client.send(Method::Put, &format!("/{index}/_settings"), Some((body, "application/json"))).await?;
    match reply.status {
        200 => Ok(()),
        status => Err(refused("set the refresh interval of", index, status)),
    }
}

/// The error for an answer `status` to `what` of `index`.
pub fn refused(what: &'static str, index: &str, status: u16) -> RefreshError {
    RefreshError::Refused { what, index: index.to_string(), status }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_is_read_from_our_object_only() {
        let meta = |v: Value| v.as_object().cloned().unwrap();
        assert_eq!(marker(&meta(json!({}))), None);
        assert_eq!(marker(&meta(json!({"cloudtrail_es": {}}))), None);
        assert_eq!(marker(&meta(json!({"refresh_to_restore": "1s"}))), None, "not ours");
        assert_eq!(marker(&meta(json!({"cloudtrail_es": {"refresh_to_restore": null}}))), Some(None));
        assert_eq!(
            marker(&meta(json!({"cloudtrail_es": {"refresh_to_restore": "7s"}}))),
            Some(Some("7s".into()))
        );
        assert_eq!(marker(&meta(json!({"cloudtrail_es": {"refresh_to_restore": 7}}))), None);
    }
}
