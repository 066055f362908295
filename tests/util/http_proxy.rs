//! An HTTP-aware proxy to a real cluster, to make `_bulk` fail the ways real clusters do without
//! touching the cluster others share: cut the connection (an outage), answer a status (429, 503),
//! answer 413 above a body size (`http.max_content_length`), or answer per-item 429 for the
//! documents holding a marker (a document the cluster keeps refusing) while the rest is indexed
//! for real, or answer 200 with every item refused (a cluster pushing back item by item). Every
//! other request passes through. Each `_bulk` request is logged (when it arrived and when it was
//! answered, which batch by its first `_id`, what it was answered) for the tests' counts and
//! orderings.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// What `_bulk` requests get.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Forwarded.
    Pass,
    /// The connection is closed without an answer.
    Cut,
    /// Answered with this status and an Elasticsearch-style error.
    Status(u16),
    /// Answered 200, every item refused with this status (nothing reaches the cluster).
    Items(u16),
    /// The next request is forwarded (the cluster applies it), then its connection is cut
    /// without the answer, as a reply lost on the network; after it, `Pass`.
    LoseReplyOnce,
}

/// One `_bulk` request seen.
#[derive(Clone, Debug)]
pub struct Seen {
    /// When it arrived.
    pub arrived: Instant,
    /// When it was answered.
    pub at: Instant,
    /// The `_id` of its first item.
    pub first_id: String,
    pub items: usize,
    pub bytes: usize,
    /// What it was answered (0: cut).
    pub status: u16,
}

#[derive(Default)]
struct Rules {
    mode: Option<Mode>,
    max_body: Option<usize>,
    refuse_marker: Option<String>,
    delay: Option<std::time::Duration>,
}

/// A proxy from a local port to `target` (`http://host:port`).
pub struct HttpProxy {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    rules: Arc<Mutex<Rules>>,
    log: Arc<Mutex<Vec<Seen>>>,
    received: Arc<AtomicU64>,
    requests: Arc<Mutex<Vec<String>>>,
}

impl HttpProxy {
    pub fn start(target: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let rules: Arc<Mutex<Rules>> = Arc::default();
        let log: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let received: Arc<AtomicU64> = Arc::default();
        let requests: Arc<Mutex<Vec<String>>> = Arc::default();
        let (target, rules2, log2) = (target.trim_end_matches('/').to_string(), rules.clone(), log.clone());
        let (received2, requests2) = (received.clone(), requests.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (target, rules, log) = (target.clone(), rules2.clone(), log2.clone());
                let (received, requests) = (received2.clone(), requests2.clone());
                std::thread::spawn(move || serve(client, &target, &rules, &log, &received, &requests));
            }
        });
        HttpProxy { url, rules, log, received, requests }
    }

    /// Every request received so far, as `METHOD PATH`, in order.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    /// Forwarded `_bulk` requests are answered only after `delay` (a slow cluster).
    pub fn delay(&self, delay: std::time::Duration) {
        self.rules.lock().unwrap().delay = Some(delay);
    }

    /// `_bulk` requests received so far, answered or not yet.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::SeqCst)
    }

    pub fn set(&self, mode: Mode) {
        self.rules.lock().unwrap().mode = Some(mode);
    }

    /// `_bulk` bodies over `bytes` are answered 413.
    pub fn max_body(&self, bytes: usize) {
        self.rules.lock().unwrap().max_body = Some(bytes);
    }

    /// Items whose document contains `marker` are answered per-item 429.
    pub fn refuse_items_with(&self, marker: &str) {
        self.rules.lock().unwrap().refuse_marker = Some(marker.to_string());
    }

    /// Every `_bulk` request so far.
    pub fn log(&self) -> Vec<Seen> {
        self.log.lock().unwrap().clone()
    }
}

fn serve(
    client: TcpStream,
    target: &str,
    rules: &Mutex<Rules>,
    log: &Mutex<Vec<Seen>>,
    received: &AtomicU64,
    requests: &Mutex<Vec<String>>,
) {
    let mut reader = BufReader::new(client.try_clone().unwrap());
    let mut out = client;
    loop {
        let mut head = String::new();
        let mut headers = Vec::new();
        if reader.read_line(&mut head).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_string());
                if k == "content-length" {
                    length = v.parse().unwrap_or(0);
                }
                headers.push((k, v));
            }
        }
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let mut parts = head.split_whitespace();
        let (method, path) =
            (parts.next().unwrap_or("GET").to_string(), parts.next().unwrap_or("/").to_string());
        requests.lock().unwrap().push(format!("{method} {path}"));
        let answer = if method == "POST" && path.starts_with("/_bulk") {
            received.fetch_add(1, Ordering::SeqCst);
            bulk(&body, target, &headers, rules, log)
        } else {
            Some(forward(&method, &format!("{target}{path}"), &headers, &body))
        };
        let Some((status, reply)) = answer else {
            let _ = out.shutdown(Shutdown::Both);
            return;
        };
        let head = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            reply.len()
        );
        if out.write_all(head.as_bytes()).and_then(|_| out.write_all(&reply)).is_err() {
            return;
        }
    }
}

/// A `_bulk` request by the rules; `None`: cut the connection.
fn bulk(
    body: &[u8],
    target: &str,
    headers: &[(String, String)],
    rules: &Mutex<Rules>,
    log: &Mutex<Vec<Seen>>,
) -> Option<(u16, Vec<u8>)> {
    let arrived = Instant::now();
    let text = String::from_utf8_lossy(body).into_owned();
    let lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    let first_id = lines
        .first()
        .and_then(|l| serde_json::from_str::<Value>(l).ok())
        .and_then(|v| v["create"]["_id"].as_str().map(str::to_string))
        .unwrap_or_default();
    let (mode, max_body, marker, delay) = {
        let r = rules.lock().unwrap();
        (r.mode.clone().unwrap_or(Mode::Pass), r.max_body, r.refuse_marker.clone(), r.delay)
    };
    let answer = match mode {
        Mode::Cut => None,
        Mode::LoseReplyOnce => {
            forward("POST", &format!("{target}/_bulk"), headers, body);
            rules.lock().unwrap().mode = Some(Mode::Pass);
            None
        }
        Mode::Status(status) => Some((status, error(status))),
        Mode::Items(status) => Some((200, refused_items(lines.len() / 2, status))),
        Mode::Pass if max_body.is_some_and(|max| body.len() > max) => Some((413, error(413))),
        Mode::Pass => Some(match marker {
            Some(marker) => refusing(&lines, &marker, target, headers),
            None => forward("POST", &format!("{target}/_bulk"), headers, body),
        }),
    };
    if let (Some(delay), Some(_)) = (delay, &answer) {
        std::thread::sleep(delay);
    }
    let seen = Seen {
        arrived,
        at: Instant::now(),
        first_id,
        items: lines.len() / 2,
        bytes: body.len(),
        status: answer.as_ref().map_or(0, |a| a.0),
    };
    log.lock().unwrap().push(seen);
    answer
}

fn error(status: u16) -> Vec<u8> {
    json!({"error": {"type": "injected", "reason": format!("HTTP {status} from the test proxy")}, "status": status})
        .to_string()
        .into_bytes()
}

/// A 200 `_bulk` answer refusing `n` items with `status`.
fn refused_items(n: usize, status: u16) -> Vec<u8> {
    let item = json!({"create": {"status": status, "error": {"type": "es_rejected_execution_exception", "reason": "injected"}}});
    json!({"took": 1, "errors": true, "items": vec![item; n]}).to_string().into_bytes()
}

/// Sends the items without `marker` on, and answers 429 for the others, in request order.
fn refusing(lines: &[&str], marker: &str, target: &str, headers: &[(String, String)]) -> (u16, Vec<u8>) {
    let pairs: Vec<(&str, &str)> = lines.chunks(2).map(|c| (c[0], c.get(1).copied().unwrap_or(""))).collect();
    let passed: Vec<String> =
        pairs.iter().filter(|(_, d)| !d.contains(marker)).map(|(a, d)| format!("{a}\n{d}\n")).collect();
    let mut answered = Vec::new();
    if !passed.is_empty() {
        let (status, reply) =
            forward("POST", &format!("{target}/_bulk"), headers, passed.concat().as_bytes());
        if status != 200 {
            return (status, reply);
        }
        let reply: Value = serde_json::from_slice(&reply).unwrap();
        answered = reply["items"].as_array().unwrap().clone();
    }
    let mut answered = answered.into_iter();
    let items: Vec<Value> = pairs
        .iter()
        .map(|(_, d)| match d.contains(marker) {
            true => json!({"create": {"status": 429, "error": {"type": "es_rejected_execution_exception", "reason": "injected"}}}),
            false => answered.next().unwrap(),
        })
        .collect();
    (200, json!({"took": 1, "errors": true, "items": items}).to_string().into_bytes())
}

fn forward(method: &str, url: &str, headers: &[(String, String)], body: &[u8]) -> (u16, Vec<u8>) {
    let mut request = ureq::request(method, url);
    for (k, v) in headers {
        if matches!(k.as_str(), "content-type" | "content-encoding" | "authorization") {
            request = request.set(k, v);
        }
    }
    let response = match request.send_bytes(body) {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(_) => return (502, error(502)),
    };
    let status = response.status();
    let mut reply = Vec::new();
    let _ = response.into_reader().read_to_end(&mut reply);
    (status, reply)
}
