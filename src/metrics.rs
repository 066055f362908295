//! `--metrics-addr`: Prometheus metrics and a health check for `follow`.
//!
//! `GET /metrics` serves the run's counters in Prometheus' text format; `GET /healthz` answers 200,
//! or 503 when Elasticsearch or SQS has been failing for longer than the allowed time, or when no
//! event was delivered for that long while events wait (a follower stuck on items the cluster
//! keeps refusing is not healthy, although every request is answered). A minimal HTTP/1.1
//! responder on a Tokio listener: two read-only endpoints need no web framework. It holds at most
//! [`MAX_CONNECTIONS`] at once and backs off when `accept` fails (out of file descriptors), so a
//! scraper storm or an fd shortage costs neither memory nor a spinning core.

use crate::backoff::Backoff;
use crate::stats::{Health, Kind, Stats, TABLE};
use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tracing::{debug, warn};

/// What the endpoints report on.
pub struct Metrics {
    /// The run's counters.
    pub stats: Arc<Stats>,
    /// How long a service may fail before `/healthz` says so.
    pub unhealthy_after: Duration,
}

/// Connections served at once; more wait in the listen backlog.
pub const MAX_CONNECTIONS: usize = 32;

/// Waits after a failed `accept`: from 10 ms, doubling, up to 1 s.
const ACCEPT_BACKOFF: Backoff = Backoff::unbounded(Duration::from_millis(10), Duration::from_secs(1));

/// Where connections come from (a listener; a failing one in tests).
pub trait Accept {
    /// The next connection.
    fn accept(&self) -> impl std::future::Future<Output = std::io::Result<TcpStream>> + Send;
}

impl Accept for TcpListener {
    async fn accept(&self) -> std::io::Result<TcpStream> {
        TcpListener::accept(self).await.map(|(stream, _)| stream)
    }
}

impl Metrics {
    /// Serves on `listener` until the task is dropped.
    pub async fn serve(self: Arc<Self>, listener: TcpListener) {
        self.serve_from(listener, MAX_CONNECTIONS).await
    }

    /// Serves connections from `source`, at most `limit` at once.
    pub async fn serve_from(self: Arc<Self>, source: impl Accept, limit: usize) {
        let slots = Arc::new(Semaphore::new(limit.max(1)));
        let mut failures = 0;
        loop {
            let Ok(slot) = slots.clone().acquire_owned().await else { return };
            let stream = match source.accept().await {
                Ok(stream) => stream,
                Err(e) => {
                    failures += 1;
                    let wait = ACCEPT_BACKOFF.delay(failures);
                    if failures == 1 {
                        warn!("metrics server: cannot accept connections ({e}); retrying with backoff");
                    }
                    tokio::time::sleep(wait).await;
                    continue;
                }
            };
            failures = 0;
            let me = self.clone();
            tokio::spawn(async move {
                if let Err(e) = me.answer(stream).await {
                    debug!("metrics connection: {e}");
                }
                drop(slot);
            });
        }
    }

    async fn answer(&self, mut stream: TcpStream) -> std::io::Result<()> {
        let mut buf = vec![0u8; 4096];
        let mut len = 0;
        while !buf[..len].windows(4).any(|w| w == b"\r\n\r\n") && len < buf.len() {
            let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf[len..])).await??;
            if n == 0 {
                break;
            }
            len += n;
        }
        let request = String::from_utf8_lossy(&buf[..len]);
        let path = request.split_whitespace().nth(1).unwrap_or("/");
        let (status, body) = match path {
            "/metrics" => ("200 OK", self.prometheus()),
            "/healthz" => match self.unhealthy() {
                None => ("200 OK", "ok\n".to_string()),
                Some(why) => ("503 Service Unavailable", format!("{why}\n")),
            },
            _ => ("404 Not Found", "try /metrics or /healthz\n".to_string()),
        };
        let head = format!(
            "HTTP/1.1 {status}\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body.as_bytes()).await?;
        stream.shutdown().await
    }

    /// Why the service is unhealthy, if it is.
    pub fn unhealthy(&self) -> Option<String> {
        let h = &self.stats.health;
        for (name, since) in [("elasticsearch", &h.es_failing_since), ("sqs", &h.sqs_failing_since)] {
            if let Some(d) = Health::failing_for(since).filter(|d| *d > self.unhealthy_after) {
                return Some(format!("{name} failing for {}s", d.as_secs()));
            }
        }
        match h.stalled() {
            Some((d, waiting)) if d > self.unhealthy_after => {
                Some(format!("no event delivered for {}s while {waiting} events wait", d.as_secs()))
            }
            _ => None,
        }
    }

    /// The counters in Prometheus' text format: each row of the table with a metric
    /// (`stats/table.rs`), in table order.
    pub fn prometheus(&self) -> String {
        let s = &self.stats;
        let mut out = String::new();
        for row in TABLE {
            let Some(metric) = row.metric else { continue };
            let Some(value) = (row.read)(s) else { continue };
            if !metric.when.holds(s, value) {
                continue;
            }
            let kind = match row.kind {
                Kind::Counter => "counter",
                Kind::Gauge => "gauge",
            };
            let name = metric.name;
            let _ =
                writeln!(out, "# HELP cloudtrail_es_{name} {}\n# TYPE cloudtrail_es_{name} {kind}", row.help);
            if metric.by_level {
                for (level, n) in crate::detect::Level::ALL.iter().zip(&s.findings) {
                    let _ = writeln!(out, "cloudtrail_es_{name}{{level=\"{level}\"}} {}", n.load(Relaxed));
                }
            } else {
                let _ = writeln!(out, "cloudtrail_es_{name} {value}");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    fn metrics() -> Metrics {
        Metrics { stats: Arc::default(), unhealthy_after: Duration::from_secs(60) }
    }

    #[test]
    fn counters_are_in_prometheus_format() {
        let m = metrics();
        Stats::add(&m.stats.events_indexed, 42);
        let text = m.prometheus();
        assert!(text.contains(
            "# TYPE cloudtrail_es_events_indexed_total counter\ncloudtrail_es_events_indexed_total 42\n"
        ));
        assert!(text.contains("cloudtrail_es_elasticsearch_up 1"));
        assert!(!text.contains("cloudtrail_es_bulk_concurrency"), "no cluster output, no limit");
        m.stats.bulk_limit.store(3, Relaxed);
        m.stats.bulk_limit_max.store(4, Relaxed);
        let text = m.prometheus();
        assert!(
            text.contains("# TYPE cloudtrail_es_bulk_concurrency gauge\ncloudtrail_es_bulk_concurrency 3\n")
        );
        assert!(text.contains("cloudtrail_es_bulk_concurrency_max 4\n"), "{text}");
        assert!(!text.contains("lag_seconds"), "no lag before anything is delivered");
        m.stats.delivered_time(1);
        let lag = m.prometheus();
        assert!(
            lag.contains("# TYPE cloudtrail_es_lag_seconds gauge\ncloudtrail_es_lag_seconds 17"),
            "{lag}"
        );
    }

    #[test]
    fn health_fails_only_after_the_allowed_time() {
        let m = metrics();
        assert_eq!(m.unhealthy(), None);
        Health::failing(&m.stats.health.es_failing_since);
        assert_eq!(m.unhealthy(), None, "failing, but not for long");
        m.stats.health.es_failing_since.store(1, Relaxed);
        assert!(m.unhealthy().unwrap().starts_with("elasticsearch failing for"));
    }

    #[test]
    fn a_follower_that_delivers_nothing_while_work_waits_is_unhealthy() {
        let m = metrics();
        m.stats.health.work_arrived(1);
        assert_eq!(m.unhealthy(), None, "waiting, but not for long");
        m.stats.health.progress_at.store(1, Relaxed);
        let why = m.unhealthy().unwrap();
        assert!(why.starts_with("no event delivered for") && why.ends_with("while 1 events wait"), "{why}");
        m.stats.health.work_settled(1, true);
        assert_eq!(m.unhealthy(), None);
    }

    /// Fails every accept at once, as a listener out of file descriptors does.
    struct Exhausted(Arc<AtomicU64>);

    impl Accept for Exhausted {
        async fn accept(&self) -> std::io::Result<TcpStream> {
            self.0.fetch_add(1, Relaxed);
            tokio::task::yield_now().await;
            Err(std::io::Error::from_raw_os_error(24)) // EMFILE
        }
    }

    #[tokio::test]
    async fn failing_accepts_back_off_instead_of_spinning() {
        let calls = Arc::new(AtomicU64::new(0));
        let server = Arc::new(metrics()).serve_from(Exhausted(calls.clone()), 4);
        // A spinning loop makes millions of calls in a second; the backoff about eight.
        let _ = tokio::time::timeout(Duration::from_secs(1), server).await;
        let n = calls.load(Relaxed);
        assert!((2..=20).contains(&n), "{n} accept calls in 1 s");
    }

    #[tokio::test]
    async fn connections_beyond_the_limit_wait_their_turn() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(Arc::new(metrics()).serve_from(listener, 2));
        // Two idle connections take both slots.
        let idle = [TcpStream::connect(addr).await.unwrap(), TcpStream::connect(addr).await.unwrap()];
        let mut third = TcpStream::connect(addr).await.unwrap();
        third.write_all(b"GET /healthz HTTP/1.1\r\n\r\n").await.unwrap();
        let mut buf = [0u8; 12];
        let early = tokio::time::timeout(Duration::from_millis(300), third.read(&mut buf)).await;
        assert!(early.is_err(), "served beyond the limit");
        drop(idle);
        tokio::time::timeout(Duration::from_secs(5), third.read_exact(&mut buf)).await.unwrap().unwrap();
        assert_eq!(&buf, b"HTTP/1.1 200");
    }
}
