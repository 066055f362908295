//! A stand-in for Kibana's saved-objects API (`_bulk_get`, `_import`), objects kept in memory, every
//! request recorded: enough to test `setup --kibana` without Kibana, which cannot run here.

use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// One request as the stand-in Kibana saw it.
#[derive(Debug)]
pub struct Seen {
    pub line: String,
    pub headers: Vec<String>,
}

/// Starts the stand-in on a free port: its URL, and the requests it has seen.
pub fn fake_kibana() -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        let mut stored: HashMap<(String, String), Value> = HashMap::new();
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
            let answer = if line.starts_with("POST /api/saved_objects/_bulk_get") {
                let wanted: Vec<Value> = serde_json::from_str(&body).unwrap();
                let found: Vec<Value> = wanted
                    .iter()
                    .map(|w| {
                        let key =
                            (w["type"].as_str().unwrap().to_string(), w["id"].as_str().unwrap().to_string());
                        stored.get(&key).cloned().unwrap_or_else(
                            || json!({"id": key.1, "type": key.0, "error": {"statusCode": 404}}),
                        )
                    })
                    .collect();
                json!({ "saved_objects": found })
            } else if line.starts_with("POST /api/saved_objects/_import?overwrite=true") {
                let start = body.find("\r\n\r\n").unwrap() + 4;
                let end = body.rfind("\r\n--").unwrap();
                let objects: Vec<Value> =
                    body[start..end].lines().map(|l| serde_json::from_str(l).unwrap()).collect();
                for o in &objects {
                    stored.insert(
                        (o["type"].as_str().unwrap().into(), o["id"].as_str().unwrap().into()),
                        o.clone(),
                    );
                }
                json!({"success": true, "successCount": objects.len()})
            } else {
                json!({"statusCode": 404})
            };
            log.lock().unwrap().push(Seen { line: line.trim_end().to_string(), headers });
            let text = answer.to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                text.len()
            );
        }
    });
    (url, seen)
}
