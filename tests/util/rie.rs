//! The binary as an AWS Lambda function, under AWS's own Runtime Interface Emulator
//! (`aws-lambda-rie`, installed by `scripts/test.sh` into the cache's `go-bin/`): the
//! emulator serves the Runtime API to `cloudtrail-es lambda` and takes invocations on a loopback
//! port, as Lambda's invoke API does.

use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where the emulator is: `CLOUDTRAIL_ES_RIE`, else the cache's `go-bin/aws-lambda-rie`.
pub fn rie_path() -> PathBuf {
    if let Ok(path) = std::env::var("CLOUDTRAIL_ES_RIE") {
        return path.into();
    }
    let cache = std::env::var("CLOUDTRAIL_ES_CACHE").map(PathBuf::from).unwrap_or_else(|_| {
        PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/cloudtrail-es")
    });
    let path = cache.join("go-bin/aws-lambda-rie");
    assert!(
        path.is_file(),
        "no {}: scripts/test.sh installs it (rie_bin in scripts/common.sh)",
        path.display()
    );
    path
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A function running under the emulator; stopped when dropped.
pub struct Function {
    child: Child,
    /// `http://127.0.0.1:PORT/2015-03-31/functions/function/invocations`.
    pub url: String,
    log: Arc<Mutex<String>>,
    _dir: tempfile::TempDir,
}

/// What an invocation answered.
#[derive(Debug)]
pub struct Answer {
    /// The emulator's HTTP status (200; 502 when the init failed).
    pub status: u16,
    /// The function's answer, or its error (`errorMessage`, `errorType`).
    pub body: Value,
    /// True when the function failed (its answer is an error).
    pub failed: bool,
    /// How long the invocation took, seen from the invoker.
    pub took: Duration,
}

impl Function {
    /// Starts the binary as a function with these variables (and moto's AWS settings), the
    /// function timeout in seconds.
    pub fn start(vars: &[(&str, &str)], timeout: u32) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (port, api) = (free_port(), free_port());
        let mut cmd = Command::new(rie_path());
        cmd.arg("--runtime-interface-emulator-address")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--runtime-api-address")
            .arg(format!("127.0.0.1:{api}"))
            .arg(env!("CARGO_BIN_EXE_cloudtrail-es"))
            .arg("lambda")
            .current_dir(dir.path())
            .env_remove("ELASTICSEARCH_URL")
            .env("NO_COLOR", "1")
            .env("AWS_LAMBDA_FUNCTION_TIMEOUT", timeout.to_string())
            .env("TMPDIR", dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in super::aws::moto_env() {
            cmd.env(k, v);
        }
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("starting aws-lambda-rie");
        let log = Arc::new(Mutex::new(String::new()));
        for out in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    log.lock().unwrap().push_str(&format!("{line}\n"));
                }
            });
        }
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(10), "the emulator does not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        let url = format!("http://127.0.0.1:{port}/2015-03-31/functions/function/invocations");
        Function { child, url, log, _dir: dir }
    }

    /// Invokes the function with `event`, waiting for its answer.
    pub fn invoke(&self, event: &Value) -> Answer {
        let started = Instant::now();
        let response =
            ureq::post(&self.url).timeout(Duration::from_secs(300)).send_string(&event.to_string());
        let (status, text) = match response {
            Ok(r) => (r.status(), r.into_string().unwrap_or_default()),
            Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap_or_default()),
            Err(e) => panic!("invoking the function: {e}\n--- log:\n{}", self.log()),
        };
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        let failed = status != 200 || body.get("errorMessage").is_some();
        Answer { status, body, failed, took: started.elapsed() }
    }

    /// Everything the emulator and the function printed so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Whether the log shows `text` within 10 s: the lines are read by threads of their own, so
    /// an invocation's answer can arrive before the lines it printed.
    pub fn logged(&self, text: &str) -> bool {
        let started = Instant::now();
        while !self.log().contains(text) {
            if started.elapsed() > Duration::from_secs(10) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The ids an SQS batch answer names as not done.
pub fn batch_failures(answer: &Answer) -> Vec<String> {
    assert!(!answer.failed, "the invocation failed: {}", answer.body);
    let failures = answer.body["batchItemFailures"]
        .as_array()
        .unwrap_or_else(|| panic!("not a batch answer: {}", answer.body));
    failures.iter().map(|f| f["itemIdentifier"].as_str().unwrap().to_string()).collect()
}

/// An SQS event as an event source mapping delivers it: one record per (id, body).
pub fn sqs_event(messages: &[(&str, &str)]) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .map(|(id, body)| {
            serde_json::json!({
                "messageId": id,
                "receiptHandle": format!("handle-{id}"),
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1714557600000"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:111122223333:cloudtrail",
                "awsRegion": "us-east-1"
            })
        })
        .collect();
    serde_json::json!({ "Records": records })
}
