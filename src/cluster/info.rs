//! What is on the other end: Elasticsearch or OpenSearch, and which version.
//!
//! Learnt once at start ([`EsClient::info`]); setup picks its templates by it, and the bulk output
//! its request options. `GET /` is the usual way to ask; a node without the root endpoint
//! (Elasticsearch's test distribution answers 405) is asked `GET /_nodes/_local` instead.

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
    /// Version number as reported, e.g. `8.19.2`.
    pub version: String,
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
        let reply = self.checked_get("/").await.map_err(https_hint)?;
        if reply.status == 200 {
            let root: RootInfo =
                serde_json::from_slice(&reply.body).map_err(|_| self.unexpected("GET /", 200, &reply))?;
            let flavor = match root.version.distribution.as_deref() {
                Some("opensearch") => Flavor::OpenSearch,
                _ => Flavor::Elasticsearch,
            };
            return Ok(ClusterInfo { flavor, version: root.version.number });
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
        Ok(ClusterInfo { flavor, version: node.version })
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
