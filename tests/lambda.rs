//! `cloudtrail-es lambda` under AWS's Runtime Interface Emulator, with the real clusters and moto:
//! every kind of event lands exactly once and a redelivery adds nothing; a poisoned message comes
//! back alone; dead letters are stored in S3 or SQS before a message counts as done; an outage
//! fails the batch and the retry lands everything; a warm start sends no setup request; a bad
//! setting fails the init with its message.

use crate::util::aws::{new_bucket, put, runtime, s3};
use crate::util::follow::{key, log_file, new_queue, notify_queue};
use crate::util::http_proxy::{HttpProxy, Mode};
use crate::util::rie::{batch_failures, sqs_event, Function};
use crate::util::{prefix, run_in, Cluster, Known, ES8, OS3};
use serde_json::{json, Value};
use std::io::Write;
use std::time::Duration;

const BUCKET_ENV: &str = "CLOUDTRAIL_ES_ALLOW_BUCKET";

/// The variables of a function sending to `es` under `p`, reading `bucket`, dead letters under it.
fn vars<'a>(es: &'a str, p: &'a str, bucket: &'a str, dead: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("ELASTICSEARCH_URL", es),
        ("CLOUDTRAIL_ES_INDEX_PREFIX", p),
        (BUCKET_ENV, bucket),
        ("CLOUDTRAIL_ES_DEAD_LETTER", dead),
        ("CLOUDTRAIL_ES_READERS", "1"),
    ]
}

/// An S3 event notification record for `key` in `bucket`, as S3 writes it (key form-encoded).
fn s3_record(bucket: &str, key: &str) -> Value {
    let encoded: String = url::form_urlencoded::byte_serialize(key.as_bytes()).collect();
    json!({"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
           "eventTime": "2024-05-01T10:05:00.000Z", "eventName": "ObjectCreated:Put",
           "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": bucket, "arn": format!("arn:aws:s3:::{bucket}")},
                  "object": {"key": encoded, "size": 100}}})
}

/// CloudTrail's notification inside an SNS envelope, as SNS delivers it to SQS.
fn sns_envelope(bucket: &str, key: &str) -> Value {
    let message = json!({"s3Bucket": bucket, "s3ObjectKey": [key]}).to_string();
    json!({"Type": "Notification", "MessageId": format!("sns-{key}"), "TopicArn": "arn:aws:sns:us-east-1:111122223333:ct",
           "Message": message, "Timestamp": "2024-05-01T10:05:00.000Z", "SignatureVersion": "1"})
}

/// EventBridge's "Object Created" event for `key`.
fn eventbridge(bucket: &str, key: &str) -> Value {
    json!({"version": "0", "id": format!("eb-{key}"), "detail-type": "Object Created", "source": "aws.s3",
           "account": "111122223333", "time": "2024-05-01T10:05:00Z", "region": "us-east-1",
           "resources": [format!("arn:aws:s3:::{bucket}")],
           "detail": {"version": "0", "bucket": {"name": bucket}, "object": {"key": key, "size": 100}, "reason": "PutObject"}})
}

/// EventBridge's "AWS API Call via CloudTrail" event: the CloudTrail record in `detail`.
fn api_call(id: &str) -> Value {
    json!({"version": "0", "id": format!("eb-{id}"), "detail-type": "AWS API Call via CloudTrail", "source": "aws.s3",
           "account": "111122223333", "time": "2024-05-01T10:00:00Z", "region": "us-east-1", "resources": [],
           "detail": {"eventVersion": "1.09", "eventID": id, "eventTime": "2024-05-01T10:00:00Z",
                      "eventSource": "s3.amazonaws.com", "eventName": "PutBucketVersioning",
                      "requestParameters": {"bucketName": "b"}}})
}

/// A CloudWatch Logs subscription's invocation carrying these CloudTrail events.
fn awslogs(events: &[Value]) -> Value {
    let log_events: Vec<Value> = events
        .iter()
        .enumerate()
        .map(|(i, e)| json!({"id": format!("3{i:055}"), "timestamp": 1714557600000u64, "message": e.to_string()}))
        .collect();
    let payload = json!({"messageType": "DATA_MESSAGE", "owner": "111122223333", "logGroup": "aws-cloudtrail-logs",
        "logStream": "111122223333_CloudTrail_us-east-1", "subscriptionFilters": ["to-lambda"], "logEvents": log_events});
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(payload.to_string().as_bytes()).unwrap();
    use base64::Engine as _;
    json!({"awslogs": {"data": base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap())}})
}

#[test]
fn every_event_kind_lands_exactly_once_and_a_redelivery_adds_nothing() {
    for known in [&ES8, &OS3] {
        every_kind_on(known);
    }
}

fn every_kind_on(known: &Known) {
    let cluster = Cluster::of(known);
    let rt = runtime();
    let s3c = rt.block_on(s3());
    let bucket = rt.block_on(new_bucket(&s3c, "lambda-kinds"));
    let p = prefix("lambda-kinds");
    let queue = rt.block_on(new_queue("lambda-kinds", &[]));
    rt.block_on(notify_queue(&s3c, &bucket, &queue.arn));
    // Objects: one announced by S3 itself (through moto), one by `backfill --to-queue`, the others
    // named in hand-written notifications.
    let tags = ["s3q", "toq", "snsq", "ebq", "s3d", "snsd", "ebd"];
    for tag in tags {
        rt.block_on(put(&s3c, &bucket, &key(tag), log_file(&format!("{p}-{tag}"), 3)));
    }
    let dir = tempfile::tempdir().unwrap();
    let env = crate::util::aws::moto_env();
    let source = format!("s3://{bucket}/{}", key("toq"));
    run_in(dir.path(), &["backfill", &source, "--to-queue", &queue.url], &env).expect_code(0);
    let received = rt.block_on(async {
        let mut all = Vec::new();
        while all.len() < 9 {
            let out =
                queue.sqs.receive_message().queue_url(&queue.url).max_number_of_messages(10).send().await;
            let got = out.unwrap().messages.unwrap_or_default();
            if got.is_empty() {
                break;
            }
            all.extend(got);
        }
        all
    });
    // S3's test event, the S3 notifications of the 7 puts, and the --to-queue message: the puts'
    // notifications other than s3q's are left out (their objects are announced otherwise below).
    let mut batch: Vec<(String, String)> = Vec::new();
    for m in &received {
        let body = m.body.clone().unwrap();
        let s3q: String = url::form_urlencoded::byte_serialize(key("s3q").as_bytes()).collect();
        let keep =
            body.contains("s3:TestEvent") || body.contains(&s3q) || body.contains("cloudtrail-es-backfill");
        if keep {
            batch.push((m.message_id.clone().unwrap(), body));
        }
    }
    assert_eq!(batch.len(), 3, "the test event, s3q's notification and the --to-queue message: {received:?}");
    batch
        .push(("m-snsq".into(), serde_json::to_string_pretty(&sns_envelope(&bucket, &key("snsq"))).unwrap()));
    batch.push(("m-ebq".into(), eventbridge(&bucket, &key("ebq")).to_string()));
    batch.push(("m-ebct".into(), api_call(&format!("{p}-ebct-sqs")).to_string()));
    let batch: Vec<(&str, &str)> = batch.iter().map(|(i, b)| (i.as_str(), b.as_str())).collect();

    let cwl: Vec<Value> = (0..2)
        .map(|i| json!({"eventVersion": "1.11", "eventID": format!("{p}-cwl-{i}"), "eventTime": "2024-05-01T10:00:00Z",
                        "eventName": "ConsoleLogin", "eventSource": "signin.amazonaws.com"}))
        .collect();
    let events = [
        sqs_event(&batch),
        json!({"Records": [s3_record(&bucket, &key("s3d"))]}),
        json!({"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0", "Sns": sns_envelope(&bucket, &key("snsd"))}]}),
        eventbridge(&bucket, &key("ebd")),
        api_call(&format!("{p}-ebct-direct")),
        awslogs(&cwl),
    ];
    let dead = format!("s3://{bucket}/dead-letters");
    let function = Function::start(&vars(&cluster.url, &p, &bucket, &dead), 60);
    for round in ["first delivery", "redelivery"] {
        for event in &events {
            let answer = function.invoke(event);
            assert!(
                !answer.failed,
                "{round}: {} failed: {}\n--- log:\n{}",
                known.name,
                answer.body,
                function.log()
            );
            if event.get("Records").is_some_and(|r| r[0]["eventSource"] == "aws:sqs") {
                assert_eq!(batch_failures(&answer), Vec::<String>::new(), "{round}");
            }
        }
        assert_eq!(cluster.count(&p), 7 * 3 + 2 + 2, "{round} on {}:\n{}", known.name, function.log());
    }
    for tag in tags {
        let found = cluster.search(&p, json!({"query": {"term": {"eventID": format!("{p}-{tag}-0")}}}));
        assert_eq!(found["hits"]["total"]["value"], 1, "{tag} on {}", known.name);
    }
    // The CloudWatch Logs and EventBridge CloudTrail events are indexed under their eventID.
    for id in [format!("{p}-ebct-sqs"), format!("{p}-ebct-direct")] {
        assert_eq!(cluster.get(&format!("/{p}-2024.05.01/_doc/{id}"))["found"], true, "{id}");
    }
    let doc = cluster.get(&format!("/{p}-2024.05.01/_doc/{p}-cwl-1"));
    assert_eq!(
        (doc["found"].as_bool(), doc["_source"]["eventID"].as_str()),
        (Some(true), Some(format!("{p}-cwl-1").as_str()))
    );
    cluster.clean(&p);
}

#[test]
fn a_poisoned_message_comes_back_alone() {
    let cluster = Cluster::es();
    let rt = runtime();
    let s3c = rt.block_on(s3());
    let bucket = rt.block_on(new_bucket(&s3c, "lambda-poison"));
    let p = prefix("lambda-poison");
    for tag in ["good1", "good2"] {
        rt.block_on(put(&s3c, &bucket, &key(tag), log_file(&format!("{p}-{tag}"), 2)));
    }
    let body = |tag: &str| json!({"Records": [s3_record(&bucket, &key(tag))]}).to_string();
    let function = Function::start(&vars(&cluster.url, &p, &bucket, &format!("s3://{bucket}/dl")), 60);
    let (good1, missing, good2) = (body("good1"), body("missing"), body("good2"));
    let answer = function.invoke(&sqs_event(&[("a", &good1), ("poison", &missing), ("b", &good2)]));
    assert_eq!(batch_failures(&answer), ["poison"], "{}", function.log());
    assert_eq!(cluster.count(&p), 4);
    assert!(function.logged("no such key"), "{}", function.log());
    // A body that is no notification, and one naming a bucket not allowed, come back too.
    let other = json!({"Records": [s3_record("someone-elses-bucket", &key("good1"))]}).to_string();
    let answer = function.invoke(&sqs_event(&[("a", &good1), ("junk", "hello"), ("elsewhere", &other)]));
    assert_eq!(batch_failures(&answer), ["junk", "elsewhere"], "{}", function.log());
    assert_eq!(cluster.count(&p), 4);
    cluster.clean(&p);
}

/// A log file of two events, one of which has no eventTime (so it is dead-lettered).
fn half_dead(tag: &str) -> Vec<u8> {
    let text = format!(
        r#"{{"Records":[{{"eventID":"{tag}-ok","eventTime":"2024-05-01T10:00:00Z","eventName":"E"}},{{"eventID":"{tag}-dead","eventName":"NoTime"}}]}}"#
    );
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(text.as_bytes()).unwrap();
    gz.finish().unwrap()
}

#[test]
fn dead_letters_are_stored_in_s3_or_sqs_before_a_message_is_done() {
    let cluster = Cluster::es();
    let rt = runtime();
    let s3c = rt.block_on(s3());
    let bucket = rt.block_on(new_bucket(&s3c, "lambda-dead"));
    let p = prefix("lambda-dead");
    rt.block_on(put(&s3c, &bucket, &key("half"), half_dead(&p)));
    let body = json!({"Records": [s3_record(&bucket, &key("half"))]}).to_string();
    let event = sqs_event(&[("m", &body)]);
    let letters_in =
        |text: &str| -> Vec<Value> { text.lines().map(|l| serde_json::from_str(l).unwrap()).collect() };

    // To S3: one object per invocation under the prefix, holding the letter.
    let function = Function::start(&vars(&cluster.url, &p, &bucket, &format!("s3://{bucket}/dl/")), 60);
    assert_eq!(batch_failures(&function.invoke(&event)), Vec::<String>::new(), "{}", function.log());
    let keys = rt.block_on(async {
        let out = s3c.list_objects_v2().bucket(&bucket).prefix("dl/").send().await.unwrap();
        out.contents.unwrap_or_default().into_iter().map(|o| o.key.unwrap()).collect::<Vec<_>>()
    });
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(keys[0].ends_with(".ndjson"), "{keys:?}");
    let text = rt.block_on(async {
        let o = s3c.get_object().bucket(&bucket).key(&keys[0]).send().await.unwrap();
        String::from_utf8(o.body.collect().await.unwrap().to_vec()).unwrap()
    });
    let letters = letters_in(&text);
    assert_eq!(letters.len(), 1, "{text}");
    assert_eq!(letters[0]["document"]["eventID"], format!("{p}-dead"));
    assert!(letters[0]["file"].as_str().unwrap().starts_with(&format!("s3://{bucket}/AWSLogs/")));
    assert_eq!(cluster.count(&p), 1);
    drop(function);

    // To SQS: one message per letter.
    let dl_queue = rt.block_on(new_queue("lambda-dead", &[]));
    let function = Function::start(&vars(&cluster.url, &p, &bucket, &dl_queue.url), 60);
    assert_eq!(batch_failures(&function.invoke(&event)), Vec::<String>::new(), "{}", function.log());
    let messages = rt.block_on(async {
        let out =
            dl_queue.sqs.receive_message().queue_url(&dl_queue.url).max_number_of_messages(10).send().await;
        out.unwrap().messages.unwrap_or_default()
    });
    assert_eq!(messages.len(), 1);
    let letter: Value = serde_json::from_str(messages[0].body.as_deref().unwrap()).unwrap();
    assert_eq!(letter["document"]["eventID"], format!("{p}-dead"));
    drop(function);

    // Where they cannot be stored, the message is not done.
    let nowhere = format!("s3://{}-missing/dl", bucket);
    let function = Function::start(&vars(&cluster.url, &p, &bucket, &nowhere), 60);
    assert_eq!(batch_failures(&function.invoke(&event)), ["m"], "{}", function.log());
    assert!(function.logged("dead letters were not stored"), "{}", function.log());
    cluster.clean(&p);
}

#[test]
fn an_outage_fails_the_batch_and_the_retry_lands_everything() {
    let cluster = Cluster::es();
    let proxy = HttpProxy::start(&cluster.url);
    let rt = runtime();
    let s3c = rt.block_on(s3());
    let bucket = rt.block_on(new_bucket(&s3c, "lambda-outage"));
    let p = prefix("lambda-outage");
    for tag in ["before", "during1", "during2"] {
        rt.block_on(put(&s3c, &bucket, &key(tag), log_file(&format!("{p}-{tag}"), 3)));
    }
    let body = |tag: &str| json!({"Records": [s3_record(&bucket, &key(tag))]}).to_string();
    // A function timeout of 8 s: the outage is given up a second before it.
    let function = Function::start(&vars(&proxy.url, &p, &bucket, &format!("s3://{bucket}/dl")), 8);
    let before = body("before");
    assert_eq!(batch_failures(&function.invoke(&sqs_event(&[("b", &before)]))), Vec::<String>::new());
    proxy.set(Mode::Cut);
    let (d1, d2) = (body("during1"), body("during2"));
    let batch = sqs_event(&[("d1", &d1), ("d2", &d2)]);
    let answer = function.invoke(&batch);
    assert!(answer.failed, "the whole batch fails: {}\n{}", answer.body, function.log());
    let message = answer.body["errorMessage"].as_str().unwrap_or_default();
    assert!(message.contains("cluster is failing"), "{message}");
    assert!(
        answer.took < Duration::from_secs(8),
        "answered before the function's timeout: {:?}",
        answer.took
    );
    assert_eq!(cluster.count(&p), 3);
    proxy.set(Mode::Pass);
    assert_eq!(batch_failures(&function.invoke(&batch)), Vec::<String>::new(), "{}", function.log());
    assert_eq!(cluster.count(&p), 9, "the retry lands everything");
    cluster.clean(&p);
}

#[test]
fn a_warm_start_sends_no_setup_request() {
    let cluster = Cluster::os();
    let proxy = HttpProxy::start(&cluster.url);
    let rt = runtime();
    let s3c = rt.block_on(s3());
    let bucket = rt.block_on(new_bucket(&s3c, "lambda-warm"));
    let p = prefix("lambda-warm");
    let tags = ["w1", "w2", "w3"];
    for tag in tags {
        rt.block_on(put(&s3c, &bucket, &key(tag), log_file(&format!("{p}-{tag}"), 2)));
    }
    let function = Function::start(&vars(&proxy.url, &p, &bucket, &format!("s3://{bucket}/dl")), 60);
    let setup = |requests: &[String]| -> Vec<String> {
        requests.iter().filter(|r| !r.starts_with("POST /_bulk")).cloned().collect()
    };
    let mut seen = Vec::new();
    for tag in tags {
        let answer = function.invoke(&json!({"Records": [s3_record(&bucket, &key(tag))]}));
        assert!(!answer.failed, "{}: {}", answer.body, function.log());
        seen.push(setup(&proxy.requests()));
    }
    assert!(
        seen[0].iter().any(|r| r == "GET /") && seen[0].iter().any(|r| r.contains("_index_template")),
        "{:?}",
        seen[0]
    );
    assert_eq!(seen[1], seen[0], "the second invocation sent a setup request");
    assert_eq!(seen[2], seen[0], "the third invocation sent a setup request");
    assert_eq!(cluster.count(&p), 6);
    assert_eq!(function.log().matches("Init Duration").count(), 1, "one cold start");
    cluster.clean(&p);
}

#[test]
fn a_bad_setting_fails_the_init_with_its_message() {
    let cluster = Cluster::es();
    for (vars, says) in [
        (vec![("ELASTICSEARCH_URL", cluster.url.as_str())], "CLOUDTRAIL_ES_DEAD_LETTER"),
        (
            vec![("CLOUDTRAIL_ES_DEAD_LETTER", "s3://b/dl"), ("CLOUDTRAIL_ES_BATCH_BYTES", "lots")],
            "--batch-bytes",
        ),
        (
            vec![("CLOUDTRAIL_ES_DEAD_LETTER", "s3://b/dl"), ("CLOUDTRAIL_ES_COMPRESS", "maybe")],
            "CLOUDTRAIL_ES_COMPRESS",
        ),
    ] {
        let function = Function::start(&vars, 30);
        let answer = function.invoke(&json!({"Records": []}));
        assert!(answer.failed, "{says}: {answer:?}");
        let text = format!("{}{}", answer.body, function.log());
        assert!(
            text.contains("Runtime.InitError") && text.contains(says),
            "{says}: {answer:?}\n{}",
            function.log()
        );
    }
}
