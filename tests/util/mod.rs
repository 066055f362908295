//! Helpers for integration tests: run the real binary in a fresh directory, talk to the real
//! servers started by `scripts/dev/dev-stack.sh` (addresses from env vars with loopback defaults),
//! run a test on each of the four plain clusters (Elasticsearch 8 and 9, OpenSearch 3 and 2) so
//! that a behaviour one of them differs in is caught and named, and give each test its own index
//! prefix so tests never see each other's data.
// Each test uses some of these helpers; the tests that need a server (feature `servers`) use most.
#![allow(dead_code)]
#![cfg_attr(not(feature = "servers"), allow(unused_imports))]

pub mod alerting;
pub mod aws;
pub mod fake_kibana;
pub mod follow;
pub mod http_proxy;
pub mod proxy;
pub mod receiver;
pub mod rie;
pub mod secure;
pub mod sigv4;
pub mod written;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

/// Which line of servers a cluster belongs to (some expectations differ between the two).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Elasticsearch,
    OpenSearch,
}

/// One of the dev stack's plain clusters: a name for messages, the env var overriding its address
/// (loopback default otherwise), and the `scripts/dev/dev-stack.sh` service that runs it.
pub struct Known {
    pub name: &'static str,
    pub kind: Kind,
    env: &'static str,
    default: &'static str,
    service: &'static str,
}

impl Known {
    pub fn url(&self) -> String {
        std::env::var(self.env).unwrap_or_else(|_| self.default.into())
    }
}

pub const ES8: Known = Known {
    name: "Elasticsearch 8",
    kind: Kind::Elasticsearch,
    env: "CLOUDTRAIL_ES_TEST_ES",
    default: "http://127.0.0.1:9200",
    service: "elasticsearch",
};
pub const ES9: Known = Known {
    name: "Elasticsearch 9",
    kind: Kind::Elasticsearch,
    env: "CLOUDTRAIL_ES_TEST_ES9",
    default: "http://127.0.0.1:9203",
    service: "elasticsearch9",
};
pub const OS3: Known = Known {
    name: "OpenSearch 3",
    kind: Kind::OpenSearch,
    env: "CLOUDTRAIL_ES_TEST_OS",
    default: "http://127.0.0.1:9201",
    service: "opensearch",
};
pub const OS2: Known = Known {
    name: "OpenSearch 2",
    kind: Kind::OpenSearch,
    env: "CLOUDTRAIL_ES_TEST_OS2",
    default: "http://127.0.0.1:9204",
    service: "opensearch2",
};

/// The clusters every test of a cluster's behaviour runs on: both majors of each line we support.
pub const CLUSTERS: [&Known; 4] = [&ES8, &ES9, &OS3, &OS2];

/// Elasticsearch 8 from the dev stack.
pub fn es_url() -> String {
    ES8.url()
}

/// OpenSearch 3 from the dev stack.
pub fn os_url() -> String {
    OS3.url()
}

/// Runs `test` on each of [`CLUSTERS`] in turn; after trying all of them, fails naming every
/// cluster it failed on, with that failure's message.
pub fn on_each_cluster(test: impl Fn(&Cluster)) {
    let mut failures = Vec::new();
    for known in CLUSTERS {
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| test(&Cluster::of(known))));
        if let Err(panic) = run {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failures.push(format!("--- on {} ({}):\n{message}", known.name, known.url()));
        }
    }
    assert!(
        failures.is_empty(),
        "failed on {} of {} clusters:\n{}",
        failures.len(),
        CLUSTERS.len(),
        failures.join("\n")
    );
}

/// The corpus of real CloudTrail events carried in the repository (see tests/corpus/NOTICE.md).
pub fn corpus() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/real");
    assert!(dir.is_dir(), "the corpus is missing at {}", dir.display());
    dir
}

/// A unique index prefix for one test.
pub fn prefix(name: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!("it-{name}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// What a run of the binary left behind.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(out: Output) -> Self {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Panics with everything useful unless the exit status is `code`.
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "exit status\n--- stderr:\n{}\n--- stdout (start):\n{:.2000}",
            self.stderr, self.stdout
        );
        self
    }
}

/// Runs `cloudtrail-es ARGS` with `cwd` as working directory and extra environment.
pub fn run_in(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    Run::from(command(cwd, args, env).output().expect("running cloudtrail-es"))
}

/// The command for `cloudtrail-es ARGS`, to run or spawn.
pub fn command(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cloudtrail-es"));
    cmd.args(args).current_dir(cwd).env_remove("ELASTICSEARCH_URL").env("NO_COLOR", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// A cluster from the dev stack.
pub struct Cluster {
    pub url: String,
    /// For messages: "Elasticsearch 9"…
    pub name: &'static str,
    pub kind: Kind,
}

impl Cluster {
    /// Connects, failing the test with a hint when the dev stack does not run that cluster.
    pub fn of(known: &Known) -> Self {
        let url = known.url();
        let health = ureq::get(&format!("{url}/_cluster/health")).call();
        assert!(
            health.is_ok(),
            "no {} at {url}: start it with `scripts/dev/dev-stack.sh up {}` ({health:?})",
            known.name,
            known.service
        );
        Cluster { url, name: known.name, kind: known.kind }
    }

    pub fn es() -> Self {
        Cluster::of(&ES8)
    }

    pub fn os() -> Self {
        Cluster::of(&OS3)
    }

    /// Documents in `PREFIX-*` after a refresh. Waits (up to [`NOT_READY_PATIENCE`]) while the
    /// cluster answers "not ready yet": an index being created has no shard to count on.
    pub fn count(&self, prefix: &str) -> u64 {
        self.when_ready("POST", &format!("/{prefix}-*/_refresh"), "");
        self.when_ready("GET", &format!("/{prefix}-*/_count"), "")["count"].as_u64().expect("a count")
    }

    /// A search on `PREFIX-*`, waiting like [`Cluster::count`] while the cluster is not ready.
    pub fn search(&self, prefix: &str, body: Value) -> Value {
        self.when_ready("POST", &format!("/{prefix}-*/_refresh"), "");
        self.when_ready("POST", &format!("/{prefix}-*/_search"), &body.to_string())
    }

    /// `METHOD path` (with `body` unless it is empty), sent again every 250 ms while the answer says
    /// "not ready yet" (see [`not_ready`]); any other failure, or not ready past
    /// [`NOT_READY_PATIENCE`], fails the test.
    fn when_ready(&self, method: &str, path: &str, body: &str) -> Value {
        let started = std::time::Instant::now();
        loop {
            let request = ureq::request(method, &format!("{}{path}", self.url));
            let answer = if body.is_empty() {
                request.call()
            } else {
                request.set("content-type", "application/json").send_string(body)
            };
            match answer {
                Ok(r) => return r.into_json().expect("JSON"),
                Err(ureq::Error::Status(code, r)) => {
                    let text = r.into_string().unwrap_or_default();
                    if !not_ready(code, &text) || started.elapsed() > NOT_READY_PATIENCE {
                        panic!("{method} {path}: {code} {text:.2000}");
                    }
                }
                Err(e) => panic!("{method} {path}: {e}"),
            }
            std::thread::sleep(std::time::Duration::from_millis(250));
        }
    }

    /// `GET path`, waiting like [`Cluster::count`] while the cluster is not ready (a `_count` on
    /// an index being created answered 503 in a full run).
    pub fn get(&self, path: &str) -> Value {
        self.when_ready("GET", path, "")
    }

    pub fn put(&self, path: &str, body: &str) -> Value {
        let r = ureq::put(&format!("{}{path}", self.url))
            .set("content-type", "application/json")
            .send_string(body)
            .unwrap_or_else(|e| panic!("PUT {path}: {e}"));
        r.into_json().expect("JSON")
    }

    pub fn post(&self, path: &str, body: &str) -> Value {
        let r = ureq::post(&format!("{}{path}", self.url))
            .set("content-type", "application/json")
            .send_string(body)
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        r.into_json().expect("JSON")
    }

    /// The HTTP status of `GET path` (200, 404…).
    pub fn status(&self, path: &str) -> u16 {
        match ureq::get(&format!("{}{path}", self.url)).call() {
            Ok(r) => r.status(),
            Err(ureq::Error::Status(code, _)) => code,
            Err(e) => panic!("GET {path}: {e}"),
        }
    }

    /// The number of mapped fields (multi-fields included) of the largest `PREFIX-*` index.
    pub fn field_count(&self, prefix: &str) -> usize {
        fn count(props: &Value) -> usize {
            props.as_object().map_or(0, |p| {
                p.values()
                    .map(|v| 1 + count(&v["properties"]) + v["fields"].as_object().map_or(0, |f| f.len()))
                    .sum()
            })
        }
        let mappings = self.get(&format!("/{prefix}-*/_mapping"));
        mappings.as_object().unwrap().values().map(|m| count(&m["mappings"]["properties"])).max().unwrap_or(0)
    }

    /// Removes the test's indices, index template and component templates.
    pub fn clean(&self, prefix: &str) {
        let _ = ureq::delete(&format!("{}/{prefix}-*", self.url)).call();
        let _ = ureq::delete(&format!("{}/_index_template/{prefix}", self.url)).call();
        let _ = ureq::delete(&format!("{}/_index_template/{prefix}-findings", self.url)).call();
        for part in ["settings", "mappings", "ecs", "lifecycle"] {
            let _ = ureq::delete(&format!("{}/_component_template/{prefix}@{part}", self.url)).call();
        }
    }
}

/// How long [`Cluster::count`] and [`Cluster::search`] wait for a cluster that is not ready yet.
pub const NOT_READY_PATIENCE: std::time::Duration = std::time::Duration::from_secs(60);

/// Whether an error answer means "not ready yet" rather than a failure: 503 (an index being created,
/// its primary shard not yet started: `no_shard_available_action_exception`, or a search phase with
/// every shard failed), 429, or a "no shard" reason under another status.
pub fn not_ready(status: u16, body: &str) -> bool {
    matches!(status, 503 | 429)
        || body.contains("no_shard_available_action_exception")
        || body.contains("NoShardAvailableActionException")
        || body.contains("all shards failed")
}

/// The events a run indexed, found already present, and dead-lettered, from its summary line.
/// An event counts as present when a bulk request was retried after its first try had landed
/// (a slow cluster); a test of what lands, rather than of retries, adds the first two.
pub fn event_counts(run: &Run) -> (u64, u64, u64) {
    let line = run.stderr.lines().find(|l| l.starts_with("events:")).unwrap_or_else(|| {
        panic!("no summary line in\n{}", run.stderr);
    });
    let number = |what: &str| -> u64 {
        let before = line.split(what).next().unwrap();
        before.rsplit(' ').find(|w| !w.is_empty()).and_then(|n| n.parse().ok()).unwrap_or_else(|| {
            panic!("no '{what}' count in {line:?}");
        })
    };
    (number(" indexed"), number(" already present"), number(" dead-lettered"))
}

/// The `_id`s in a bulk NDJSON output file.
pub fn output_ids(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .step_by(2)
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["create"]["_id"].as_str().unwrap().to_string())
        .collect()
}

/// The findings `backfill SOURCE --rules builtin --output FILE` writes (run in `dir`): their
/// documents, in the file's order.
pub fn backfill_findings(dir: &Path, source: &Path) -> Vec<Value> {
    let out = dir.join("findings.ndjson");
    let args =
        ["backfill", source.to_str().unwrap(), "--rules", "builtin", "--output", out.to_str().unwrap()];
    run_in(dir, &args, &[]).expect_code(0);
    let text = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let findings = lines.chunks(2).filter(|pair| {
        let index = pair[0]["create"]["_index"].as_str().unwrap_or_default();
        index.starts_with("cloudtrail-findings-")
    });
    findings.map(|pair| pair[1].clone()).collect()
}

/// Writes a gzip file.
pub fn write_gz(path: &Path, data: &[u8]) {
    use std::io::Write;
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    std::fs::write(path, enc.finish().unwrap()).unwrap();
}

/// Runs the repository's generator: `scripts/gen/cloudtrail.py --out DIR ARGS`.
pub fn generate(dir: &Path, args: &[&str]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/gen/cloudtrail.py");
    let out = Command::new("python3").arg(script).arg("--out").arg(dir).args(args).output().expect("python3");
    assert!(out.status.success(), "generator failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// Every `eventID` in the generated or copied files under `dir` (digest files excluded).
pub fn event_ids(dir: &Path) -> Vec<String> {
    event_ids_where(dir, |_| true)
}

/// The `eventID`s of the log files under `dir` whose path passes `keep` (digests excluded).
pub fn event_ids_where(dir: &Path, keep: impl Fn(&str) -> bool) -> Vec<String> {
    events_where(dir, keep).iter().map(|e| e["eventID"].as_str().unwrap().to_string()).collect()
}

/// Every event in the gzip'd log files under `dir` (digest files excluded).
pub fn events(dir: &Path) -> Vec<Value> {
    events_where(dir, |_| true)
}

fn events_where(dir: &Path, keep: impl Fn(&str) -> bool) -> Vec<Value> {
    let mut events = Vec::new();
    for entry in walk(dir) {
        let path = entry.to_string_lossy();
        if path.contains("CloudTrail-Digest") || !keep(&path) {
            continue;
        }
        let bytes = std::fs::read(&entry).unwrap();
        let mut text = String::new();
        use std::io::Read;
        flate2::read::MultiGzDecoder::new(&bytes[..]).read_to_string(&mut text).unwrap();
        let doc: Value = serde_json::from_str(&text).unwrap();
        events.extend(doc["Records"].as_array().unwrap().iter().cloned());
    }
    events
}

/// Every file under `dir`, recursively.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn not_ready_answers_are_told_from_failures() {
    assert!(not_ready(503, r#"{"error":{"type":"search_phase_execution_exception"}}"#));
    assert!(not_ready(500, r#"{"error":{"root_cause":[{"type":"no_shard_available_action_exception"}]}}"#));
    assert!(not_ready(400, r#"{"error":{"reason":"all shards failed"}}"#));
    assert!(!not_ready(404, r#"{"error":{"type":"index_not_found_exception"}}"#));
    assert!(!not_ready(400, r#"{"error":{"type":"parsing_exception"}}"#));
}
