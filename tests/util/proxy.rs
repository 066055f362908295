//! A switchable TCP forwarder to a real server, to take it "off the network" and back in a test
//! without stopping the server that other tests share. While off, open connections are cut and
//! new ones are closed at once, as a dead host or a firewall would. It can also cut connections
//! whose reply grows past a size ([`Proxy::cut_replies_after`]), as a network fault mid-download.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A forwarder from a local port to `target`.
pub struct Proxy {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    up: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
    sent: Arc<AtomicU64>,
    cut: Arc<Cut>,
}

/// Connections to cut: after `after` bytes of reply on one connection, `left` more times.
#[derive(Default)]
struct Cut {
    after: AtomicU64,
    left: AtomicU64,
    done: AtomicU64,
}

impl Proxy {
    /// Starts forwarding to `target` (`host:port`).
    pub fn start(target: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (up, open) = (Arc::new(AtomicBool::new(true)), Arc::new(Mutex::new(Vec::new())));
        let sent = Arc::new(AtomicU64::new(0));
        let cut = Arc::new(Cut::default());
        let (target, up2, open2, sent2) = (target.to_string(), up.clone(), open.clone(), sent.clone());
        let cut2 = cut.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if !up2.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&target) else { continue };
                open2.lock().unwrap().extend([client.try_clone().unwrap(), server.try_clone().unwrap()]);
                pipe(client.try_clone().unwrap(), server.try_clone().unwrap(), Some(sent2.clone()), None);
                pipe(server, client, None, Some(cut2.clone()));
            }
        });
        Proxy { url, up, open, sent, cut }
    }

    /// From now on, cuts (both ways) each connection whose replies pass `bytes`, `times` times.
    pub fn cut_replies_after(&self, bytes: u64, times: u64) {
        self.cut.after.store(bytes, Ordering::SeqCst);
        self.cut.left.store(times, Ordering::SeqCst);
    }

    /// Connections cut so far by [`Proxy::cut_replies_after`].
    pub fn cuts(&self) -> u64 {
        self.cut.done.load(Ordering::SeqCst)
    }

    /// Bytes forwarded from clients to the server so far (requests, headers included).
    pub fn bytes_sent(&self) -> u64 {
        self.sent.load(Ordering::SeqCst)
    }

    /// Cuts every connection and refuses new ones.
    pub fn down(&self) {
        self.up.store(false, Ordering::SeqCst);
        for s in self.open.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    /// Forwards again.
    pub fn up(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream, count: Option<Arc<AtomicU64>>, cut: Option<Arc<Cut>>) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        let mut passed = 0u64;
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 || to.write_all(&buf[..n]).is_err() {
                break;
            }
            if let Some(count) = &count {
                count.fetch_add(n as u64, Ordering::SeqCst);
            }
            passed += n as u64;
            if let Some(cut) = &cut {
                let after = cut.after.load(Ordering::SeqCst);
                let take = |left: u64| left.checked_sub(1);
                if after > 0
                    && passed > after
                    && cut.left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, take).is_ok()
                {
                    cut.done.fetch_add(1, Ordering::SeqCst);
                    let _ = from.shutdown(Shutdown::Both);
                    let _ = to.shutdown(Shutdown::Both);
                    return;
                }
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}
