//! The stand-in for Amazon OpenSearch Service / Serverless (tests/fixtures/sigv4-proxy.py in front of the real
//! OpenSearch) is itself strict, so that the tool's SigV4 tests prove something: unsigned, mis-signed,
//! stale, tampered or wrongly scoped requests are refused with 403 and never reach OpenSearch; correctly
//! signed ones (signed here with the `aws-sigv4` crate directly) are forwarded. In Serverless mode the
//! cluster APIs answer 404 and a time-series collection refuses custom `_id`s as AWS does.

use crate::util::aws::runtime;
use crate::util::sigv4::{
    moto_assume_role, send, sign_at, signed, Creds, Mode, Sigv4Proxy, ACCESS_KEY, REGION,
};
use crate::util::{prefix, Cluster};
use serde_json::Value;
use std::time::{Duration, SystemTime};

const NDJSON: &[(&str, &str)] = &[("content-type", "application/x-ndjson")];
const JSON: &[(&str, &str)] = &[("content-type", "application/json")];
const ID_REFUSED: &str = "Document ID is not supported in create/index operation request";

fn message(body: &Value) -> &str {
    body["message"].as_str().unwrap_or_default()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn unsigned_requests_are_refused() {
    let proxy = Sigv4Proxy::start(Mode::Domain, &[Creds::test()]);
    let (status, body) = send(&format!("{}/_cluster/health", proxy.url), "GET", &[], &[], b"");
    assert_eq!(status, 403, "{body}");
    assert!(message(&body).contains("anonymous is not authorized"), "{body}");
    assert_eq!(proxy.stat("forwarded"), 0);
}

#[test]
fn only_the_right_secret_and_a_known_key_are_forwarded() {
    let proxy = Sigv4Proxy::start(Mode::Domain, &[Creds::test()]);
    let (status, body) =
        signed(&proxy, &Creds::new(ACCESS_KEY, "not-the-secret"), "GET", "/_cluster/health", &[], b"");
    assert_eq!(status, 403, "{body}");
    assert!(message(&body).contains("signature we calculated does not match"), "{body}");
    let (status, body) = signed(&proxy, &Creds::new("AKIDUNKNOWN", "x"), "GET", "/_cluster/health", &[], b"");
    assert_eq!(status, 403, "{body}");
    assert_eq!(proxy.stat("UnrecognizedClientException"), 1);
    let (status, body) = signed(&proxy, &Creds::test(), "GET", "/_cluster/health", &[], b"");
    assert_eq!(status, 200, "{body}\n{}", proxy.log());
    assert!(body["cluster_name"].is_string(), "{body}");
    assert_eq!(proxy.stat("forwarded"), 1);
}

#[test]
fn bodies_queries_and_encoded_paths_are_signed_and_forwarded() {
    let (proxy, os, p) =
        (Sigv4Proxy::start(Mode::Domain, &[Creds::test()]), Cluster::os(), prefix("sigv4-fwd"));
    let doc = br#"{"eventName":"GetObject","eventSource":"s3.amazonaws.com"}"#;
    let path = format!("/{p}-docs/_doc/a%2Fb%20c?refresh=true");
    let (status, body) = signed(&proxy, &Creds::test(), "PUT", &path, JSON, doc);
    assert_eq!(status, 201, "{body}\n{}", proxy.log());
    let (status, body) = signed(
        &proxy,
        &Creds::test(),
        "GET",
        &format!("/{p}-*/_search?q=eventName:GetObject&size=5"),
        &[],
        b"",
    );
    assert_eq!(status, 200, "{body}\n{}", proxy.log());
    assert_eq!(body["hits"]["hits"][0]["_id"], "a/b c", "{body}");
    os.clean(&p);
}

#[test]
fn a_tampered_body_is_refused_and_reaches_nothing() {
    let (proxy, os, p) =
        (Sigv4Proxy::start(Mode::Domain, &[Creds::test()]), Cluster::os(), prefix("sigv4-tamper"));
    let url = format!("{}/{p}-docs/_doc?refresh=true", proxy.url);
    let (good, evil) = (br#"{"eventName":"GetObject"}"#, br#"{"eventName":"DelObject"}"#);
    let mut auth = sign_at(&Creds::test(), "es", SystemTime::now(), ("POST", &url, JSON, good), true);
    let (status, body) = send(&url, "POST", JSON, &auth, evil);
    assert_eq!(status, 403, "{body}");
    assert!(message(&body).contains("x-amz-content-sha256"), "{body}");
    // With the body hash header fixed up to match, the signature (over the original hash) no longer does.
    auth.iter_mut().filter(|(n, _)| n == "x-amz-content-sha256").for_each(|(_, v)| *v = sha256_hex(evil));
    let (status, body) = send(&url, "POST", JSON, &auth, evil);
    assert_eq!(status, 403, "{body}");
    assert!(message(&body).contains("signature we calculated does not match"), "{body}");
    assert_eq!(proxy.stat("forwarded"), 0);
    assert_eq!(os.status(&format!("/{p}-docs")), 404, "nothing may reach OpenSearch");
}

#[test]
fn gzip_bodies_are_checked_as_sent() {
    let (proxy, os, p) =
        (Sigv4Proxy::start(Mode::Domain, &[Creds::test()]), Cluster::os(), prefix("sigv4-gzip"));
    let bulk = format!("{{\"create\":{{\"_index\":\"{p}-docs\"}}}}\n{{\"a\":1}}\n{{\"create\":{{\"_index\":\"{p}-docs\"}}}}\n{{\"a\":2}}\n");
    let gz = gzip(bulk.as_bytes());
    let headers: &[(&str, &str)] = &[NDJSON[0], ("content-encoding", "gzip")];
    let url = format!("{}/_bulk", proxy.url);
    let over_plain =
        sign_at(&Creds::test(), "es", SystemTime::now(), ("POST", &url, headers, bulk.as_bytes()), true);
    let (status, body) = send(&url, "POST", headers, &over_plain, &gz);
    assert_eq!(status, 403, "signed over the uncompressed bytes: {body}");
    let (status, body) = signed(&proxy, &Creds::test(), "POST", "/_bulk", headers, &gz);
    assert_eq!(status, 200, "{body}\n{}", proxy.log());
    assert_eq!(body["errors"], false, "{body}");
    assert_eq!(os.count(&p), 2);
    os.clean(&p);
}

#[test]
fn session_tokens_expiry_and_rotation_are_enforced() {
    let sts = moto_assume_role("sigv4-proxy-test");
    assert!(sts.access_key.starts_with("ASIA") && sts.expires.is_some(), "{:?}", sts.access_key);
    let proxy = Sigv4Proxy::start(Mode::Domain, std::slice::from_ref(&sts));
    assert_eq!(signed(&proxy, &sts, "GET", "/_cluster/health", &[], b"").0, 200, "{}", proxy.log());
    let no_token = Creds::new(&sts.access_key, &sts.secret);
    let (status, body) = signed(&proxy, &no_token, "GET", "/_cluster/health", &[], b"");
    assert_eq!((status, message(&body)), (403, "The security token included in the request is invalid."));
    let wrong_token = Creds::session(&sts.access_key, &sts.secret, "FQoGZXIvYXdzEWRONG", None);
    assert_eq!(signed(&proxy, &wrong_token, "GET", "/_cluster/health", &[], b"").0, 403);

    // Expired mid-run: the proxy re-reads its credentials file on change.
    let expired = Creds { expires: Some(SystemTime::now() - Duration::from_secs(1)), ..sts.clone() };
    proxy.set_credentials(&[expired]);
    let (status, body) = signed(&proxy, &sts, "GET", "/_cluster/health", &[], b"");
    assert_eq!((status, message(&body)), (403, "The security token included in the request is expired"));

    // Rotated: the old keys are refused, the new ones accepted.
    proxy.set_credentials(&[Creds::test()]);
    assert_eq!(signed(&proxy, &sts, "GET", "/_cluster/health", &[], b"").0, 403);
    assert_eq!(signed(&proxy, &Creds::test(), "GET", "/_cluster/health", &[], b"").0, 200);
    assert_eq!(proxy.stat("forwarded"), 2);
}

#[test]
fn stale_future_or_misscoped_signatures_are_refused() {
    let proxy = Sigv4Proxy::start(Mode::Domain, &[Creds::test()]);
    let url = format!("{}/_cluster/health", proxy.url);
    let at = |time: SystemTime, service: &str| {
        let auth = sign_at(&Creds::test(), service, time, ("GET", &url, &[], b""), true);
        send(&url, "GET", &[], &auth, b"")
    };
    let minutes = |m: u64| Duration::from_secs(m * 60);
    let (status, body) = at(SystemTime::now() - minutes(10), "es");
    assert_eq!(status, 403, "{body}");
    assert!(message(&body).starts_with("Signature expired"), "{body}");
    assert_eq!(at(SystemTime::now() + minutes(10), "es").0, 403);
    assert_eq!(at(SystemTime::now() - minutes(4), "es").0, 200, "within the 5 minutes AWS allows");
    let (status, body) = at(SystemTime::now(), "aoss");
    assert_eq!(status, 403, "{body}");
    assert!(message(&body).contains("correct service: 'es'"), "{body}");
}

#[test]
fn serverless_answers_404_to_cluster_apis_and_allows_ids_in_search_collections() {
    let (proxy, os, p) =
        (Sigv4Proxy::start(Mode::ServerlessSearch, &[Creds::test()]), Cluster::os(), prefix("sigv4-aoss"));
    let (status, _) = send(&format!("{}/", proxy.url), "GET", &[], &[], b"");
    assert_eq!(status, 403, "authentication comes first");
    let missing = [
        ("GET", "/".to_string()),
        ("HEAD", "/".to_string()),
        ("GET", "/_nodes".to_string()),
        ("GET", "/_nodes/stats/jvm".to_string()),
        ("GET", "/_cluster/health".to_string()),
        ("POST", "/_refresh".to_string()),
        ("POST", format!("/{p}-docs/_refresh")),
        ("GET", "/_cat/nodes".to_string()),
        ("GET", "/_plugins/_ism/policies".to_string()),
    ];
    for (method, path) in &missing {
        let (status, body) = signed(&proxy, &Creds::test(), method, path, &[], b"");
        assert_eq!(status, 404, "{method} {path}: {body}");
    }
    assert_eq!(proxy.stat("serverless_404"), missing.len() as u64);
    assert_eq!(signed(&proxy, &Creds::test(), "GET", "/_cat/indices?format=json", &[], b"").0, 200);

    // Serverless requires the body hash header.
    let url = format!("{}/_cat/indices", proxy.url);
    let auth = sign_at(&Creds::test(), "aoss", SystemTime::now(), ("GET", &url, &[], b""), false);
    let (status, body) = send(&url, "GET", &[], &auth, b"");
    assert_eq!(status, 403, "{body}");
    assert!(message(&body).contains("x-amz-content-sha256"), "{body}");

    // A search collection takes custom ids.
    let (status, body) =
        signed(&proxy, &Creds::test(), "PUT", &format!("/{p}-docs/_doc/one"), JSON, b"{\"a\":1}");
    assert_eq!(status, 201, "{body}");
    let bulk = format!("{{\"create\":{{\"_index\":\"{p}-docs\",\"_id\":\"two\"}}}}\n{{\"a\":2}}\n");
    let (status, body) = signed(&proxy, &Creds::test(), "POST", "/_bulk", NDJSON, bulk.as_bytes());
    assert_eq!((status, &body["errors"]), (200, &Value::Bool(false)), "{body}");
    assert_eq!(os.count(&p), 2);
    os.clean(&p);
}

#[test]
fn time_series_serverless_refuses_custom_ids() {
    let (proxy, os, p) =
        (Sigv4Proxy::start(Mode::ServerlessTimeSeries, &[Creds::test()]), Cluster::os(), prefix("sigv4-ts"));
    let i = format!("{p}-docs");
    let bulk = format!(
        "{{\"create\":{{\"_index\":\"{i}\",\"_id\":\"c1\"}}}}\n{{\"a\":1}}\n\
         {{\"index\":{{\"_id\":\"i1\"}}}}\n{{\"a\":2}}\n\
         {{\"index\":{{}}}}\n{{\"a\":3}}\n\
         {{\"delete\":{{\"_id\":\"nope\"}}}}\n\
         {{\"create\":{{\"_index\":\"{i}\"}}}}\n{{\"a\":4}}\n"
    );
    let (status, body) =
        signed(&proxy, &Creds::test(), "POST", &format!("/{i}/_bulk"), NDJSON, bulk.as_bytes());
    assert_eq!(status, 200, "{body}\n{}", proxy.log());
    assert_eq!(body["errors"], true, "{body}");
    let items = body["items"].as_array().unwrap();
    let status_of = |n: usize, op: &str| items[n][op]["status"].as_u64().unwrap();
    assert_eq!(items.len(), 5, "{body}");
    assert_eq!((status_of(0, "create"), status_of(1, "index")), (400, 400), "{body}");
    assert_eq!(items[0]["create"]["error"]["reason"], ID_REFUSED);
    assert_eq!(items[1]["index"]["_index"], i.as_str());
    assert_eq!(
        (status_of(2, "index"), status_of(3, "delete"), status_of(4, "create")),
        (201, 404, 201),
        "{body}"
    );
    assert_eq!(os.count(&p), 2, "only the two documents without an _id");

    // Gzip'd, and with filter_path applied to the whole answer.
    let gz = gzip(format!("{{\"create\":{{\"_index\":\"{i}\",\"_id\":\"g1\"}}}}\n{{\"a\":5}}\n").as_bytes());
    let headers: &[(&str, &str)] = &[NDJSON[0], ("content-encoding", "gzip")];
    let (status, body) =
        signed(&proxy, &Creds::test(), "POST", "/_bulk?filter_path=errors,items.*.error", headers, &gz);
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        serde_json::json!({"errors": true, "items": [{"create": {"error": {"type": "illegal_argument_exception", "reason": ID_REFUSED}}}]})
    );

    for (method, path) in [("PUT", format!("/{i}/_doc/x")), ("POST", format!("/{i}/_create/x"))] {
        let (status, body) = signed(&proxy, &Creds::test(), method, &path, JSON, b"{\"a\":6}");
        assert_eq!(
            (status, body["error"]["reason"].as_str()),
            (400, Some(ID_REFUSED)),
            "{method} {path}: {body}"
        );
    }
    let (status, body) = signed(&proxy, &Creds::test(), "POST", &format!("/{i}/_doc"), JSON, b"{\"a\":7}");
    assert_eq!(status, 201, "{body}");
    assert_eq!(os.count(&p), 3);
    assert_eq!(proxy.stat("id_refused"), 5);
    os.clean(&p);
}

#[test]
fn the_tools_signer_is_accepted_for_domains_and_serverless() {
    use aws_credential_types::provider::SharedCredentialsProvider;
    use cloudtrail_es::cluster::sigv4::{Service, Signer};
    let (sts, os, p, rt) =
        (moto_assume_role("sigv4-signer"), Cluster::os(), prefix("sigv4-signer"), runtime());
    for (mode, service) in [(Mode::Domain, Service::Es), (Mode::ServerlessSearch, Service::Aoss)] {
        let proxy = Sigv4Proxy::start(mode, std::slice::from_ref(&sts));
        let creds = aws_credential_types::Credentials::new(
            &sts.access_key,
            &sts.secret,
            sts.token.clone(),
            sts.expires,
            "t",
        );
        let signer = Signer::new(SharedCredentialsProvider::new(creds), REGION, service);
        let send_signed = |method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]| {
            let auth = rt.block_on(signer.sign(method, url, headers, body)).expect("signing");
            let auth: Vec<(String, String)> = auth.into_iter().map(|(n, v)| (n.to_string(), v)).collect();
            send(url, method, headers, &auth, body)
        };
        let bulk = format!("{{\"create\":{{\"_index\":\"{p}-docs\"}}}}\n{{\"eventName\":\"GetObject\"}}\n");
        let headers: &[(&str, &str)] = &[NDJSON[0], ("content-encoding", "gzip")];
        let url = format!("{}/_bulk?refresh=true&filter_path=errors,items.*.error", proxy.url);
        let (status, body) = send_signed("POST", &url, headers, &gzip(bulk.as_bytes()));
        assert_eq!(
            (status, &body["errors"]),
            (200, &Value::Bool(false)),
            "{mode:?}: {body}\n{}",
            proxy.log()
        );
        let url = format!("{}/{p}-*,{p}-none*/_count?q=eventName:Get*", proxy.url);
        let (status, body) = send_signed("GET", &url, &[], b"");
        assert_eq!(status, 200, "{mode:?}: {body}\n{}", proxy.log());
        assert!(body["count"].as_u64().unwrap() >= 1, "{body}");
    }
    assert_eq!(os.count(&p), 2);
    os.clean(&p);
}
