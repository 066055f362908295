//! AWS Signature Version 4 for the cluster client. Amazon OpenSearch Service domains with IAM access
//! control (service `es`) and every OpenSearch Serverless collection (service `aoss`) accept only signed
//! requests, so each request the client sends (probe, setup, bulk, saved objects) goes through
//! [`Signer::sign`] right before it leaves, and again on every retry: a signature is valid for minutes only.
//!
//! What is signed is what is sent: the exact URL (already percent-encoded, as it goes on the wire), the
//! headers the caller passes (`content-type`, `content-encoding`…), and the body bytes as sent, i.e. the
//! gzip'd bytes under `--compress`. `x-amz-content-sha256` is always added (Serverless requires it; domains
//! accept it), and `x-amz-security-token` whenever the credentials carry a session token.
//!
//! Credentials. `SdkConfig::credentials_provider()` is the bare provider chain, *not* a cache: since
//! behaviour version 2024-03-28 aws-config puts caching in a separate identity cache
//! (`SdkConfig::identity_cache`, `IdentityCache::lazy()`) that only the SDK's own clients consult, through
//! their orchestrator (see aws-config's `ConfigLoader::load`, and the SDK's "AWS Credentials Cache Upgrade
//! Guide", awslabs/aws-sdk-rust discussion 923, for custom signers). Asking the chain on every request would
//! mean an IMDS, ECS or STS call per request, so [`Signer`] keeps the credentials itself: reused until five
//! minutes before their expiry (credentials without expiry, e.g. static keys: re-read every 15 minutes), then
//! fetched again, one fetch at a time. If a refresh fails while the current credentials are still valid,
//! those are used (with a warning, retrying the source at most every 10 s) until they expire; a follower runs
//! for weeks on temporary credentials and should ride out a short outage of its credential source.
//!
//! Secrets: no error or log line here carries the secret key, the session token or a signature.

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{self, PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use std::time::{Duration, SystemTime};

/// Temporary credentials are replaced this long before they expire.
const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(5 * 60);
/// Credentials without an expiry are fetched again after this long (a rotated profile file, say).
const REREAD_STATIC: Duration = Duration::from_secs(15 * 60);
/// After a failed refresh, the credential source is not asked again for this long.
const RETRY_FAILED_REFRESH: Duration = Duration::from_secs(10);

/// The AWS service a cluster belongs to: the service name in the signature's credential scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    /// An Amazon OpenSearch Service domain: `es`.
    Es,
    /// An OpenSearch Serverless collection: `aoss`.
    Aoss,
}

impl Service {
    /// The name signed in the credential scope.
    pub fn name(self) -> &'static str {
        match self {
            Service::Es => "es",
            Service::Aoss => "aoss",
        }
    }

    /// `es` or `aoss` (as given to `--aws-sigv4-service`).
    pub fn parse(name: &str) -> Option<Service> {
        match name.trim().to_ascii_lowercase().as_str() {
            "es" => Some(Service::Es),
            "aoss" => Some(Service::Aoss),
            _ => None,
        }
    }
}

/// Why a request could not be signed. Messages never contain credentials or signatures.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The SDK configuration has no credentials provider at all.
    #[error("SigV4: no AWS credentials provider is configured")]
    NoProvider,
    /// Neither an explicit region nor the SDK configuration's region, and none in the endpoint host.
    #[error("SigV4: no AWS region to sign for (pass --aws-region, or use the cluster's AWS endpoint host)")]
    NoRegion,
    /// The credentials provider failed and no valid credentials are at hand.
    #[error("SigV4: no AWS credentials to sign with: {0}")]
    Credentials(String),
    /// The request itself could not be signed (an unparsable URL or header).
    #[error("SigV4: cannot sign the {method} request: {reason}")]
    Request {
        /// The HTTP method.
        method: String,
        /// What the signing library said (no header values, no URL).
        reason: String,
    },
}

/// Credentials fetched from the provider, with when to fetch again.
struct Cached {
    creds: Credentials,
    fetched: SystemTime,
    /// Set after a failed refresh: do not ask the source again before this time.
    retry_at: Option<SystemTime>,
}

impl Cached {
    /// Good to use without asking the provider.
    fn fresh(&self, now: SystemTime) -> bool {
        if self.retry_at.is_some_and(|t| now < t) && self.valid(now) {
            return true;
        }
        match self.creds.expiry() {
            Some(expiry) => now + REFRESH_BEFORE_EXPIRY < expiry,
            None => now.duration_since(self.fetched).map_or(true, |age| age < REREAD_STATIC),
        }
    }

    /// Not yet expired.
    fn valid(&self, now: SystemTime) -> bool {
        self.creds.expiry().is_none_or(|expiry| now < expiry)
    }
}

/// Signs cluster requests with the credentials of a provider (normally the standard AWS chain).
pub struct Signer {
    provider: SharedCredentialsProvider,
    region: String,
    service: Service,
    cached: tokio::sync::Mutex<Option<Cached>>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("region", &self.region).field("service", &self.service).finish()
    }
}

impl Signer {
    /// A signer for `service` in `region` with the credentials of `provider`.
    pub fn new(provider: SharedCredentialsProvider, region: impl Into<String>, service: Service) -> Self {
        Signer { provider, region: region.into(), service, cached: tokio::sync::Mutex::new(None) }
    }

    /// A signer with the SDK configuration's credentials chain, for `region` (else the configuration's).
    pub fn from_sdk_config(
        config: &aws_config::SdkConfig,
        region: Option<&str>,
        service: Service,
    ) -> Result<Self, SignError> {
        let provider = config.credentials_provider().ok_or(SignError::NoProvider)?;
        let region = match region {
            Some(r) => r.to_string(),
            None => config.region().ok_or(SignError::NoRegion)?.to_string(),
        };
        Ok(Signer::new(provider, region, service))
    }

    /// The signing region.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The signing service.
    pub fn service(&self) -> Service {
        self.service
    }

    /// The headers to add to the request `method url` with `headers` and `body` (as sent):
    /// `authorization`, `x-amz-date`, `x-amz-content-sha256` and, with session credentials,
    /// `x-amz-security-token`. `url` must be the encoded URL exactly as it is sent. The values are secret
    /// (a signature, a token): put them on the request, never in a log line.
    pub async fn sign(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Vec<(&'static str, String)>, SignError> {
        let creds = self.credentials(SystemTime::now()).await?;
        sign_at(&creds, &self.region, self.service, SystemTime::now(), method, url, headers, body)
    }

    /// The credentials to sign with at `now`: the cached ones, or fresh ones from the provider.
    async fn credentials(&self, now: SystemTime) -> Result<Credentials, SignError> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref().filter(|c| c.fresh(now)) {
            return Ok(c.creds.clone());
        }
        match self.provider.provide_credentials().await {
            Ok(creds) => {
                *cached = Some(Cached { creds: creds.clone(), fetched: now, retry_at: None });
                Ok(creds)
            }
            Err(e) => match cached.as_mut().filter(|c| c.valid(now)) {
                Some(c) => {
                    tracing::warn!(
                        error = %error_chain(&e),
                        "refreshing the AWS credentials failed; signing with the current ones until they expire"
                    );
                    c.retry_at = Some(now + RETRY_FAILED_REFRESH);
                    Ok(c.creds.clone())
                }
                None => Err(SignError::Credentials(error_chain(&e))),
            },
        }
    }
}

/// Signs with `creds` at `time`: the headers to add (see [`Signer::sign`]).
#[allow(clippy::too_many_arguments)]
fn sign_at(
    creds: &Credentials,
    region: &str,
    service: Service,
    time: SystemTime,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Vec<(&'static str, String)>, SignError> {
    let fail = |reason: String| SignError::Request { method: method.to_string(), reason };
    let identity = creds.clone().into();
    let mut settings = SigningSettings::default();
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service.name())
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| fail(e.to_string()))?
        .into();
    let request = SignableRequest::new(method, url, headers.iter().copied(), SignableBody::Bytes(body))
        .map_err(|e| fail(error_chain(&e)))?;
    let (instructions, _signature) =
        http_request::sign(request, &params).map_err(|e| fail(error_chain(&e)))?.into_parts();
    Ok(instructions.into_parts().0.into_iter().map(|h| (h.name(), h.value().to_string())).collect())
}

/// An error and its sources, `: `-separated (the SDK's errors put the useful part in the sources).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// The service of an AWS endpoint host: `*.REGION.es.amazonaws.com` (and `.com.cn`, and the dual-stack
/// `*.aos.REGION.on.aws`) is a domain, `*.REGION.aoss.amazonaws.com` (and `aoss-fips`, `.com.cn`) a
/// Serverless collection. Anything else (a custom endpoint, a proxy, localhost): `None`.
pub fn service_from_host(host: &str) -> Option<Service> {
    aws_host(host).map(|(service, _)| service)
}

/// The region of an AWS endpoint host (see [`service_from_host`]), e.g. `eu-west-1`.
pub fn region_from_host(host: &str) -> Option<String> {
    aws_host(host).map(|(_, region)| region)
}

/// Service and region of an AWS OpenSearch endpoint host; the host may carry a port or a final dot.
fn aws_host(host: &str) -> Option<(Service, String)> {
    let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
    let host = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name.to_string(),
        _ => host,
    };
    let labels: Vec<&str> = host.split('.').collect();
    // The index of the region label, and how many labels must precede it (the domain or collection
    // name, plus `aos` in the dual-stack form). `es.REGION.amazonaws.com`, the control-plane API, has
    // the region after `es`, and matches nothing here.
    let (service, at, before) = match labels.as_slice() {
        [.., "aos", _, "on", "aws"] => (Service::Es, labels.len() - 3, 2),
        _ => {
            let service_at = match labels.as_slice() {
                [.., "amazonaws", "com"] => labels.len() - 3,
                [.., "amazonaws", "com", "cn"] => labels.len() - 4,
                _ => return None,
            };
            let service = match labels[service_at] {
                "es" => Service::Es,
                "aoss" | "aoss-fips" => Service::Aoss,
                _ => return None,
            };
            (service, service_at.checked_sub(1)?, 1)
        }
    };
    let region = labels[at];
    (at >= before && labels[..at].iter().all(|l| !l.is_empty()) && is_region(region))
        .then(|| (service, region.to_string()))
}

/// `us-east-1`, `eu-central-2`, `us-gov-west-1`, `cn-north-1`…
fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1].iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].parse::<u8>().is_ok()
}

#[cfg(test)]
mod tests;
