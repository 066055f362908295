//! Redaction as the cluster sees fields (docs/design/security.md), end to end with the real binary: a rule
//! names a field whichever way the event spells it (nested objects, dotted keys, mixtures of both), in every
//! mode; and the cluster really indexes the dotted spelling as that field.
// The tests that need a server (and what only they use) exist with the feature `servers`.
#![cfg_attr(not(feature = "servers"), allow(dead_code, unused_imports))]

use crate::util::{prefix, run_in, write_gz, Cluster};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

const TIME: &str = "2024-05-01T10:00:00Z";

/// Access keys and tokens planted under the `credentials` preset's fields, spelled every way.
const PLANTED: [&str; 6] = [
    "AKIADOTTEDTOPLEVEL01",
    "IQoJDOTTEDMIXEDTOKEN02",
    "ASIADOTTEDMIXED00002",
    "AKIANESTEDPLAIN00003",
    "AKIADOTTEDREQUEST004",
    "IQoJFULLYDOTTEDTOKEN05",
];

/// A log file with the planted values in dotted, mixed and nested spellings.
fn spelled_every_way(dir: &Path) -> PathBuf {
    let records = [
        json!({"eventID": "d1", "eventTime": TIME, "eventName": "GetCallerIdentity",
               "userIdentity.accessKeyId": PLANTED[0], "userIdentity.userName": "alice"}),
        json!({"eventID": "d2", "eventTime": TIME, "eventName": "AssumeRole",
               "responseElements": {"credentials.sessionToken": PLANTED[1],
                                    "credentials.accessKeyId": PLANTED[2],
                                    "credentials.expiration": "Jan 1, 2030"}}),
        json!({"eventID": "d3", "eventTime": TIME, "eventName": "DeleteAccessKey",
               "userIdentity": {"accessKeyId": PLANTED[3], "type": "IAMUser"},
               "requestParameters.accessKeyId": PLANTED[4]}),
        json!({"eventID": "d4", "eventTime": TIME, "eventName": "GetSessionToken",
               "responseElements.credentials.sessionToken": PLANTED[5]}),
    ];
    let path = dir.join("in/spellings.json.gz");
    write_gz(&path, json!({"Records": records}).to_string().as_bytes());
    path
}

/// `backfill FILE -o out.ndjson FLAGS`: the run's stderr and the documents by eventID.
fn backfill(dir: &Path, file: &Path, flags: &[&str]) -> (String, Vec<(String, Value)>) {
    let out = dir.join("out.ndjson");
    let mut args = vec!["backfill", file.to_str().unwrap(), "-o", out.to_str().unwrap()];
    args.extend(flags);
    let run = run_in(dir, &args, &[("CLOUDTRAIL_ES_REDACT_KEY", "spelling test key")]);
    run.expect_code(0);
    let text = std::fs::read_to_string(&out).unwrap();
    let docs = text.lines().skip(1).step_by(2).map(|l| serde_json::from_str::<Value>(l).unwrap());
    (run.stderr, docs.map(|d| (d["eventID"].as_str().unwrap().to_string(), d)).collect())
}

#[test]
fn every_spelling_of_a_preset_field_is_redacted_in_every_mode() {
    let dir = tempfile::tempdir().unwrap();
    let file = spelled_every_way(dir.path());
    // Without rules the planted values are in the output: the checks below can fail.
    let (_, plain) = backfill(dir.path(), &file, &[]);
    let plain_text = serde_json::to_string(&plain).unwrap();
    assert!(PLANTED.iter().all(|s| plain_text.contains(s)));

    for mode in ["remove", "mask", "hash"] {
        let preset = format!("credentials={mode}");
        let (stderr, docs) = backfill(dir.path(), &file, &["--redact-preset", &preset]);
        let text = serde_json::to_string(&docs).unwrap();
        for secret in PLANTED {
            assert!(!text.contains(secret), "{mode}: {secret} survived: {text}");
            assert!(!stderr.contains(secret), "{mode}: {secret} in stderr");
        }
        let doc = |id: &str| docs.iter().find(|(i, _)| i == id).map(|(_, d)| d.clone()).unwrap();
        assert_eq!(doc("d1")["userIdentity.userName"], "alice", "{mode}: other dotted keys are kept");
        assert_eq!(doc("d2")["responseElements"]["credentials.expiration"], "Jan 1, 2030", "{mode}");
        assert_eq!(doc("d3")["userIdentity"]["type"], "IAMUser", "{mode}");
        match mode {
            "remove" => {
                assert!(doc("d1").get("userIdentity.accessKeyId").is_none());
                assert_eq!(doc("d2")["responseElements"], json!({"credentials.expiration": "Jan 1, 2030"}));
            }
            "mask" => {
                assert_eq!(doc("d1")["userIdentity.accessKeyId"], "****EL01");
                assert_eq!(doc("d3")["requestParameters.accessKeyId"], "****T004");
            }
            _ => {
                let hashed = doc("d4")["responseElements.credentials.sessionToken"].clone();
                assert_eq!(hashed.as_str().map(str::len), Some(64), "{hashed}");
            }
        }
    }
}

#[cfg(feature = "servers")]
#[test]
fn the_cluster_indexes_a_dotted_key_as_the_field_the_rule_names() {
    let dir = tempfile::tempdir().unwrap();
    let file = spelled_every_way(dir.path());
    let cluster = Cluster::es();
    let prefix = prefix("spelling");
    let args = [
        "backfill",
        file.to_str().unwrap(),
        "--es",
        &cluster.url,
        "--index-prefix",
        &prefix,
        "--redact-preset",
        "credentials=mask",
    ];
    run_in(dir.path(), &args, &[]).expect_code(0);
    let hits = |query: Value| {
        let found = cluster.search(&prefix, json!({"query": query, "size": 10}));
        found["hits"]["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["_id"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let masked = hits(json!({"term": {"userIdentity.accessKeyId": "****EL01"}}));
    let secret = hits(json!({"term": {"userIdentity.accessKeyId": PLANTED[0]}}));
    let token = hits(json!({"term": {"responseElements.credentials.sessionToken": PLANTED[5]}}));
    let all = cluster.search(&prefix, json!({"size": 10}));
    cluster.clean(&prefix);
    assert_eq!(masked, ["d1"], "the dotted key is the field userIdentity.accessKeyId, masked");
    assert!(secret.is_empty() && token.is_empty(), "{secret:?} {token:?}");
    let sources = all["hits"]["hits"].to_string();
    assert_eq!(all["hits"]["hits"].as_array().unwrap().len(), 4);
    assert!(PLANTED.iter().all(|s| !sources.contains(s)), "{sources}");
}

#[test]
fn lookup_events_by_access_key_are_redacted_and_other_lookups_kept() {
    let dir = tempfile::tempdir().unwrap();
    let lookup = |id: &str, attrs: Value| {
        json!({"eventID": id, "eventTime": TIME, "eventSource": "cloudtrail.amazonaws.com",
               "eventName": "LookupEvents", "requestParameters": {"lookupAttributes": attrs, "maxResults": 50}})
    };
    let records = [
        lookup("l1", json!([{"attributeKey": "AccessKeyId", "attributeValue": "AKIALOOKUPSECRET0001"}])),
        lookup("l2", json!([{"attributeValue": "ASIALOOKUPSECRET0002", "attributeKey": "AccessKeyId"}])),
        lookup(
            "l3",
            json!([{"attributeKey": "EventName", "attributeValue": "ConsoleLogin"},
                            {"attributeKey": "Username", "attributeValue": "alice"}]),
        ),
        json!({"eventID": "l4", "eventTime": TIME, "eventName": "LookupEvents",
               "requestParameters.lookupAttributes": [{"attributeKey": "AccessKeyId", "attributeValue": "AKIALOOKUPSECRET0004"}]}),
    ];
    let file = dir.path().join("in/lookups.json.gz");
    write_gz(&file, json!({"Records": records}).to_string().as_bytes());
    let (_, plain) = backfill(dir.path(), &file, &[]);
    assert!(serde_json::to_string(&plain).unwrap().contains("AKIALOOKUPSECRET0001"), "the check can fail");
    for mode in ["remove", "mask", "hash"] {
        let preset = format!("credentials={mode}");
        let (stderr, docs) = backfill(dir.path(), &file, &["--redact-preset", &preset]);
        let text = serde_json::to_string(&docs).unwrap();
        assert!(!text.contains("LOOKUPSECRET") && !stderr.contains("LOOKUPSECRET"), "{mode}: {text}");
        let l3 = &docs.iter().find(|(id, _)| id == "l3").unwrap().1;
        assert_eq!(
            l3["requestParameters"]["lookupAttributes"],
            json!([{"attributeKey": "EventName", "attributeValue": "ConsoleLogin"},
                   {"attributeKey": "Username", "attributeValue": "alice"}]),
            "{mode}: lookups by other attributes are kept"
        );
        let l1 = &docs.iter().find(|(id, _)| id == "l1").unwrap().1["requestParameters"];
        assert_eq!(l1["maxResults"], 50);
        assert_eq!(l1["lookupAttributes"][0]["attributeKey"], "AccessKeyId", "{mode}");
        if mode == "mask" {
            assert_eq!(l1["lookupAttributes"][0]["attributeValue"], "****0001");
        }
    }
}

#[test]
fn a_repeated_secret_key_is_a_dead_letter_saying_so_in_every_mode() {
    let dir = tempfile::tempdir().unwrap();
    let raw = format!(
        r#"{{"Records":[{{"eventID":"r1","eventTime":"{TIME}","userIdentity":{{"type":"IAMUser","accessKeyId":"AKIAREPEATEDSECRET01","accessKeyId":"AKIAREPEATEDSECRET02"}}}},{{"eventID":"r2","eventTime":"{TIME}"}}]}}"#
    );
    let file = dir.path().join("in/repeated.json.gz");
    write_gz(&file, raw.as_bytes());
    let dead = dir.path().join("cloudtrail-es-dead-letters.ndjson");
    for mode in ["remove", "mask", "hash"] {
        let _ = std::fs::remove_file(&dead);
        let out = dir.path().join("out.ndjson");
        let preset = format!("credentials={mode}");
        let args =
            ["backfill", file.to_str().unwrap(), "-o", out.to_str().unwrap(), "--redact-preset", &preset];
        let run = run_in(dir.path(), &args, &[("CLOUDTRAIL_ES_REDACT_KEY", "k")]);
        run.expect_code(2);
        let letters = std::fs::read_to_string(&dead).unwrap();
        let letter: Value = serde_json::from_str(letters.lines().next().unwrap()).unwrap();
        let reason = letter["reason"].as_str().unwrap();
        assert!(
            reason.contains("duplicate field `accessKeyId` in userIdentity")
                && reason.contains("repeats a key"),
            "{mode}: {reason}"
        );
        assert_eq!(letter["document"]["eventID"], "r1", "{mode}: the redacted document is kept");
        assert_eq!(letters.lines().count(), 1, "{mode}: only the event with the repeated key");
        let everything = format!("{letters}{}{}", run.stderr, std::fs::read_to_string(&out).unwrap());
        assert!(!everything.contains("REPEATEDSECRET"), "{mode}: {everything}");
        assert!(run.stderr.contains("duplicate field `accessKeyId`"), "{}", run.stderr);
    }
}
