//! A stand-in for the saved-objects API of Kibana and OpenSearch Dashboards, objects kept in
//! memory, every request recorded: enough to test `setup --kibana` without Kibana, which cannot
//! run here. It answers the two routes `setup` uses as both apps' source does:
//! - `POST /api/saved_objects/_export` with `objects`: 200 and the objects as NDJSON (lines joined by
//!   `\n`, the export details last unless `excludeExportDetails`), or, when any is missing, 400
//!   `Error fetching objects to export` with `attributes.objects` listing each with error 404;
//! - `POST /api/saved_objects/_import?overwrite=true` (multipart, part `file`): stores the objects
//!   whose references resolve (in the file or already stored); the others fail with
//!   `missing_references`, and `success` is false.
//!
//! A write without `kbn-xsrf` / `osd-xsrf` is refused (400), any other route (such as the
//! deprecated `_bulk_get`) is a 404.

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// One request as the stand-in Kibana saw it.
#[derive(Debug)]
pub struct Seen {
    pub line: String,
    pub headers: Vec<String>,
}

/// Saved objects by (type, id).
type Store = BTreeMap<(String, String), Value>;

/// The running stand-in.
pub struct FakeKibana {
    pub url: String,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    stored: Arc<Mutex<Store>>,
}

impl FakeKibana {
    /// Every object stored so far.
    pub fn objects(&self) -> Vec<Value> {
        self.stored.lock().unwrap().values().cloned().collect()
    }
}

/// Starts the stand-in on a free port.
pub fn fake_kibana() -> FakeKibana {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let stored = Arc::new(Mutex::new(Store::new()));
    let (log, store) = (seen.clone(), stored.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let mut headers = Vec::new();
            let mut length = 0;
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap();
                let h = h.trim_end().to_lowercase();
                if h.is_empty() {
                    break;
                }
                if let Some(n) = h.strip_prefix("content-length:") {
                    length = n.trim().parse().unwrap();
                }
                headers.push(h);
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let body = String::from_utf8(body).unwrap();
            let xsrf = headers.iter().any(|h| h.starts_with("kbn-xsrf:") || h.starts_with("osd-xsrf:"));
            let mut store = store.lock().unwrap();
            let (status, content_type, text) = if !xsrf && line.starts_with("POST ") {
                error(400, "Request must contain a kbn-xsrf header.")
            } else if line.starts_with("POST /api/saved_objects/_export ") {
                export(&store, &body)
            } else if line.starts_with("POST /api/saved_objects/_import?overwrite=true ") {
                import(&mut store, &body)
            } else {
                error(404, "Not Found")
            };
            log.lock().unwrap().push(Seen { line: line.trim_end().to_string(), headers });
            let _ = write!(
                stream,
                "HTTP/1.1 {status} {}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                if status == 200 { "OK" } else { "Error" },
                text.len()
            );
        }
    });
    FakeKibana { url, seen, stored }
}

type Answer = (u16, &'static str, String);

fn error(status: u16, message: &str) -> Answer {
    let name = if status == 404 { "Not Found" } else { "Bad Request" };
    (status, "application/json", json!({"statusCode": status, "error": name, "message": message}).to_string())
}

fn key(o: &Value) -> (String, String) {
    (o["type"].as_str().unwrap_or_default().to_string(), o["id"].as_str().unwrap_or_default().to_string())
}

fn export(store: &Store, body: &str) -> Answer {
    let Ok(request) = serde_json::from_str::<Value>(body) else {
        return error(400, "[request body]: expected an object");
    };
    let Some(wanted) = request["objects"].as_array().filter(|w| !w.is_empty()) else {
        return error(400, "Either `type` or `objects` are required.");
    };
    let missing: Vec<Value> = wanted
        .iter()
        .filter(|w| !store.contains_key(&key(w)))
        .map(|w| {
            let (kind, id) = key(w);
            json!({"id": id, "type": kind, "error": {"statusCode": 404, "error": "Not Found",
                   "message": format!("Saved object [{kind}/{id}] not found")}})
        })
        .collect();
    if !missing.is_empty() {
        let answer = json!({"statusCode": 400, "error": "Bad Request",
                            "message": "Error fetching objects to export", "attributes": {"objects": missing}});
        return (400, "application/json", answer.to_string());
    }
    let mut lines: Vec<String> = wanted.iter().map(|w| store[&key(w)].to_string()).collect();
    if request["excludeExportDetails"] != true {
        lines.push(
            json!({"exportedCount": wanted.len(), "missingRefCount": 0, "missingReferences": []}).to_string(),
        );
    }
    (200, "application/ndjson", lines.join("\n"))
}

fn import(store: &mut Store, body: &str) -> Answer {
    let (Some(start), Some(end)) = (body.find("\r\n\r\n"), body.rfind("\r\n--")) else {
        return error(400, "Invalid file extension .ndjson expected");
    };
    let objects: Vec<Value> =
        body[start + 4..end].lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let in_file: Vec<(String, String)> = objects.iter().map(key).collect();
    let mut errors = Vec::new();
    let mut imported = 0;
    for o in &objects {
        let missing: Vec<&Value> = o["references"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| !in_file.contains(&key(r)) && !store.contains_key(&key(r)))
            .collect();
        if missing.is_empty() {
            store.insert(key(o), o.clone());
            imported += 1;
        } else {
            let (kind, id) = key(o);
            errors.push(json!({"id": id, "type": kind, "title": o["attributes"]["title"],
                               "error": {"type": "missing_references", "references": missing}}));
        }
    }
    let mut answer = json!({"success": errors.is_empty(), "successCount": imported});
    if !errors.is_empty() {
        answer["errors"] = json!(errors);
    }
    (200, "application/json", answer.to_string())
}
