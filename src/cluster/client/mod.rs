//! The one door to the cluster: every request to Elasticsearch or OpenSearch goes through
//! [`EsClient`], built on the `elasticsearch` crate's transport.
//!
//! It owns the URL, authentication (basic, API key), TLS (custom CA, no verification), gzip
//! request bodies and timeouts, and makes exactly one attempt per call: retrying is the caller's
//! business (`crate::backoff`). With a SigV4 [`Signer`] (Amazon OpenSearch Service, Serverless;
//! [`EsClient::with_signer`]) every request is signed right before it leaves (`signing.rs`).
//! The URL it shows in messages never carries a password.

use super::error::ClientError;
use super::settings::{ClusterSettings, Labels};
use super::sigv4::Signer;
use crate::errors::chain;
use bytes::Bytes;
use elasticsearch::auth::Credentials;
use elasticsearch::cert::{Certificate, CertificateValidation};
use elasticsearch::http::headers::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use elasticsearch::http::transport::{SingleNodeConnectionPool, TransportBuilder};
use elasticsearch::http::{transport::Transport, Method};
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// An HTTP answer: status and body.
#[derive(Debug)]
pub struct Reply {
    /// HTTP status code.
    pub status: u16,
    /// The whole body.
    pub body: Bytes,
}

impl Reply {
    /// The start of the body, for messages.
    pub fn excerpt(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        text.chars().take(300).collect()
    }
}

/// The cluster client.
#[derive(Clone)]
pub struct EsClient {
    transport: Transport,
    url: String,
    timeout: Duration,
    auth: Auth,
    labels: Labels,
    /// With SigV4: the signer, the URL requests are joined to, and whether to gzip bodies ourselves.
    signer: Option<(Arc<Signer>, Url, bool)>,
    serverless: bool,
}

/// Which credentials the client sends, as far as messages may tell.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Auth {
    None,
    Basic { user: String },
    ApiKey,
    SigV4,
}

impl EsClient {
    /// Builds a client; nothing is sent yet. Settings asking for SigV4 need [`EsClient::with_signer`].
    pub fn new(config: &ClusterSettings) -> Result<Self, ClientError> {
        if config.sigv4.is_some() {
            return Err(ClientError::Config("SigV4 is on but no signer was built".into()));
        }
        Self::build(config, None)
    }

    /// A client that signs every request with `signer` (AWS SigV4).
    pub fn with_signer(config: &ClusterSettings, signer: Arc<Signer>) -> Result<Self, ClientError> {
        Self::build(config, Some(signer))
    }

    fn build(config: &ClusterSettings, signer: Option<Arc<Signer>>) -> Result<Self, ClientError> {
        let flag = &config.labels.url;
        let mut url = Url::parse(&config.url)
            .map_err(|e| ClientError::Config(format!("{flag} {:?} is not a URL: {e}", shown(&config.url))))?;
        if !matches!(url.scheme(), "http" | "https") || !url.has_host() {
            let url = shown(&config.url);
            return Err(ClientError::Config(format!("{flag} {url:?} must be an http:// or https:// URL")));
        }
        let mut credentials = basic_from_url(&mut url);
        if let (Some(user), Some(password)) = (&config.user, &config.password) {
            credentials = Some(Credentials::Basic(user.clone(), password.clone()));
        } else if let Some(user) = &config.user {
            credentials = Some(Credentials::Basic(user.clone(), String::new()));
        }
        if let Some(key) = &config.api_key {
            credentials = Some(match key.split_once(':') {
                Some((id, secret)) => Credentials::ApiKey(id.into(), secret.into()),
                None => Credentials::EncodedApiKey(key.clone()),
            });
        }
        if signer.is_some() && credentials.is_some() {
            return Err(ClientError::Config(format!(
                "--aws-sigv4 signs with AWS credentials: give no {}, URL user:password or {} with it",
                config.labels.user, config.labels.api_key_env
            )));
        }
        let auth = match &credentials {
            None if signer.is_some() => Auth::SigV4,
            None => Auth::None,
            Some(Credentials::Basic(user, _)) => Auth::Basic { user: user.clone() },
            Some(_) => Auth::ApiKey,
        };
        let shown_url = url.as_str().trim_end_matches('/').to_string();
        let signer = signer.map(|s| (s, url.clone(), config.compress));
        let mut builder = TransportBuilder::new(SingleNodeConnectionPool::new(url))
            // A signed body is compressed before signing (signing.rs), never by the transport.
            .request_body_compression(config.compress && signer.is_none())
            .enable_meta_header(false)
            .timeout(config.timeout)
            .cert_validation(cert_validation(config)?);
        if let Some(c) = credentials {
            builder = builder.auth(c);
        }
        let transport = builder.build().map_err(|e| ClientError::Config(e.to_string()))?;
        let labels = config.labels.clone();
        let serverless = config.serverless();
        Ok(EsClient { transport, url: shown_url, timeout: config.timeout, auth, labels, signer, serverless })
    }

    /// True for an OpenSearch Serverless collection: no `GET /`, `_nodes`, `_cluster`, `_refresh`, ISM.
    pub fn serverless(&self) -> bool {
        self.serverless
    }

    /// The cluster URL, safe to show.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// One request. `body` is sent with `content_type`.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<(Bytes, &'static str)>,
    ) -> Result<Reply, ClientError> {
        self.send_with_headers(method, path, &[], body).await
    }

    /// One request with extra headers (lowercase names), e.g. Kibana's `kbn-xsrf`.
    pub async fn send_with_headers(
        &self,
        method: Method,
        path: &str,
        extra: &[(&'static str, &'static str)],
        body: Option<(Bytes, &'static str)>,
    ) -> Result<Reply, ClientError> {
        let mut headers = HeaderMap::new();
        for (name, value) in extra {
            headers.insert(HeaderName::from_static(name), HeaderValue::from_static(value));
        }
        let mut body = body.map(|(bytes, content_type)| {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
            bytes
        });
        if let Some((signer, base, compress)) = &self.signer {
            body = super::signing::sign(signer, base, *compress, method, path, &mut headers, body).await?;
        }
        let unreachable = |e: elasticsearch::Error| transport_error(&self.url, &self.labels, chain(&e));
        let response = self
            .transport
            .send(method, path, headers, None::<&()>, body, Some(self.timeout))
            .await
            .map_err(unreachable)?;
        let status = response.status_code().as_u16();
        let body = response.bytes().await.map_err(unreachable)?;
        Ok(Reply { status, body })
    }

    /// `POST path` (a `_bulk` endpoint, with its query) with an NDJSON body.
    pub async fn bulk(&self, path: &str, body: Bytes) -> Result<Reply, ClientError> {
        self.send(Method::Post, path, Some((body, "application/x-ndjson"))).await
    }

    /// A GET whose 401/403 becomes [`ClientError::Unauthorized`].
    pub(crate) async fn checked_get(&self, path: &str) -> Result<Reply, ClientError> {
        let reply = self.send(Method::Get, path, None).await?;
        match reply.status {
            401 | 403 => Err(self.unauthorized(&reply)),
            _ => Ok(reply),
        }
    }

    /// The error for a 401/403: which credentials were refused and what to do about it.
    pub(crate) fn unauthorized(&self, reply: &Reply) -> ClientError {
        let status = reply.status;
        let l = &self.labels;
        let sent = match &self.auth {
            Auth::None => None,
            Auth::Basic { user } => Some(format!("basic auth as user {user:?}")),
            Auth::ApiKey => Some(format!("the API key in {}", l.api_key_env)),
            Auth::SigV4 => {
                let reason = error_reason(&reply.body).or_else(|| aws_message(&reply.body));
                let refusal = super::signing::refusal(status, reason);
                return ClientError::Unauthorized { url: self.url.clone(), status, refusal };
            }
        };
        let api_key = |sep: &str| match l.api_key_env.as_str() {
            "" => String::new(),
            env => format!("{sep}{env}"),
        };
        let refusal = match (status, sent) {
            (401, None) => format!(
                "requires credentials (HTTP 401) and none were given: set {} and {}{}",
                l.user,
                l.password_env,
                api_key(", or ")
            ),
            (401, Some(sent)) => format!(
                "refused our credentials (HTTP 401, {sent}): check {} and {} (or the URL's user:password){}",
                l.user,
                l.password_env,
                match l.api_key_env.as_str() {
                    "" => String::new(),
                    env => format!(", or {env} (the encoded key, or id:key)"),
                }
            ),
            (_, sent) => format!(
                "refused our credentials (HTTP {status}, {}): {}",
                sent.as_deref().unwrap_or("none given"),
                error_reason(&reply.body).unwrap_or_else(|| reply.excerpt())
            ),
        };
        ClientError::Unauthorized { url: self.url.clone(), status, refusal }
    }

    /// The error for an answer we cannot use.
    pub fn unexpected(&self, what: &str, status: u16, reply: &Reply) -> ClientError {
        ClientError::Unexpected { url: self.url.clone(), what: what.into(), status, body: reply.excerpt() }
    }
}

/// The error for a request that got no HTTP answer, with a hint when the cause is a common mistake.
fn transport_error(url: &str, labels: &Labels, reason: String) -> ClientError {
    let url = url.to_string();
    if reason.contains("certificate") {
        let reason = format!(
            "{reason}; the cluster's TLS certificate could not be verified: give the CA that signed it \
             with {} PATH (the certificate must name this host too), or skip verification with {}",
            labels.ca_cert, labels.insecure
        );
        return ClientError::Untrusted { url, reason };
    }
    ClientError::Unreachable { url, reason }
}

/// `error.reason` of an Elasticsearch error answer.
fn error_reason(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value["error"]["reason"].as_str().map(str::to_string)
}

/// `message` of an AWS error answer (`{"message": "..."}`, or `Message`).
fn aws_message(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value["message"].as_str().or(value["Message"].as_str()).map(str::to_string)
}

/// Moves `user:password@` out of the URL into basic credentials.
fn basic_from_url(url: &mut Url) -> Option<Credentials> {
    if url.username().is_empty() {
        return None;
    }
    let decode = |s: &str| percent_decode(s);
    let creds = Credentials::Basic(decode(url.username()), decode(url.password().unwrap_or("")));
    let _ = url.set_username("");
    let _ = url.set_password(None);
    Some(creds)
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// A URL as it may be shown: without its password.
pub fn shown(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("****"));
            u.to_string()
        }
        // A `@` that is not in the user info (`user:password@host` without a scheme parses as a
        // scheme `user` and a path) may still be followed by a password.
        Ok(u) if !u.has_host() && url.contains('@') => "<URL with credentials>".into(),
        Ok(u) => u.to_string(),
        Err(_) if url.contains('@') => "<URL with credentials>".into(),
        Err(_) => url.into(),
    }
}

fn cert_validation(config: &ClusterSettings) -> Result<CertificateValidation, ClientError> {
    if config.insecure {
        return Ok(CertificateValidation::None);
    }
    let Some(path) = &config.ca_cert else { return Ok(CertificateValidation::Default) };
    let pem = std::fs::read(path).map_err(|e| {
        ClientError::Config(format!("cannot read {} {}: {e}", config.labels.ca_cert, path.display()))
    })?;
    let cert = Certificate::from_pem(&pem).map_err(|e| {
        ClientError::Config(format!(
            "{} {} is not a PEM certificate: {e}",
            config.labels.ca_cert,
            path.display()
        ))
    })?;
    Ok(CertificateValidation::Full(cert))
}

#[cfg(test)]
mod tests;
