//! The client's side of SigV4 (the signer itself is `sigv4.rs`): what a signed request looks like on
//! the wire, and what to say when AWS refuses one.
//!
//! The signature covers the body as sent, so with a signer the client compresses bodies itself
//! (`content-encoding: gzip`, the transport's own compression off: it would gzip after signing) and
//! signs the exact URL the transport sends, `base.join(path)` as the `elasticsearch` crate forms it.
//! Each call signs afresh, so a retried request carries a new date and signature. The signature
//! headers are marked sensitive and are never logged.

use super::error::ClientError;
use super::sigv4::{SignError, Signer};
use bytes::Bytes;
use elasticsearch::http::headers::{HeaderMap, HeaderName, HeaderValue, CONTENT_ENCODING};
use elasticsearch::http::Method;
use std::io::Write;
use url::Url;

/// Signs one request: compresses `body` when `compress`, adds the SigV4 headers to `headers`
/// (which already hold the content type and the caller's extras), and returns the body to send.
pub(super) async fn sign(
    signer: &Signer,
    base: &Url,
    compress: bool,
    method: Method,
    path: &str,
    headers: &mut HeaderMap,
    body: Option<Bytes>,
) -> Result<Option<Bytes>, ClientError> {
    let body = match body {
        Some(bytes) if compress => {
            headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            Some(Bytes::from(gzip(&bytes)))
        }
        other => other,
    };
    let url = base
        .join(path.trim_start_matches('/'))
        .map_err(|e| ClientError::Config(format!("SigV4: cannot form the URL of {path:?}: {e}")))?;
    let signed: Vec<(&str, &str)> =
        headers.iter().filter_map(|(n, v)| Some((n.as_str(), v.to_str().ok()?))).collect();
    let body_bytes = body.as_deref().unwrap_or_default();
    let added = signer.sign(method_name(method), url.as_str(), &signed, body_bytes).await.map_err(|e| {
        match e {
            // The credential source may be down for a moment (IMDS, STS): an outage to wait out.
            SignError::Credentials(_) => ClientError::Unreachable {
                url: base.as_str().trim_end_matches('/').to_string(),
                reason: credentials_hint(e.to_string()),
            },
            other => ClientError::Config(other.to_string()),
        }
    })?;
    for (name, value) in added {
        let mut value = HeaderValue::try_from(value)
            .map_err(|_| ClientError::Config("SigV4: a signature header is not valid HTTP".into()))?;
        value.set_sensitive(true);
        headers.insert(HeaderName::from_static(name), value);
    }
    Ok(body)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    // Writes into a Vec cannot fail.
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

fn method_name(method: Method) -> &'static str {
    match method {
        Method::Get => "GET",
        Method::Put => "PUT",
        Method::Post => "POST",
        Method::Delete => "DELETE",
        Method::Head => "HEAD",
    }
}

/// A credentials failure, with the usual cause in a container on EC2 when the instance metadata
/// service does not answer.
fn credentials_hint(reason: String) -> String {
    let lower = reason.to_ascii_lowercase();
    if lower.contains("imds") || lower.contains("169.254.169.254") || lower.contains("timed out") {
        format!(
            "{reason}; in a container on EC2, IMDSv2 answers only with a hop limit of 2 or more \
             (aws ec2 modify-instance-metadata-options --http-put-response-hop-limit 2), or give the \
             task or pod its own role"
        )
    } else {
        reason
    }
}

/// The refusal text of a 401/403 to a signed request: AWS's own reason (`message` in its JSON, or an
/// OpenSearch `error.reason` when the domain's fine-grained access control refused the IAM role).
pub(super) fn refusal(status: u16, reason: Option<String>) -> String {
    let reason = reason.unwrap_or_else(|| "no reason given".into());
    format!(
        "refused our SigV4-signed request (HTTP {status}): {reason}; check the AWS credentials (--profile, \
         the AWS_* variables, the role), the signing region (--aws-region) and service (--aws-sigv4-service), \
         and that the domain's or collection's access policy (and, for fine-grained access control, the \
         role mapping) allows this IAM identity"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imds_timeouts_get_the_hop_limit_hint() {
        assert!(credentials_hint("IMDS: timed out".into()).contains("hop limit of 2"));
        assert_eq!(credentials_hint("no profile named x".into()), "no profile named x");
    }

    #[test]
    fn a_refusal_names_sigv4_and_what_to_check() {
        let text = refusal(403, Some("The security token included in the request is invalid.".into()));
        assert!(
            text.starts_with("refused our SigV4-signed request (HTTP 403): The security token"),
            "{text}"
        );
        assert!(text.contains("--aws-region"), "{text}");
    }
}
