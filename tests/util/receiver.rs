//! A local HTTP receiver for alert webhooks: records every POST it accepts, and can be "down"
//! (answering 503, which the follower retries). Loopback only; its thread ends with the test
//! process.

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// One accepted POST.
#[derive(Clone, Debug)]
pub struct Posted {
    pub path: String,
    pub body: Value,
}

#[derive(Default)]
struct Shared {
    posted: Mutex<Vec<Posted>>,
    down: AtomicBool,
    refused: AtomicU64,
}

/// The receiver; see the module docs.
pub struct Receiver {
    pub addr: String,
    shared: Arc<Shared>,
}

impl Receiver {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let shared = Arc::new(Shared::default());
        let s = shared.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let s = s.clone();
                std::thread::spawn(move || {
                    let _ = serve(stream, &s);
                });
            }
        });
        Receiver { addr, shared }
    }

    /// A URL on this receiver.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Everything accepted so far.
    pub fn posted(&self) -> Vec<Posted> {
        self.shared.posted.lock().unwrap().clone()
    }

    /// Requests answered 503 so far.
    pub fn refused(&self) -> u64 {
        self.shared.refused.load(Ordering::Relaxed)
    }

    /// Answer 503 from now on.
    pub fn down(&self) {
        self.shared.down.store(true, Ordering::Relaxed);
    }

    /// Accept again.
    pub fn up(&self) {
        self.shared.down.store(false, Ordering::Relaxed);
    }
}

fn serve(stream: std::net::TcpStream, s: &Shared) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let path = request_line.split_whitespace().nth(1).unwrap_or("/").to_string();
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line)?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        let mut out = &stream;
        if s.down.load(Ordering::Relaxed) {
            s.refused.fetch_add(1, Ordering::Relaxed);
            out.write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n")?;
            continue;
        }
        let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
        s.posted.lock().unwrap().push(Posted { path, body });
        out.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")?;
    }
}
