//! The cluster client as the commands build it. With SigV4 the signer comes first: it needs the
//! AWS configuration (profile, region, the credential chain), which only loads asynchronously, so it
//! is built here rather than in `cluster/` (which knows no command and loads nothing).

use crate::cluster::sigv4::Signer;
use crate::cluster::{shown, ClusterSettings, EsClient};
use std::sync::Arc;
use tracing::info;

/// A client for `settings`; with SigV4 settings, one that signs every request.
pub async fn build(settings: &ClusterSettings) -> anyhow::Result<EsClient> {
    let Some(sigv4) = &settings.sigv4 else { return Ok(EsClient::new(settings)?) };
    let config = crate::aws::sdk_config(&sigv4.aws).await;
    let signer = Signer::from_sdk_config(&config, sigv4.region.as_deref(), sigv4.service)?;
    info!(
        "signing requests to {} with AWS SigV4 (service {}, region {})",
        shown(&settings.url),
        signer.service().name(),
        signer.region()
    );
    Ok(EsClient::with_signer(settings, Arc::new(signer))?)
}
