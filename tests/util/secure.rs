//! The TLS + security Elasticsearch from `scripts/dev/dev-stack.sh up elasticsearch-secure`: its URL,
//! the `elastic` user's password, its CA file, and requests to it as `elastic`. Requests go through
//! `curl`, because ureq is built here without TLS.

use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

/// The secure cluster, checked to answer.
pub struct Secure {
    /// `https://127.0.0.1:9202` (env `CLOUDTRAIL_ES_TEST_SECURE`).
    pub url: String,
    /// The `elastic` user's password (env `ES_SECURE_PASSWORD`, as for dev-stack.sh).
    pub password: String,
    /// The PEM file of the CA that signed the node's certificate.
    pub ca: PathBuf,
}

/// An API key made by `POST /_security/api_key`.
pub struct ApiKey {
    pub id: String,
    pub key: String,
    /// base64 of `id:key`, as Elasticsearch hands it out.
    pub encoded: String,
}

impl Secure {
    /// Finds the cluster, failing the test with a hint when it is not up.
    pub fn get() -> Secure {
        let url =
            std::env::var("CLOUDTRAIL_ES_TEST_SECURE").unwrap_or_else(|_| "https://127.0.0.1:9202".into());
        let password = std::env::var("ES_SECURE_PASSWORD").unwrap_or_else(|_| "dev-only-s3cret-9202".into());
        let secure = Secure { url, password, ca: ca_file() };
        let (status, health) = secure.request("GET", "/_cluster/health", None);
        assert_eq!(
            status, 200,
            "no secure cluster at {}: start it with `scripts/dev/dev-stack.sh up elasticsearch-secure` ({health})",
            secure.url
        );
        secure
    }

    /// `METHOD PATH` with an optional JSON body, as `elastic`: the status and the JSON answer.
    pub fn request(&self, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
        let mut curl = Command::new("curl");
        curl.args(["-s", "-m", "30", "-X", method, "-w", "\n%{http_code}", "--cacert"]).arg(&self.ca);
        curl.args(["-u", &format!("elastic:{}", self.password)]);
        if let Some(body) = body {
            curl.args(["-H", "content-type: application/json", "--data-binary", body]);
        }
        let out = curl.arg(format!("{}{path}", self.url)).output().expect("running curl");
        let text = String::from_utf8_lossy(&out.stdout);
        let (body, status) = text.rsplit_once('\n').unwrap_or(("", &text));
        (status.trim().parse().unwrap_or(0), serde_json::from_str(body).unwrap_or(Value::Null))
    }

    /// A new API key, valid for an hour.
    pub fn api_key(&self, name: &str) -> ApiKey {
        let body = format!(r#"{{"name":"{name}","expiration":"1h"}}"#);
        let (status, reply) = self.request("POST", "/_security/api_key", Some(&body));
        assert_eq!(status, 200, "cannot create an API key: {reply}");
        let field = |f: &str| reply[f].as_str().unwrap_or_else(|| panic!("no {f} in {reply}")).to_string();
        ApiKey { id: field("id"), key: field("api_key"), encoded: field("encoded") }
    }

    /// Whether document `id` is in index `index`.
    pub fn has_doc(&self, index: &str, id: &str) -> bool {
        let (_, reply) = self.request("GET", &format!("/{index}/_doc/{id}"), None);
        reply["found"] == true
    }

    /// Removes the test's indices and template.
    pub fn clean(&self, prefix: &str) {
        self.request("DELETE", &format!("/{prefix}-*"), None);
        self.request("DELETE", &format!("/_index_template/{prefix}"), None);
    }
}

/// The CA file: env `CLOUDTRAIL_ES_TEST_SECURE_CA`, else where dev-stack.sh puts it (its run dir is
/// `CLOUDTRAIL_ES_STACK_DIR`, `/var/tmp/cloudtrail-es` as root, or the cache dir).
fn ca_file() -> PathBuf {
    if let Ok(path) = std::env::var("CLOUDTRAIL_ES_TEST_SECURE_CA") {
        return path.into();
    }
    let env = |name: &str| std::env::var(name).ok().map(PathBuf::from);
    let cache = env("CLOUDTRAIL_ES_CACHE").or_else(|| env("HOME").map(|h| h.join(".cache/cloudtrail-es")));
    let stacks = [env("CLOUDTRAIL_ES_STACK_DIR"), Some("/var/tmp/cloudtrail-es".into()), cache];
    let candidates: Vec<PathBuf> =
        stacks.into_iter().flatten().map(|dir| dir.join("run/elasticsearch-secure/certs/ca.pem")).collect();
    candidates.iter().find(|p| p.is_file()).cloned().unwrap_or_else(|| {
        panic!("no CA file at {candidates:?}: start `scripts/dev/dev-stack.sh up elasticsearch-secure`")
    })
}

/// Standard base64 with padding (what an `Authorization: Basic` header carries).
pub fn base64(data: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | (b as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn base64_is_the_standard_one() {
    assert_eq!(base64(b"elastic:dev-only-s3cret-9202"), "ZWxhc3RpYzpkZXYtb25seS1zM2NyZXQtOTIwMg==");
    assert_eq!(base64(b"ab"), "YWI=");
    assert_eq!(base64(b"abc"), "YWJj");
}
