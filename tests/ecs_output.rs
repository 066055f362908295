//! `--ecs` end to end with the real binary (docs/design/ecs.md): `setup --ecs` installs the ECS template on
//! Elasticsearch 8 and 9 and OpenSearch 3 and 2 (where `flattened` becomes `flat_object`) and a
//! second run changes nothing; `--ecs` documents of part of the corpus then land on each with no
//! rejection and are found by their ECS fields, flattened sub-keys included; and redaction covers
//! the ECS copies (`--redact-preset credentials --ecs`: no access key ID in any document).
//! The prebuilt-rules test is `ecs_rules.rs`.
// The tests that need a server (and what only they use) exist with the feature `servers`.
#![cfg_attr(not(feature = "servers"), allow(dead_code, unused_imports))]

use crate::ecs_rules::namespace;
use crate::ecs_rules::rules::rules;
use crate::transform_flags::{assert_nowhere, backfill, credential_paths, documents, secrets};
use crate::util::{corpus, event_counts, events, on_each_cluster, run_in, Cluster};
use cloudtrail_es::transform::ecs::ecs_fields;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::PathBuf;

/// Three of the corpus' sources: 727 events of three identity types, attack detonations among them.
fn part_of_the_corpus() -> Vec<PathBuf> {
    ["datadog-stratus-red-team", "adanalvarez-traildiscover", "otrf-security-datasets"]
        .iter()
        .map(|d| corpus().join(d))
        .collect()
}

fn setup_ecs(cluster: &Cluster, namespace: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let args = ["setup", "--es", &cluster.url, "--ecs", "--ecs-namespace", namespace];
    let run = run_in(dir.path(), &args, &[]);
    run.expect_code(0);
    run.stdout
}

fn ecs_setup_and_documents(cluster: &Cluster) {
    let (namespace, p) = namespace("ecs-setup");
    let first = setup_ecs(cluster, &namespace);
    for line in [
        format!("component template {p}@settings: created"),
        format!("component template {p}@mappings: created"),
        format!("component template {p}@ecs: created"),
        format!("index template {p} ({p}-*): created"),
        "done: 5 item(s) created or updated".to_string(),
    ] {
        assert!(first.contains(&line), "missing {line:?} in\n{first}");
    }
    let template = cluster.get(&format!("/_index_template/{p}"));
    let template = &template["index_templates"][0]["index_template"];
    assert_eq!(
        template["composed_of"],
        json!([format!("{p}@settings"), format!("{p}@mappings"), format!("{p}@ecs")])
    );
    assert!(template["priority"].as_u64().unwrap() > 200, "{template}");
    assert!(template.get("data_stream").is_none(), "{template}");
    let second = setup_ecs(cluster, &namespace);
    assert_eq!(second.matches(": unchanged").count(), 5, "{second}");
    assert!(second.contains("nothing to change"), "{second}");

    // Documents into the template setup made (--no-setup): none rejected.
    let sources = part_of_the_corpus();
    let raw: Vec<Value> = sources.iter().flat_map(|s| events(s)).collect();
    let dir = tempfile::tempdir().unwrap();
    let mut args =
        vec!["backfill", "--ecs", "--ecs-namespace", &namespace, "--es", &cluster.url, "--no-setup"];
    args.extend(sources.iter().map(|s| s.to_str().unwrap()));
    let run = run_in(dir.path(), &args, &[]);
    run.expect_code(0);
    let (indexed, present, dead) = event_counts(&run);
    assert_eq!((indexed + present, dead), (raw.len() as u64, 0), "{}", run.stderr);
    assert_eq!(cluster.count(&p), raw.len() as u64);

    let total = |query: Value| {
        let found = cluster.search(&p, json!({"size": 0, "track_total_hits": true, "query": query}));
        found["hits"]["total"]["value"].as_u64().unwrap_or_else(|| panic!("{found}"))
    };
    let iam_users = raw.iter().filter(|e| e["userIdentity"]["type"] == "IAMUser").count() as u64;
    assert!(iam_users > 0);
    assert_eq!(total(json!({"term": {"aws.cloudtrail.user_identity.type": "IAMUser"}})), iam_users);
    // A flattened (flat_object on OpenSearch) sub-key of the ECS copy of requestParameters.
    let bucket = "mordors3stack-s3bucket-llp2yingx64a";
    let with_bucket = raw.iter().filter(|e| e["requestParameters"]["bucketName"] == bucket).count() as u64;
    assert!(with_bucket > 0);
    let flat = "aws.cloudtrail.flattened.request_parameters.bucketName";
    assert_eq!(total(json!({"term": {flat: bucket}})), with_bucket);
    assert_eq!(total(json!({"term": {"data_stream.namespace": namespace}})), raw.len() as u64);

    // The prebuilt rules that have trigger events here find exactly them on this cluster too.
    let mut checked = 0;
    for rule in rules() {
        let want: BTreeSet<&str> =
            raw.iter().filter(|e| (rule.expected)(e)).map(|e| e["eventID"].as_str().unwrap()).collect();
        if want.is_empty() {
            continue;
        }
        let hits = cluster.search(&p, json!({"size": 10000, "query": rule.query, "_source": ["user"]}));
        let got: BTreeSet<&str> = hits["hits"]["hits"]
            .as_array()
            .unwrap_or_else(|| panic!("{}: {hits}", rule.name))
            .iter()
            .filter(|h| rule.compare.is_none_or(|keep| keep(&h["_source"])))
            .map(|h| h["_id"].as_str().unwrap())
            .collect();
        assert_eq!(got, want, "{}: hits (left) vs trigger events (right)", rule.name);
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} rules have trigger events in this part of the corpus");
    cluster.clean(&p);
}

#[cfg(feature = "servers")]
#[test]
fn ecs_setup_twice_is_a_no_op_and_documents_land_on_every_cluster() {
    on_each_cluster(ecs_setup_and_documents);
}

/// The ECS copies are computed after redaction: with the credentials preset no access key ID is
/// anywhere in the documents, ECS fields included; masked, the ECS copy is the masked value.
#[test]
fn redaction_covers_the_ecs_copies() {
    let raw = events(&corpus());
    // Without redaction the ECS fields would copy access key IDs: this test can fail.
    let copied = raw
        .iter()
        .filter(|e| {
            let ecs = Value::Object(ecs_fields(e, "default"));
            ecs["aws"]["cloudtrail"]["user_identity"].get("access_key_id").is_some()
        })
        .count();
    assert!(copied > 1000, "{copied} events with an access key ID to copy");

    let dir = tempfile::tempdir().unwrap();
    let (run, output, dead) =
        backfill(dir.path(), &[&corpus()], &["--redact-preset", "credentials", "--ecs"], &[]);
    run.expect_code(0);
    let secrets = secrets(&raw, &credential_paths());
    assert!(secrets.all.len() > 300, "enough distinct secrets to mean something: {}", secrets.all.len());
    assert_nowhere(&secrets, &output, &dead, &run.stderr);
    let docs = documents(&output);
    assert_eq!(docs.len(), raw.len());
    for doc in docs.values() {
        assert_eq!(doc["event"]["dataset"], "aws.cloudtrail", "ECS fields are there");
        assert!(doc["aws"]["cloudtrail"]["user_identity"].get("access_key_id").is_none(), "{doc}");
    }

    let (run, output, _) =
        backfill(dir.path(), &[&corpus()], &["--redact-preset", "credentials=mask", "--ecs"], &[]);
    run.expect_code(0);
    let mut masked = 0;
    for doc in documents(&output).values() {
        let copy = &doc["aws"]["cloudtrail"]["user_identity"]["access_key_id"];
        let own = &doc["userIdentity"]["accessKeyId"];
        if own.is_string() {
            assert_eq!(copy, own, "the ECS copy is the masked value");
            assert!(own.as_str().unwrap().starts_with("****"), "{own}");
            masked += 1;
        }
    }
    assert!(masked > 1000, "{masked}");

    // Hashed, a key ID keeps its prefix (AKIA long-term, ASIA temporary) in front of its keyed
    // hash, in the document and in its ECS copy alike; nothing else of it remains.
    let env = [("CLOUDTRAIL_ES_REDACT_KEY", "ecs key")];
    let (run, output, dead) =
        backfill(dir.path(), &[&corpus()], &["--redact-preset", "credentials=hash", "--ecs"], &env);
    run.expect_code(0);
    assert_nowhere(&secrets, &output, &dead, &run.stderr);
    let originals: std::collections::HashMap<&str, &str> = raw
        .iter()
        .filter_map(|e| Some((e["eventID"].as_str()?, e["userIdentity"]["accessKeyId"].as_str()?)))
        .collect();
    let (mut prefixed, mut opaque) = (0, 0);
    for (id, doc) in documents(&output) {
        let own = &doc["userIdentity"]["accessKeyId"];
        let Some(original) = originals.get(id.as_str()) else { continue };
        assert_eq!(&doc["aws"]["cloudtrail"]["user_identity"]["access_key_id"], own, "the ECS copy");
        let own = own.as_str().unwrap();
        let hmac = crate::transform_flags::hmac_hex(b"ecs key", original);
        let id_shaped =
            original.len() == 20 && original.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if id_shaped && ["AKIA", "ASIA"].contains(&&original[..4]) {
            assert_eq!(own, format!("{}{hmac}", &original[..4]), "{original}");
            prefixed += 1;
        } else {
            assert_eq!(own, hmac, "not a key ID: nothing kept ({original})");
            opaque += 1;
        }
    }
    assert!(prefixed > 1000, "{prefixed} key IDs hashed with their prefix ({opaque} other values)");
}

/// `event.ingested` is the time of the run in every `--ecs` document (what 189 of Elastic's 194
/// AWS rules select by); `--ecs-no-ingested` leaves it out, and then two runs write the same
/// documents.
#[test]
fn event_ingested_is_the_time_of_the_run_unless_left_out() {
    let sources = part_of_the_corpus();
    let sources: Vec<&std::path::Path> = sources.iter().map(PathBuf::as_path).collect();
    let raw: Vec<Value> = sources.iter().flat_map(|s| events(s)).collect();
    let dir = tempfile::tempdir().unwrap();
    let started = chrono::Utc::now().timestamp_millis();
    let (run, output, _) = backfill(dir.path(), &sources, &["--ecs"], &[]);
    run.expect_code(0);
    let finished = chrono::Utc::now().timestamp_millis();
    let docs = documents(&output);
    assert_eq!(docs.len(), raw.len());
    for (id, doc) in &docs {
        let time = doc["event"]["ingested"].as_str().unwrap_or_else(|| panic!("{id}: no event.ingested"));
        let time = chrono::DateTime::parse_from_rfc3339(time).unwrap().timestamp_millis();
        assert!((started..=finished).contains(&time), "{id}: {time} not in the run");
    }
    let (run, first, _) = backfill(dir.path(), &sources, &["--ecs", "--ecs-no-ingested"], &[]);
    run.expect_code(0);
    assert!(!first.contains("\"ingested\""), "left out");
    assert_eq!(documents(&first).len(), raw.len());
    let (_, second, _) = backfill(dir.path(), &sources, &["--ecs", "--ecs-no-ingested"], &[]);
    // The same lines (their order follows the reader threads).
    let sorted = |text: &str| text.lines().map(str::to_string).collect::<BTreeSet<String>>();
    assert!(sorted(&first) == sorted(&second), "without event.ingested every run writes the same documents");
}
