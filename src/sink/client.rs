//! The one door to the cluster: every request to Elasticsearch or OpenSearch goes through
//! [`EsClient`], built on the `elasticsearch` crate's transport.
//!
//! It owns the URL, authentication (basic, API key), TLS (custom CA, `--insecure`), gzip request
//! bodies and timeouts, and makes exactly one attempt per call: retrying is `retry.rs`'s job.
//! Request signing for Amazon OpenSearch Service will slot in here without touching the pipeline.
//! The URL it shows in messages never carries a password.

use crate::errors::chain;
use bytes::Bytes;
use elasticsearch::auth::Credentials;
use elasticsearch::cert::{Certificate, CertificateValidation};
use elasticsearch::http::headers::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use elasticsearch::http::transport::{SingleNodeConnectionPool, TransportBuilder};
use elasticsearch::http::{transport::Transport, Method};
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;
use url::Url;

/// How to reach and authenticate to the cluster. Its `Debug` hides the secrets.
#[derive(Clone)]
pub struct ClientConfig {
    /// Base URL; a `user:password@` in it is used for basic auth and removed from messages.
    pub url: String,
    /// Basic-auth user.
    pub user: Option<String>,
    /// Basic-auth password (from the environment, never a flag).
    pub password: Option<String>,
    /// API key: the encoded form Elasticsearch returns, or `id:key`.
    pub api_key: Option<String>,
    /// PEM file with the CA that signed the cluster's certificate.
    pub ca_cert: Option<PathBuf>,
    /// Skip certificate verification.
    pub insecure: bool,
    /// Gzip request bodies.
    pub compress: bool,
    /// Time limit for one request.
    pub timeout: Duration,
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hidden = |v: &Option<String>| v.as_ref().map(|_| "<hidden>");
        f.debug_struct("ClientConfig")
            .field("url", &shown(&self.url))
            .field("user", &self.user)
            .field("password", &hidden(&self.password))
            .field("api_key", &hidden(&self.api_key))
            .field("ca_cert", &self.ca_cert)
            .field("insecure", &self.insecure)
            .field("compress", &self.compress)
            .field("timeout", &self.timeout)
            .finish()
    }
}

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
}

/// A problem talking to the cluster. Messages name the URL, never a secret.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The configuration cannot work.
    #[error("invalid Elasticsearch settings: {0}")]
    Config(String),
    /// No HTTP answer (connection refused, DNS, timeout): may pass by itself.
    #[error("cannot reach {url}: {reason}")]
    Unreachable {
        /// The cluster URL without credentials.
        url: String,
        /// What the transport said, with its causes.
        reason: String,
    },
    /// The cluster's TLS certificate is not trusted: a setting to fix, not an outage to wait out.
    #[error("cannot reach {url}: {reason}")]
    Untrusted {
        /// The cluster URL without credentials.
        url: String,
        /// What the transport said, with its causes, and what to do.
        reason: String,
    },
    /// The cluster answered 401/403.
    #[error("{url} {refusal}")]
    Unauthorized {
        /// The cluster URL without credentials.
        url: String,
        /// 401 or 403.
        status: u16,
        /// What was refused and what to do, e.g. `refused our credentials (HTTP 401, …): check …`.
        refusal: String,
    },
    /// The cluster answered something we did not expect.
    #[error("{url} answered HTTP {status} to {what}: {body}")]
    Unexpected {
        /// The cluster URL without credentials.
        url: String,
        /// What we asked.
        what: String,
        /// HTTP status.
        status: u16,
        /// The start of the answer.
        body: String,
    },
}

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
}

/// Which credentials the client sends, as far as messages may tell.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Auth {
    None,
    Basic { user: String },
    ApiKey,
}

impl EsClient {
    /// Builds a client; nothing is sent yet.
    pub fn new(config: &ClientConfig) -> Result<Self, ClientError> {
        let mut url = Url::parse(&config.url)
            .map_err(|e| ClientError::Config(format!("--es {:?} is not a URL: {e}", shown(&config.url))))?;
        if !matches!(url.scheme(), "http" | "https") || !url.has_host() {
            let url = shown(&config.url);
            return Err(ClientError::Config(format!("--es {url:?} must be an http:// or https:// URL")));
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
        let auth = match &credentials {
            None => Auth::None,
            Some(Credentials::Basic(user, _)) => Auth::Basic { user: user.clone() },
            Some(_) => Auth::ApiKey,
        };
        let shown_url = url.as_str().trim_end_matches('/').to_string();
        let mut builder = TransportBuilder::new(SingleNodeConnectionPool::new(url))
            .request_body_compression(config.compress)
            .enable_meta_header(false)
            .timeout(config.timeout)
            .cert_validation(cert_validation(config)?);
        if let Some(c) = credentials {
            builder = builder.auth(c);
        }
        let transport = builder.build().map_err(|e| ClientError::Config(e.to_string()))?;
        Ok(EsClient { transport, url: shown_url, timeout: config.timeout, auth })
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
        let body = body.map(|(bytes, content_type)| {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
            bytes
        });
        let unreachable = |e: elasticsearch::Error| transport_error(&self.url, chain(&e));
        let response = self
            .transport
            .send(method, path, headers, None::<&()>, body, Some(self.timeout))
            .await
            .map_err(unreachable)?;
        let status = response.status_code().as_u16();
        let body = response.bytes().await.map_err(unreachable)?;
        Ok(Reply { status, body })
    }

    /// `POST /_bulk` with an NDJSON body.
    pub async fn bulk(&self, body: Bytes) -> Result<Reply, ClientError> {
        self.send(Method::Post, "/_bulk", Some((body, "application/x-ndjson"))).await
    }

    /// Checks that the cluster answers and accepts our credentials, and learns what it is.
    ///
    /// `GET /` is the usual way; a node without the root endpoint (Elasticsearch's test
    /// distribution answers 405) is asked `GET /_nodes/_local` instead.
    pub async fn info(&self) -> Result<ClusterInfo, ClientError> {
        let reply = self.checked_get("/").await?;
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

    /// A GET whose 401/403 becomes [`ClientError::Unauthorized`].
    async fn checked_get(&self, path: &str) -> Result<Reply, ClientError> {
        let reply = self.send(Method::Get, path, None).await?;
        match reply.status {
            401 | 403 => Err(self.unauthorized(&reply)),
            _ => Ok(reply),
        }
    }

    /// The error for a 401/403: which credentials were refused and what to do about it.
    fn unauthorized(&self, reply: &Reply) -> ClientError {
        let status = reply.status;
        let sent = match &self.auth {
            Auth::None => None,
            Auth::Basic { user } => Some(format!("basic auth as user {user:?}")),
            Auth::ApiKey => Some("the API key in ELASTICSEARCH_API_KEY".to_string()),
        };
        let refusal = match (status, sent) {
            (401, None) => "requires credentials (HTTP 401) and none were given: set --es-user and \
                            ELASTICSEARCH_PASSWORD, or ELASTICSEARCH_API_KEY"
                .to_string(),
            (401, Some(sent)) => format!(
                "refused our credentials (HTTP 401, {sent}): check --es-user and ELASTICSEARCH_PASSWORD \
                 (or the URL's user:password), or ELASTICSEARCH_API_KEY (the encoded key, or id:key)"
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
fn transport_error(url: &str, reason: String) -> ClientError {
    let url = url.to_string();
    if reason.contains("certificate") {
        let reason = format!(
            "{reason}; the cluster's TLS certificate could not be verified: give the CA that signed it \
             with --ca-cert PATH (the certificate must name this host too), or skip verification with --insecure"
        );
        return ClientError::Untrusted { url, reason };
    }
    if url.starts_with("http://") && reason.contains("connection closed before message completed") {
        let reason = format!("{reason}; if the cluster serves HTTPS, use an https:// URL");
        return ClientError::Unreachable { url, reason };
    }
    ClientError::Unreachable { url, reason }
}

/// `error.reason` of an Elasticsearch error answer.
fn error_reason(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value["error"]["reason"].as_str().map(str::to_string)
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

fn cert_validation(config: &ClientConfig) -> Result<CertificateValidation, ClientError> {
    if config.insecure {
        return Ok(CertificateValidation::None);
    }
    let Some(path) = &config.ca_cert else { return Ok(CertificateValidation::Default) };
    let pem = std::fs::read(path)
        .map_err(|e| ClientError::Config(format!("cannot read --ca-cert {}: {e}", path.display())))?;
    let cert = Certificate::from_pem(&pem).map_err(|e| {
        ClientError::Config(format!("--ca-cert {} is not a PEM certificate: {e}", path.display()))
    })?;
    Ok(CertificateValidation::Full(cert))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        assert_eq!(shown("https://bob:s3cret@es.example:9200/"), "https://bob:****@es.example:9200/");
        assert!(!shown("not a url but has bob:s3cret@host").contains("s3cret"));
        let client = EsClient::new(&config("http://bob:p%40ss@127.0.0.1:9/")).unwrap();
        assert_eq!(client.url(), "http://127.0.0.1:9");
    }

    fn config(url: &str) -> ClientConfig {
        ClientConfig {
            url: url.into(),
            user: None,
            password: None,
            api_key: None,
            ca_cert: None,
            insecure: false,
            compress: false,
            timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn a_url_without_scheme_never_shows_its_password() {
        // `user:password@host:port` parses as scheme `user` with a path: it used to reach the
        // "cannot reach" message whole.
        let url = "elastic:s3cret@127.0.0.1:9202";
        assert!(!shown(url).contains("s3cret"), "{}", shown(url));
        let err = EsClient::new(&config(url)).err().expect("not an http(s) URL").to_string();
        assert!(err.contains("must be an http:// or https:// URL") && !err.contains("s3cret"), "{err}");
        let err = EsClient::new(&config("ftp://bob:s3cret@h/")).err().expect("not http(s)").to_string();
        assert!(err.contains("ftp://bob:****@h/") && !err.contains("s3cret"), "{err}");
    }

    #[test]
    fn config_debug_hides_secrets() {
        let config = ClientConfig {
            user: Some("bob".into()),
            password: Some("s3cret".into()),
            api_key: Some("id:k3y".into()),
            ..config("https://bob:urlpass@h:9200")
        };
        let text = format!("{config:?}");
        for secret in ["s3cret", "k3y", "urlpass"] {
            assert!(!text.contains(secret), "{text}");
        }
        assert!(text.contains("bob") && text.contains("<hidden>"), "{text}");
    }

    #[test]
    fn refusals_say_which_credentials_and_what_to_do() {
        let reply = |status, body: &str| Reply { status, body: Bytes::from(body.to_string()) };
        let refusal = |config: ClientConfig, reply: &Reply| {
            EsClient::new(&config).unwrap().unauthorized(reply).to_string()
        };
        let denied = reply(401, r#"{"error":{"reason":"unable to authenticate user [bob]"}}"#);

        let none = refusal(config("https://h:9200"), &denied);
        assert_eq!(
            none,
            "https://h:9200 requires credentials (HTTP 401) and none were given: set --es-user and \
             ELASTICSEARCH_PASSWORD, or ELASTICSEARCH_API_KEY"
        );
        let basic = refusal(config("https://bob:s3cret@h:9200"), &denied);
        assert!(basic
            .starts_with("https://h:9200 refused our credentials (HTTP 401, basic auth as user \"bob\")"));
        assert!(basic.contains("ELASTICSEARCH_PASSWORD") && !basic.contains("s3cret"), "{basic}");
        let key =
            refusal(ClientConfig { api_key: Some("id:k3y".into()), ..config("https://h:9200") }, &denied);
        assert!(
            key.contains("(HTTP 401, the API key in ELASTICSEARCH_API_KEY)") && !key.contains("k3y"),
            "{key}"
        );

        let forbidden = reply(403, r#"{"error":{"reason":"action [cluster:monitor/main] is unauthorized"}}"#);
        let no_privilege = refusal(config("https://bob:s3cret@h:9200"), &forbidden);
        assert_eq!(
            no_privilege,
            "https://h:9200 refused our credentials (HTTP 403, basic auth as user \"bob\"): \
             action [cluster:monitor/main] is unauthorized"
        );
    }

    #[test]
    fn transport_errors_get_a_hint_for_common_mistakes() {
        let tls = "client error (Connect): invalid peer certificate: UnknownIssuer";
        match transport_error("https://h:9200", tls.into()) {
            ClientError::Untrusted { reason, .. } => {
                assert!(reason.starts_with(tls) && reason.contains("--ca-cert PATH"), "{reason}")
            }
            other => panic!("a certificate problem is not an outage: {other:?}"),
        }
        let plain = "client error (SendRequest): connection closed before message completed";
        let hinted = transport_error("http://h:9200", plain.into()).to_string();
        assert!(hinted.ends_with("completed; if the cluster serves HTTPS, use an https:// URL"), "{hinted}");
        let not_hinted = transport_error("https://h:9200", plain.into()).to_string();
        assert_eq!(not_hinted, format!("cannot reach https://h:9200: {plain}"));
        let refused = transport_error("http://h:9200", "tcp connect error: Connection refused".into());
        assert!(matches!(refused, ClientError::Unreachable { .. }));
    }

    #[test]
    fn url_credentials_are_decoded() {
        let mut url = Url::parse("http://bob:p%40ss+w@h/").unwrap();
        match basic_from_url(&mut url) {
            Some(Credentials::Basic(u, p)) => assert_eq!((u.as_str(), p.as_str()), ("bob", "p@ss+w")),
            _ => panic!("expected basic credentials"),
        }
        assert_eq!(url.as_str(), "http://h/");
    }
}
