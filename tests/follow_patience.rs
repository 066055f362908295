//! `follow` facing a document the cluster always answers with a per-item 429 (through the HTTP
//! proxy of `util/http_proxy.rs`, in front of the real Elasticsearch, with moto's S3 and SQS): the
//! rest of the file is indexed, `/healthz` says unhealthy while nothing is delivered, and after
//! `--item-retry-timeout` the event is given up unfinished (not dead-lettered), so its message is
//! left in the queue for its redrive policy instead of holding a slot forever.

use crate::bulk_reliability::log_file;
use crate::util::aws::{moto_env, new_bucket, put, runtime, s3, sdk_config};
use crate::util::http_proxy::HttpProxy;
use crate::util::{command, es_url, prefix, Cluster};
use std::process::Stdio;
use std::time::{Duration, Instant};

fn wait_for(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_document_refused_with_429_forever_leaves_its_message_to_the_redrive_policy() {
    let proxy = HttpProxy::start(&es_url());
    proxy.refuse_items_with("poison-429");
    let cluster = Cluster::es();
    let p = prefix("item-patience");
    let dir = tempfile::tempdir().unwrap();
    let key = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/111122223333_CloudTrail_us-east-1_20240501T1000Z_p.json.gz";
    let poison = r#"{"eventID":"poison-429","eventTime":"2024-05-01T10:00:00Z","eventName":"P"}"#.to_string();
    log_file(&dir.path().join("f.json.gz"), "ok", 5, &[poison]);
    let queue_url = runtime().block_on(async {
        let s3 = s3().await;
        let bucket = new_bucket(&s3, "patience").await;
        put(&s3, &bucket, key, std::fs::read(dir.path().join("f.json.gz")).unwrap()).await;
        let sqs = aws_sdk_sqs::Client::new(&sdk_config().await);
        let url = sqs.create_queue().queue_name(prefix("patience")).send().await.unwrap().queue_url.unwrap();
        let body = format!(r#"{{"s3Bucket":"{bucket}","s3ObjectKey":["{key}"]}}"#);
        sqs.send_message().queue_url(&url).message_body(body).send().await.unwrap();
        url
    });
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let metrics = format!("127.0.0.1:{port}");
    let args = [
        "follow",
        "--queue",
        &queue_url,
        "--es",
        &proxy.url,
        "--index-prefix",
        &p,
        "--dead-letter",
        "dl.ndjson",
        "--retry-max-delay",
        "1",
        "--item-retry-timeout",
        "6",
        "--visibility-timeout",
        "30",
        "--metrics-addr",
        &metrics,
        "--unhealthy-after",
        "1",
    ];
    let env = moto_env();
    let mut child = command(dir.path(), &args, &env).stderr(Stdio::null()).spawn().unwrap();
    let get = |path: &str| match ureq::get(&format!("http://{metrics}{path}")).call() {
        Ok(r) => Some((200, r.into_string().unwrap())),
        Err(ureq::Error::Status(code, r)) => Some((code, r.into_string().unwrap())),
        Err(_) => None,
    };
    let metric = |name: &str| -> u64 {
        let text = get("/metrics").map(|(_, t)| t).unwrap_or_default();
        let line = text.lines().find(|l| l.starts_with(&format!("cloudtrail_es_{name} ")));
        line.and_then(|l| l.rsplit(' ').next()?.parse().ok()).unwrap_or(0)
    };
    wait_for(Duration::from_secs(60), "the other events to be indexed", || cluster.count(&p) == 5);
    // Nothing delivered for over a second while the refused event waits: unhealthy, although the
    // cluster answers every request.
    wait_for(Duration::from_secs(20), "/healthz to report the stall", || {
        get("/healthz").is_some_and(|(code, body)| code == 503 && body.starts_with("no event delivered for"))
    });
    // Within the patience the message is given up: kept (not deleted) for the redrive policy.
    wait_for(Duration::from_secs(30), "the message to be left in the queue", || {
        metric("messages_kept_total") >= 1
    });
    assert_eq!(metric("messages_deleted_total"), 0, "a message with an undelivered event is not deleted");
    assert!(metric("events_unavailable_total") >= 1);
    assert_eq!(metric("events_dead_lettered_total"), 0, "a busy answer is not a rejection");
    assert!(!dir.path().join("dl.ndjson").exists());
    let _ = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    wait_for(Duration::from_secs(40), "follow to exit", || child.try_wait().unwrap().is_some());
    assert_eq!(cluster.count(&p), 5, "the refused event is not in the index");
    cluster.clean(&p);
}
