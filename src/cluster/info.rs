//! What is on the other end: Elasticsearch or OpenSearch, and which version.
//!
//! Learnt once at start ([`EsClient::info`]); setup picks its templates by it, and the bulk output
//! its request options. `GET /` is the usual way to ask; a node without the root endpoint
//! (Elasticsearch's test distribution answers 405) is asked `GET /_nodes/_local` instead.
//! OpenSearch Serverless has neither (nor `_cluster/health`): a Serverless client asks for an index
//! template instead, which proves the signature is accepted, and says so rather than fail a probe.

use super::client::EsClient;
use super::error::ClientError;
use serde::Deserialize;

/// Which server is on the other end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// Elasticsearch.
    Elasticsearch,
    /// OpenSearch.
    OpenSearch,
}

/// What `GET /` said.
#[derive(Clone, Debug)]
pub struct ClusterInfo {
    /// Elasticsearch or OpenSearch.
    pub flavor: Flavor,
    /// Version number as reported, e.g. `8.19.2` (`serverless` for OpenSearch Serverless).
    pub version: String,
    /// OpenSearch Serverless: no cluster APIs, no ISM, no version.
    pub serverless: bool,
}

impl ClusterInfo {
    /// The major version, 0 if unreadable.
    pub fn major(&self) -> u32 {
        self.version.split('.').next().and_then(|m| m.parse().ok()).unwrap_or(0)
    }

    /// `(major, minor)`, 0 where unreadable.
    pub fn major_minor(&self) -> (u32, u32) {
        let mut parts = self.version.split('.').map(|p| p.parse().unwrap_or(0));
        (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
    }
}

impl EsClient {
    /// Checks that the cluster answers and accepts our credentials, and learns what it is.
    pub async fn info(&self) -> Result<ClusterInfo, ClientError> {
        if self.serverless() {
            return self.serverless_info().await;
        }
        let reply = self.checked_get("/").await.map_err(https_hint)?;
        if reply.status == 200 {
            let root: RootInfo =
                serde_json::from_slice(&reply.body).map_err(|_| self.unexpected("GET /", 200, &reply))?;
            let flavor = match root.version.distribution.as_deref() {
                Some("opensearch") => Flavor::OpenSearch,
                _ => Flavor::Elasticsearch,
            };
            return Ok(ClusterInfo { flavor, version: root.version.number, serverless: false });
        }
        let path = "/_nodes/_local?filter_path=nodes.*.version,nodes.*.build_flavor,nodes.*.build_type";
        let reply = self.checked_get(path).await?;
        if reply.status != 200 {
            return Err(self.unexpected("GET /_nodes/_local", reply.status, &reply));
        }
        let nodes: NodesInfo =
            serde_json::from_slice(&reply.body).map_err(|_| self.unexpected(path, 200, &reply))?;
        let node = nodes.nodes.into_values().next().ok_or_else(|| self.unexpected(path, 200, &reply))?;
        // Elasticsearch nodes report a build_flavor ("default"); OpenSearch nodes do not.
        let flavor = if node.build_flavor.is_some() { Flavor::Elasticsearch } else { Flavor::OpenSearch };
        Ok(ClusterInfo { flavor, version: node.version, serverless: false })
    }

    /// Serverless: any answer but 401/403 to a supported endpoint means we are let in.
    async fn serverless_info(&self) -> Result<ClusterInfo, ClientError> {
        tracing::info!(
            "{} is OpenSearch Serverless: not probing GET /, _nodes or _cluster/health (Serverless has none)",
            self.url()
        );
        let path = "/_index_template/cloudtrail-es-probe";
        let reply = self.checked_get(path).await?;
        if !matches!(reply.status, 200 | 404) {
            return Err(self.unexpected(&format!("GET {path}"), reply.status, &reply));
        }
        Ok(ClusterInfo { flavor: Flavor::OpenSearch, version: "serverless".into(), serverless: true })
    }
}

/// The text with which an OpenSearch Serverless time-series collection refuses a custom `_id`.
const ID_REFUSED: &str = "Document ID is not supported";

impl EsClient {
    /// Whether the cluster takes documents with our own `_id` (a Serverless time-series collection
    /// does not): creates one empty document with an id in the scratch index `index`, then deletes
    /// the index. Asked at start, so that a collection that would refuse every event is found before
    /// anything is read.
    pub async fn accepts_ids(&self, index: &str) -> Result<bool, ClientError> {
        let path = format!("/{index}/_create/cloudtrail-es-id-check");
        let body = Some((bytes::Bytes::from_static(b"{}"), "application/json"));
        let reply = self.send(elasticsearch::http::Method::Put, &path, body).await?;
        match reply.status {
            200 | 201 | 409 => {
                let gone = self.send(elasticsearch::http::Method::Delete, &format!("/{index}"), None).await?;
                if !matches!(gone.status, 200 | 404) {
                    tracing::warn!("could not delete the scratch index {index}: HTTP {}", gone.status);
                }
                Ok(true)
            }
            400 if String::from_utf8_lossy(&reply.body).contains(ID_REFUSED) => Ok(false),
            401 | 403 => Err(self.unauthorized(&reply)),
            status => Err(self.unexpected(&format!("PUT {path}"), status, &reply)),
        }
    }
}

#[derive(Deserialize)]
struct RootInfo {
    version: RootVersion,
}

#[derive(Deserialize)]
struct RootVersion {
    number: String,
    #[serde(default)]
    distribution: Option<String>,
}

#[derive(Deserialize)]
struct NodesInfo {
    nodes: std::collections::HashMap<String, NodeInfo>,
}

#[derive(Deserialize)]
struct NodeInfo {
    version: String,
    #[serde(default)]
    build_flavor: Option<String>,
}

/// At start (and only then: mid-run, a dropped connection is an outage), a plain-HTTP URL whose
/// server hangs up on us most likely speaks HTTPS.
fn https_hint(err: ClientError) -> ClientError {
    match err {
        ClientError::Unreachable { url, reason }
            if url.starts_with("http://")
                && reason.contains("connection closed before message completed") =>
        {
            let reason = format!("{reason}; if the cluster serves HTTPS, use an https:// URL");
            ClientError::Unreachable { url, reason }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hang_up_on_plain_http_suggests_https() {
        let plain = "client error (SendRequest): connection closed before message completed";
        let err = |url: &str| ClientError::Unreachable { url: url.into(), reason: plain.into() };
        let hinted = https_hint(err("http://h:9200")).to_string();
        assert!(hinted.ends_with("completed; if the cluster serves HTTPS, use an https:// URL"), "{hinted}");
        assert_eq!(
            https_hint(err("https://h:9200")).to_string(),
            format!("cannot reach https://h:9200: {plain}")
        );
    }
}
