//! Problems talking to the cluster, each a value the caller can act on: an outage to wait out
//! ([`ClientError::Unreachable`]) is told apart from settings to fix (everything else). Messages
//! name the URL, never a secret.

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
