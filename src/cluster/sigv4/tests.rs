//! Unit tests of the SigV4 signer: fixed vectors derived independently with botocore, the credentials
//! cache, host inference, and errors that carry no secret.

use super::*;
use aws_credential_types::credential_fn::provide_credentials_fn;
use aws_credential_types::provider::error::CredentialsError;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

const KEY: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const TOKEN: &str = "FwoGZXIvYXdzEXAMPLETOKEN";

/// 2024-01-02T03:04:05Z.
fn t0() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_704_164_645)
}

fn header<'a>(headers: &'a [(&'static str, String)], name: &str) -> &'a str {
    headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str()).unwrap_or_else(|| panic!("no {name}"))
}

// The expected values below come from botocore 1.44.8 (`SigV4Auth(creds, service, region).add_auth(req)`
// on an `AWSRequest` with the same method, URL, headers and body, `get_current_datetime` patched to t0);
// the second one passes the query as `params`, which botocore encodes as the SigV4 spec says.

#[test]
fn signs_a_bulk_request_with_session_credentials_like_botocore() {
    let creds = Credentials::new(KEY, SECRET, Some(TOKEN.into()), None, "test");
    let body = b"{\"create\":{\"_index\":\"logs\",\"_id\":\"abc\"}}\n{\"eventName\":\"GetObject\"}\n";
    let url = "https://search-demo-abc123.eu-west-1.es.amazonaws.com/_bulk";
    let headers = [("content-type", "application/x-ndjson")];
    let out = sign_at(&creds, "eu-west-1", Service::Es, t0(), "POST", url, &headers, body).unwrap();
    assert_eq!(header(&out, "x-amz-date"), "20240102T030405Z");
    assert_eq!(
        header(&out, "x-amz-content-sha256"),
        "6a1ab88ba2935db408c1ed959693de6d9ba3e8d627d9f1b7788492278fa672de"
    );
    assert_eq!(header(&out, "x-amz-security-token"), TOKEN);
    assert_eq!(
        header(&out, "authorization"),
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240102/eu-west-1/es/aws4_request, \
         SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token, \
         Signature=dfa2103a7c221fdb79db0973c09ca0fef15068e3de1b81393d9283b52a1663c1"
    );
}

#[test]
fn signs_gzip_bytes_an_encoded_path_and_a_query_for_serverless_like_botocore() {
    let creds = Credentials::new(KEY, SECRET, None, None, "test");
    let gzip = [0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0x01, 0x02, 0xfe];
    let url = "https://abc123xyz.us-east-1.aoss.amazonaws.com/logs-2024.01/_doc/a%2Fb?refresh=false&filter_path=items.*.error";
    let headers = [("content-type", "application/json"), ("content-encoding", "gzip")];
    let out = sign_at(&creds, "us-east-1", Service::Aoss, t0(), "PUT", url, &headers, &gzip).unwrap();
    assert_eq!(
        header(&out, "x-amz-content-sha256"),
        "4c6182cbed96c5835d3195511bcf628cb442cfa31249e68255610b8ba96199ab"
    );
    assert!(!out.iter().any(|(n, _)| *n == "x-amz-security-token"), "no token without session credentials");
    assert_eq!(
        header(&out, "authorization"),
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240102/us-east-1/aoss/aws4_request, \
         SignedHeaders=content-encoding;content-type;host;x-amz-content-sha256;x-amz-date, \
         Signature=d737af943ca6aa1365b2d19fad4c2683e5a2262df875cfc6c540ed78b29b5987"
    );
}

#[test]
fn a_different_body_or_secret_changes_the_signature() {
    let sign = |secret: &str, body: &[u8]| {
        let creds = Credentials::new(KEY, secret, None, None, "test");
        let out =
            sign_at(&creds, "us-east-1", Service::Es, t0(), "POST", "https://h/_bulk", &[], body).unwrap();
        header(&out, "authorization").to_string()
    };
    let base = sign(SECRET, b"a");
    assert_ne!(base, sign(SECRET, b"b"));
    assert_ne!(base, sign("another-secret", b"a"));
}

#[test]
fn request_errors_name_the_method_and_no_secret() {
    let creds = Credentials::new(KEY, SECRET, Some(TOKEN.into()), None, "test");
    let err = sign_at(&creds, "us-east-1", Service::Es, t0(), "GET", "not a url", &[], b"").unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(text.contains("GET"), "{text}");
    assert!(!text.contains(SECRET) && !text.contains(TOKEN), "{text}");
}

/// A provider that answers from `script` in turn (the last answer repeats), counting its calls.
fn scripted(script: Vec<Result<Credentials, &'static str>>) -> (SharedCredentialsProvider, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let script = Arc::new(script);
    let provider = provide_credentials_fn(move || {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        let answer = script[n.min(script.len() - 1)].clone();
        async move { answer.map_err(CredentialsError::provider_error) }
    });
    (SharedCredentialsProvider::new(provider), calls)
}

fn expiring(key: &str, at: SystemTime) -> Credentials {
    Credentials::new(key, SECRET, Some(TOKEN.into()), Some(at), "test")
}

#[tokio::test]
async fn static_credentials_are_fetched_once_then_reread_after_a_while() {
    let (provider, calls) = scripted(vec![Ok(Credentials::new(KEY, SECRET, None, None, "test"))]);
    let signer = Signer::new(provider, "us-east-1", Service::Es);
    for s in [0, 1, 60, 14 * 60] {
        signer.credentials(t0() + Duration::from_secs(s)).await.unwrap();
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    signer.credentials(t0() + Duration::from_secs(16 * 60)).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn temporary_credentials_are_replaced_before_they_expire() {
    let hour = Duration::from_secs(3600);
    let (provider, calls) =
        scripted(vec![Ok(expiring("ASIAFIRST", t0() + hour)), Ok(expiring("ASIASECOND", t0() + 2 * hour))]);
    let signer = Signer::new(provider, "us-east-1", Service::Es);
    assert_eq!(signer.credentials(t0()).await.unwrap().access_key_id(), "ASIAFIRST");
    let later = t0() + hour - Duration::from_secs(6 * 60);
    assert_eq!(signer.credentials(later).await.unwrap().access_key_id(), "ASIAFIRST");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let near_expiry = t0() + hour - Duration::from_secs(4 * 60);
    assert_eq!(signer.credentials(near_expiry).await.unwrap().access_key_id(), "ASIASECOND");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_failed_refresh_keeps_valid_credentials_and_fails_once_they_expired() {
    let hour = Duration::from_secs(3600);
    let (provider, calls) = scripted(vec![Ok(expiring("ASIAFIRST", t0() + hour)), Err("IMDS timed out")]);
    let signer = Signer::new(provider, "us-east-1", Service::Es);
    signer.credentials(t0()).await.unwrap();
    let near_expiry = t0() + hour - Duration::from_secs(60);
    assert_eq!(signer.credentials(near_expiry).await.unwrap().access_key_id(), "ASIAFIRST");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    // Within the retry pause the source is left alone.
    signer.credentials(near_expiry + Duration::from_secs(5)).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    let err = signer.credentials(t0() + hour + Duration::from_secs(1)).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("IMDS timed out") && text.contains("SigV4"), "{text}");
    assert!(!text.contains(SECRET) && !text.contains(TOKEN), "{text}");
}

#[tokio::test]
async fn sign_uses_the_providers_credentials() {
    let (provider, _) = scripted(vec![Ok(Credentials::new("AKIDFROMCHAIN", SECRET, None, None, "test"))]);
    let signer = Signer::new(provider, "eu-west-1", Service::Aoss);
    let out = signer.sign("GET", "https://c.eu-west-1.aoss.amazonaws.com/x/_search", &[], b"").await.unwrap();
    assert!(header(&out, "authorization").contains("Credential=AKIDFROMCHAIN/"));
    assert!(header(&out, "authorization").contains("/eu-west-1/aoss/aws4_request"));
    assert!(!format!("{signer:?}").contains(SECRET));
}

#[test]
fn infers_service_and_region_from_aws_hosts() {
    let cases = [
        ("search-logs-abc123.eu-west-1.es.amazonaws.com", Service::Es, "eu-west-1"),
        ("vpc-logs-abc123.us-gov-west-1.es.amazonaws.com", Service::Es, "us-gov-west-1"),
        ("search-logs-abc123.cn-north-1.es.amazonaws.com.cn", Service::Es, "cn-north-1"),
        ("search-logs-abc123.aos.ap-southeast-2.on.aws", Service::Es, "ap-southeast-2"),
        ("SEARCH-Logs.US-EAST-2.ES.AMAZONAWS.COM.", Service::Es, "us-east-2"),
        ("search-logs.us-east-2.es.amazonaws.com:443", Service::Es, "us-east-2"),
        ("abc123xyz.us-east-1.aoss.amazonaws.com", Service::Aoss, "us-east-1"),
        ("abc123xyz.us-east-1.aoss-fips.amazonaws.com", Service::Aoss, "us-east-1"),
        ("dashboards.eu-central-2.aoss.amazonaws.com", Service::Aoss, "eu-central-2"),
    ];
    for (host, service, region) in cases {
        assert_eq!(service_from_host(host), Some(service), "{host}");
        assert_eq!(region_from_host(host).as_deref(), Some(region), "{host}");
    }
}

#[test]
fn infers_nothing_from_other_hosts() {
    for host in [
        "localhost",
        "127.0.0.1",
        "[::1]:9200",
        "es.example.com",
        "es.us-east-1.amazonaws.com",
        "us-east-1.es.amazonaws.com",
        "aos.us-east-1.on.aws",
        "s3.us-east-1.amazonaws.com",
        "search-x.us-east-1.es.amazonaws.com.evil.example",
        "search-x.notaregion.es.amazonaws.com",
        "search-x.us-east.es.amazonaws.com",
        "search-x..us-east-1.es.amazonaws.com",
        "",
    ] {
        assert_eq!(service_from_host(host), None, "{host}");
        assert_eq!(region_from_host(host), None, "{host}");
    }
}

#[test]
fn service_names_parse_and_print() {
    assert_eq!(Service::parse("es"), Some(Service::Es));
    assert_eq!(Service::parse(" AOSS "), Some(Service::Aoss));
    assert_eq!(Service::parse("s3"), None);
    assert_eq!(Service::Aoss.name(), "aoss");
}
