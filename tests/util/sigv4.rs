//! The stand-in for Amazon OpenSearch Service / Serverless: `tests/fixtures/sigv4-proxy.py`, a SigV4-checking
//! reverse proxy in front of the dev stack's real OpenSearch, started on a free port for one test and
//! stopped when dropped. Its credentials live in a file of the test's own, rewritten to rotate or expire
//! them mid-run. It runs on the Python of the dev stack's venv (botocore comes with moto there).
//!
//! Also here: a request signer built straight on the `aws-sigv4` crate (not on the tool's signer, so the
//! proxy's own tests do not depend on the code under test), and session credentials from moto's STS.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, SystemTime};

/// The region the proxy expects in signatures.
pub const REGION: &str = "us-east-1";
/// Long-term test credentials.
pub const ACCESS_KEY: &str = "AKIDSIGV4PROXYTEST";
/// Their secret.
pub const SECRET: &str = "sigv4-proxy-test-secret/not-a-real-one";

/// One set of credentials the proxy accepts.
#[derive(Clone, Debug)]
pub struct Creds {
    pub access_key: String,
    pub secret: String,
    pub token: Option<String>,
    pub expires: Option<SystemTime>,
}

impl Creds {
    /// Long-term keys (no token, no expiry).
    pub fn new(access_key: &str, secret: &str) -> Self {
        Creds { access_key: access_key.into(), secret: secret.into(), token: None, expires: None }
    }

    /// The default test keys.
    pub fn test() -> Self {
        Creds::new(ACCESS_KEY, SECRET)
    }

    /// Session credentials.
    pub fn session(access_key: &str, secret: &str, token: &str, expires: Option<SystemTime>) -> Self {
        Creds { token: Some(token.into()), expires, ..Creds::new(access_key, secret) }
    }

    fn to_json(&self) -> Value {
        let mut v = serde_json::json!({ "AccessKeyId": self.access_key, "SecretAccessKey": self.secret });
        if let Some(t) = &self.token {
            v["SessionToken"] = t.clone().into();
        }
        if let Some(e) = self.expires {
            v["Expiration"] = e.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs_f64().into();
        }
        v
    }
}

/// How the proxy behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// An OpenSearch Service domain: service `es`.
    Domain,
    /// A Serverless search collection: service `aoss`, no cluster APIs, custom `_id` allowed.
    ServerlessSearch,
    /// A Serverless time-series collection: as search, and custom `_id` refused on create/index.
    ServerlessTimeSeries,
}

impl Mode {
    /// The signing service name.
    pub fn service(self) -> &'static str {
        if self == Mode::Domain {
            "es"
        } else {
            "aoss"
        }
    }
}

/// A running proxy; stopped on drop.
pub struct Sigv4Proxy {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    pub mode: Mode,
    child: Child,
    stdin: Option<ChildStdin>,
    dir: tempfile::TempDir,
}

/// The Python with botocore: `$CLOUDTRAIL_ES_TEST_PYTHON`, else the dev stack's venv (see scripts/common.sh).
pub fn python() -> PathBuf {
    if let Ok(p) = std::env::var("CLOUDTRAIL_ES_TEST_PYTHON") {
        return p.into();
    }
    let cache = std::env::var("CLOUDTRAIL_ES_CACHE")
        .unwrap_or_else(|_| format!("{}/.cache/cloudtrail-es", std::env::var("HOME").unwrap_or_default()));
    let py = Path::new(&cache).join("venv/bin/python");
    assert!(py.exists(), "no {} (scripts/dev/dev-stack.sh up moto makes it, with botocore)", py.display());
    py
}

impl Sigv4Proxy {
    /// Starts a proxy to the dev stack's OpenSearch that accepts `creds`.
    pub fn start(mode: Mode, creds: &[Creds]) -> Self {
        Self::start_with(mode, creds, &[])
    }

    /// As [`Sigv4Proxy::start`], with extra command-line arguments.
    pub fn start_with(mode: Mode, creds: &[Creds], args: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sigv4-proxy.py");
        let log = std::fs::File::create(dir.path().join("proxy.log")).unwrap();
        write_creds(&dir.path().join("creds.json"), creds);
        let mut cmd = Command::new(python());
        cmd.arg(script)
            .args(["--upstream", &super::os_url(), "--region", REGION, "--exit-on-stdin-eof"])
            .args(["--max-seconds", "900", "--credentials-file"])
            .arg(dir.path().join("creds.json"))
            .args(args);
        match mode {
            Mode::Domain => {}
            Mode::ServerlessSearch => {
                cmd.args(["--serverless", "search"]);
            }
            Mode::ServerlessTimeSeries => {
                cmd.args(["--serverless", "timeseries"]);
            }
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("starting sigv4-proxy.py");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
        let Ok(port) = line.trim().parse::<u16>() else {
            let _ = child.kill();
            let _ = child.wait();
            let log = std::fs::read_to_string(dir.path().join("proxy.log")).unwrap_or_default();
            panic!("sigv4-proxy.py did not start: {line:?}\n{log}");
        };
        Sigv4Proxy { url: format!("http://127.0.0.1:{port}"), mode, child, stdin, dir }
    }

    /// Replaces the accepted credentials (atomically: the proxy re-reads the file when it changes).
    pub fn set_credentials(&self, creds: &[Creds]) {
        write_creds(&self.dir.path().join("creds.json"), creds);
    }

    /// The proxy's counters: `forwarded`, one per refusal type (`InvalidSignatureException`…),
    /// `serverless_404`, `id_refused`.
    pub fn stats(&self) -> Value {
        ureq::get(&format!("{}/_sigv4_proxy/stats", self.url)).call().unwrap().into_json().unwrap()
    }

    /// One counter (0 when absent).
    pub fn stat(&self, name: &str) -> u64 {
        self.stats()[name].as_u64().unwrap_or(0)
    }

    /// What the proxy logged (one line per refused request).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("proxy.log")).unwrap_or_default()
    }
}

impl Drop for Sigv4Proxy {
    fn drop(&mut self) {
        // Closing stdin makes the proxy exit by itself; SIGKILL if it does not within 5 s.
        drop(self.stdin.take());
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write_creds(path: &Path, creds: &[Creds]) {
    let doc = Value::Array(creds.iter().map(Creds::to_json).collect());
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, doc.to_string()).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// The SigV4 headers for a request, signed with `creds` at `time` for `service` in [`REGION`], with
/// `x-amz-content-sha256` unless `body_hash_header` is false.
pub fn sign_at(
    creds: &Creds,
    service: &str,
    time: SystemTime,
    request: (&str, &str, &[(&str, &str)], &[u8]),
    body_hash_header: bool,
) -> Vec<(String, String)> {
    use aws_sigv4::http_request::{
        sign, PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings,
    };
    let (method, url, headers, body) = request;
    let identity = aws_credential_types::Credentials::new(
        &creds.access_key,
        &creds.secret,
        creds.token.clone(),
        creds.expires,
        "tests",
    )
    .into();
    let mut settings = SigningSettings::default();
    if body_hash_header {
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    }
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(REGION)
        .name(service)
        .time(time)
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let signable =
        SignableRequest::new(method, url, headers.iter().copied(), SignableBody::Bytes(body)).unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    instructions.headers().map(|(n, v)| (n.to_string(), v.to_string())).collect()
}

/// Status and body of a request through `proxy`'s URL with `extra` headers (the signature, usually).
pub fn send(
    url: &str,
    method: &str,
    headers: &[(&str, &str)],
    extra: &[(String, String)],
    body: &[u8],
) -> (u16, Value) {
    let mut req = ureq::request(method, url);
    for (n, v) in headers {
        req = req.set(n, v);
    }
    for (n, v) in extra {
        req = req.set(n, v);
    }
    let resp = match req.send_bytes(body) {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {url}: {e}"),
    };
    let status = resp.status();
    let text = resp.into_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// Signs `method url` now with `creds` for the proxy's service and sends it.
pub fn signed(
    proxy: &Sigv4Proxy,
    creds: &Creds,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Value) {
    let url = format!("{}{path}", proxy.url);
    let auth = sign_at(creds, proxy.mode.service(), SystemTime::now(), (method, &url, headers, body), true);
    send(&url, method, headers, &auth, body)
}

/// Session credentials from moto's STS `AssumeRole` (moto returns them in XML; it checks no signature).
pub fn moto_assume_role(session: &str) -> Creds {
    let body = format!(
        "Action=AssumeRole&Version=2011-06-15&RoleArn=arn:aws:iam::123456789012:role/sigv4-proxy\
         &RoleSessionName={session}&DurationSeconds=900"
    );
    let xml = ureq::post(super::aws::moto_url())
        .set("content-type", "application/x-www-form-urlencoded")
        .set("authorization", "AWS4-HMAC-SHA256 Credential=testing/20240101/us-east-1/sts/aws4_request")
        .send_string(&body)
        .unwrap_or_else(|e| panic!("AssumeRole on moto at {}: {e}", super::aws::moto_url()))
        .into_string()
        .unwrap();
    let field = |name: &str| {
        let start =
            xml.find(&format!("<{name}>")).unwrap_or_else(|| panic!("no {name} in {xml}")) + name.len() + 2;
        xml[start..start + xml[start..].find('<').unwrap()].to_string()
    };
    let expires = chrono::DateTime::parse_from_rfc3339(&field("Expiration")).expect("an RFC 3339 Expiration");
    Creds::session(
        &field("AccessKeyId"),
        &field("SecretAccessKey"),
        &field("SessionToken"),
        Some(expires.into()),
    )
}
