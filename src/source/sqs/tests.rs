//! The SQS source's decisions, on an in-memory queue and in-memory objects (the seam in
//! `queue.rs`): a message is deleted only when every file it names is read to its end and every
//! event is safe; kept when a file is broken, cannot be fetched or has an undelivered event;
//! refused and unreadable messages are left for the redrive policy without reading anything; test
//! events and digest-only messages are deleted; what a long poll brings in while stopping is given
//! back at once (visibility 0); a message in the works has its visibility extended.

use super::queue::{Queue, Received};
use super::*;
use crate::ack::Delivery;
use crate::source::Location;
use bytes::Bytes;
use std::collections::VecDeque;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};

/// A queue in memory: hands out what is in `inbox` (only once `open`), records every call. A
/// receive waits at most `long_poll` (capping the consumer's wait, so that a test ends quickly).
#[derive(Default)]
struct Memory {
    long_poll: Duration,
    inbox: Mutex<VecDeque<Received>>,
    open: AtomicBool,
    receives: AtomicUsize,
    deleted: Mutex<Vec<String>>,
    visibility: Mutex<Vec<(String, Duration)>>,
}

#[derive(Clone)]
struct MemoryQueue(Arc<Memory>);

impl Queue for MemoryQueue {
    fn name(&self) -> &str {
        "memory"
    }

    async fn receive(&self, max: usize, wait: Duration, _: Duration) -> Result<Vec<Received>, String> {
        self.0.receives.fetch_add(1, SeqCst);
        let until = tokio::time::Instant::now() + wait.min(self.0.long_poll);
        loop {
            if self.0.open.load(SeqCst) {
                let mut inbox = self.0.inbox.lock().unwrap();
                if !inbox.is_empty() {
                    let n = max.min(inbox.len());
                    return Ok(inbox.drain(..n).collect());
                }
            }
            if tokio::time::Instant::now() >= until {
                return Ok(vec![]);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn delete(&self, receipt: &str) -> Result<(), String> {
        self.0.deleted.lock().unwrap().push(receipt.to_string());
        Ok(())
    }

    async fn change_visibility(&self, receipt: &str, visibility: Duration) -> Result<(), String> {
        self.0.visibility.lock().unwrap().push((receipt.to_string(), visibility));
        Ok(())
    }
}

/// Objects in memory: every key fetches (a small body), but those containing `missing`.
#[derive(Clone, Default)]
struct MemoryObjects(Arc<AtomicUsize>);

impl Fetch for MemoryObjects {
    async fn ready(&self, object: S3Object) -> Result<LogFile, String> {
        self.0.fetch_add(1, SeqCst);
        if object.key.contains("missing") {
            return Err("cannot download: no such key in the bucket".into());
        }
        let permit = Arc::new(tokio::sync::Semaphore::new(1)).try_acquire_owned().unwrap();
        Ok(LogFile {
            name: object.url().into(),
            location: Location::Memory(Bytes::from_static(b"{}"), permit),
        })
    }
}

const KEY: &str =
    "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/111122223333_CloudTrail_us-east-1_20240501T1000Z_";

/// An S3 event notification naming `keys` (each completed to a trail key) in `bucket`.
fn s3_event(bucket: &str, keys: &[&str]) -> String {
    let records: Vec<String> = keys
        .iter()
        .map(|k| {
            let key = if k.starts_with("AWSLogs/") || k.contains('/') { k.to_string() } else { format!("{KEY}{k}.json.gz") };
            format!(r#"{{"eventName":"ObjectCreated:Put","s3":{{"bucket":{{"name":"{bucket}"}},"object":{{"key":"{key}"}}}}}}"#)
        })
        .collect();
    format!(r#"{{"Records":[{}]}}"#, records.join(","))
}

fn settings(allow: &[&str]) -> QueueSettings {
    QueueSettings {
        queue_url: "memory".into(),
        visibility: Duration::from_secs(60),
        max_in_flight: 4,
        allow_buckets: allow.iter().map(|b| b.to_string()).collect(),
        any_key: false,
    }
}

/// What a run did.
struct Run {
    memory: Arc<Memory>,
    consumer: Arc<Consumer<MemoryQueue, MemoryObjects>>,
    stats: Arc<Stats>,
    fetched: usize,
}

impl Run {
    fn deleted(&self) -> Vec<String> {
        self.memory.deleted.lock().unwrap().clone()
    }
    fn count(&self, counter: &AtomicU64) -> u64 {
        counter.load(SeqCst)
    }
}

/// The reader stand-in: a file whose name says `broken` is broken, `undelivered` has an event the
/// cluster did not take, `slow` takes `hold` before it is settled; every other file is read to its end.
fn spawn_readers(files: flume::Receiver<Unit>, hold: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Ok(unit) = files.recv_async().await {
            let name = unit.file.name.to_string();
            if name.contains("slow") {
                tokio::time::sleep(hold).await;
            }
            if name.contains("broken") {
                unit.ack.broken("truncated gzip".into());
            } else {
                if name.contains("undelivered") {
                    unit.ack.settle(Delivery::Failed);
                }
                unit.ack.read_to_end();
            }
        }
    })
}

/// Runs a consumer on `messages` (bodies, receipts `r0`, `r1`…) until they are all handled.
async fn run(messages: &[String], settings: QueueSettings, hold: Duration) -> Run {
    let memory = Arc::new(Memory { long_poll: Duration::from_millis(100), ..Memory::default() });
    let inbox = messages.iter().enumerate().map(|(i, body)| Received {
        id: format!("m{i}"),
        receipt: format!("r{i}"),
        body: body.clone(),
    });
    memory.inbox.lock().unwrap().extend(inbox);
    memory.open.store(true, SeqCst);
    let objects = MemoryObjects::default();
    let stats = Arc::new(Stats::default());
    let (tx, rx) = flume::bounded(4);
    let readers = spawn_readers(rx, hold);
    let consumer = Consumer::new(MemoryQueue(memory.clone()), objects.clone(), settings, tx, stats.clone());
    let (stop, abort) = (CancellationToken::new(), CancellationToken::new());
    let running = tokio::spawn(consumer.clone().run(stop.clone(), abort, Duration::from_secs(10)));
    let handled = |c: &Consumer<MemoryQueue, MemoryObjects>| {
        let q = &c.stats;
        [&q.messages_deleted, &q.messages_kept, &q.messages_invalid, &q.messages_refused]
            .iter()
            .map(|n| n.load(SeqCst))
            .sum::<u64>()
    };
    let started = tokio::time::Instant::now();
    while handled(&consumer) < messages.len() as u64 {
        assert!(started.elapsed() < Duration::from_secs(20), "messages not handled in time");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    stop.cancel();
    running.await.unwrap();
    readers.await.unwrap();
    let fetched = objects.0.load(SeqCst);
    Run { memory, consumer, stats, fetched }
}

#[tokio::test]
async fn a_message_whose_files_are_all_safe_is_deleted() {
    let r = run(&[s3_event("trail", &["a", "b"])], settings(&[]), Duration::ZERO).await;
    assert_eq!(r.deleted(), ["r0"]);
    assert_eq!(
        (r.count(&r.consumer.stats.messages_received), r.count(&r.consumer.stats.messages_deleted)),
        (1, 1)
    );
    assert_eq!(r.fetched, 2);
}

#[tokio::test]
async fn a_broken_file_an_undelivered_event_or_a_failed_fetch_keeps_the_message() {
    let messages = [
        s3_event("trail", &["a", "broken"]),
        s3_event("trail", &["undelivered"]),
        s3_event("trail", &["missing", "c"]),
    ];
    let r = run(&messages, settings(&[]), Duration::ZERO).await;
    assert!(r.deleted().is_empty(), "nothing deleted: {:?}", r.deleted());
    assert_eq!(r.count(&r.consumer.stats.messages_kept), 3);
    assert_eq!(r.count(&r.stats.files_failed), 1, "the fetch that failed");
}

#[tokio::test]
async fn a_refused_bucket_or_key_is_left_for_the_redrive_policy_and_nothing_is_read() {
    let messages = [s3_event("other-bucket", &["a"]), s3_event("trail", &["firehose/2024/05/01/x.gz"])];
    let r = run(&messages, settings(&["trail"]), Duration::ZERO).await;
    assert!(r.deleted().is_empty());
    assert_eq!(r.count(&r.consumer.stats.messages_refused), 2);
    assert_eq!(r.fetched, 0, "a refused message is not read at all");
    assert!(r.memory.visibility.lock().unwrap().is_empty(), "left as it is, for its redrive policy");
}

#[tokio::test]
async fn what_is_not_a_notification_is_left_and_test_events_and_digests_are_deleted() {
    let digest = "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/05/01/111122223333_CloudTrail-Digest_us-east-1_x_20240501T1000Z.json.gz";
    let messages = [
        "not json at all".to_string(),
        r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"trail"}"#.to_string(),
        s3_event("trail", &[digest]),
    ];
    let r = run(&messages, settings(&[]), Duration::ZERO).await;
    assert_eq!(r.count(&r.consumer.stats.messages_invalid), 1);
    let mut deleted = r.deleted();
    deleted.sort();
    assert_eq!(deleted, ["r1", "r2"], "the test event and the digest-only message");
    assert_eq!(r.fetched, 0);
}

#[tokio::test]
async fn a_message_in_the_works_has_its_visibility_extended() {
    let mut s = settings(&[]);
    s.visibility = Duration::from_secs(2);
    let r = run(&[s3_event("trail", &["slow"])], s, Duration::from_millis(2500)).await;
    assert_eq!(r.deleted(), ["r0"]);
    let extended = r.memory.visibility.lock().unwrap().clone();
    assert!(extended.contains(&("r0".to_string(), Duration::from_secs(2))), "{extended:?}");
}

#[tokio::test]
async fn what_a_long_poll_brings_in_while_stopping_is_given_back_at_once() {
    let memory = Arc::new(Memory { long_poll: Duration::from_secs(10), ..Memory::default() });
    memory.inbox.lock().unwrap().push_back(Received {
        id: "m0".into(),
        receipt: "r0".into(),
        body: s3_event("trail", &["a"]),
    });
    let (tx, rx) = flume::bounded(4);
    let readers = spawn_readers(rx, Duration::ZERO);
    let stats = Arc::new(Stats::default());
    let consumer =
        Consumer::new(MemoryQueue(memory.clone()), MemoryObjects::default(), settings(&[]), tx, stats);
    let (stop, abort) = (CancellationToken::new(), CancellationToken::new());
    let running = tokio::spawn(consumer.clone().run(stop.clone(), abort, Duration::from_secs(10)));
    while memory.receives.load(SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    stop.cancel();
    // Once the consumer is stopping, the poll in flight brings the message in.
    tokio::time::sleep(Duration::from_millis(50)).await;
    memory.open.store(true, SeqCst);
    running.await.unwrap();
    readers.await.unwrap();
    assert_eq!(*memory.visibility.lock().unwrap(), [("r0".to_string(), Duration::ZERO)]);
    assert!(memory.deleted.lock().unwrap().is_empty());
    assert_eq!(consumer.stats.messages_received.load(SeqCst), 0, "never worked on");
}

#[test]
fn only_allowed_buckets_and_layout_keys_are_read() {
    let trail = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/111122223333_CloudTrail_us-east-1_20240501T1000Z_a.json.gz";
    let mut s = QueueSettings {
        queue_url: "q".into(),
        visibility: Duration::from_secs(60),
        max_in_flight: 1,
        allow_buckets: vec![],
        any_key: false,
    };
    assert_eq!(s.refusal("any", trail), None);
    assert!(s.refusal("any", "secrets/db.json").unwrap().contains("not in CloudTrail's layout"));
    s.allow_buckets = vec!["trail-bucket".into()];
    assert_eq!(s.refusal("trail-bucket", trail), None);
    assert!(s.refusal("other", trail).unwrap().contains("--allow-bucket"));
    s.any_key = true;
    assert_eq!(s.refusal("trail-bucket", "firehose/2024/05/01/x.gz"), None);
    assert!(s.refusal("other", "firehose/x.gz").is_some());
}
