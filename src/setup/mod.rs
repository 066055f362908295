//! `setup`: prepares the cluster so that every CloudTrail event is indexable.
//!
//! Installs the index template for `PREFIX-*` from `mappings/` (embedded at build time): explicit
//! types for CloudTrail's documented fields, and `flattened` (Elasticsearch) or `flat_object`
//! (OpenSearch) for the free-form objects whose shapes vary per API. `backfill` runs this once at
//! start unless `--no-setup`.

use crate::sink::client::{ClientError, ClusterInfo, EsClient, Flavor};
use bytes::Bytes;
use elasticsearch::http::Method;
use tracing::info;

const ES_TEMPLATE: &str = include_str!("../../mappings/elasticsearch-template.json");
const OS_TEMPLATE: &str = include_str!("../../mappings/opensearch-template.json");

/// The index template body for this cluster and prefix.
///
/// Its priority grows with the prefix length: templates for `cloudtrail-*` and
/// `cloudtrail-prod-*` overlap, the cluster refuses overlapping templates of equal priority, and
/// the longer (more specific) prefix should win.
pub fn template_for(flavor: Flavor, prefix: &str) -> String {
    let text = match flavor {
        Flavor::Elasticsearch => ES_TEMPLATE,
        Flavor::OpenSearch => OS_TEMPLATE,
    };
    text.replace("{{PREFIX}}", prefix).replace("{{PRIORITY}}", &(200 + prefix.len()).to_string())
}

/// Installs (or updates) the index template named after the prefix.
pub async fn install_template(
    client: &EsClient,
    cluster: &ClusterInfo,
    prefix: &str,
) -> Result<(), ClientError> {
    let body = Bytes::from(template_for(cluster.flavor, prefix));
    let path = format!("/_index_template/{prefix}");
    let reply = client.send(Method::Put, &path, Some((body, "application/json"))).await?;
    if reply.status != 200 {
        return Err(client.unexpected(&format!("PUT {path}"), reply.status, &reply));
    }
    info!("index template {prefix} installed for {prefix}-*");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_json_for_the_prefix() {
        for flavor in [Flavor::Elasticsearch, Flavor::OpenSearch] {
            let t: serde_json::Value = serde_json::from_str(&template_for(flavor, "ct")).unwrap();
            assert_eq!(t["index_patterns"][0], "ct-*");
            assert_eq!(t["template"]["mappings"]["date_detection"], false);
            assert_eq!(t["priority"], 202);
        }
        let os: serde_json::Value = serde_json::from_str(&template_for(Flavor::OpenSearch, "ct")).unwrap();
        assert_eq!(os["template"]["mappings"]["properties"]["requestParameters"]["type"], "flat_object");
    }
}
