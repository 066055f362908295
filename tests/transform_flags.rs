//! Redaction and filtering flags, end to end with the real binary (docs/design/redaction-and-filters.md):
//! redacted values appear nowhere (output, dead letters, stderr), `hash` is the keyed HMAC and stable across
//! processes, filters keep exactly the expected events, and `--console-only` selects the documented rule on the
//! real corpus, as does its Elasticsearch/OpenSearch query (on all four test clusters).
//!
//! Expected values are computed here from the parsed inputs, independently of the binary's code
//! (only the path syntax's reference matcher, `FieldPath::matches`, is shared).
// The tests that need a server (and what only they use) exist with the feature `servers`.
#![cfg_attr(not(feature = "servers"), allow(dead_code, unused_imports))]

use crate::util::{corpus, generate, on_each_cluster, prefix, run_in, write_gz, Run};
use cloudtrail_es::transform::{console_query, FieldPath, Step, CREDENTIAL_FIELDS};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Console operations among the 11,799 events of the corpus (tests/corpus), by the documented rule (docs/guides/redaction-and-filters.md).
const CORPUS_CONSOLE_EVENTS: usize = 7_434;

/// Every event of every log file under `dir` (digest files skipped).
fn events(dir: &Path) -> Vec<Value> {
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file() && !e.path().to_string_lossy().contains("CloudTrail-Digest"))
        .map(|e| e.into_path())
        .collect();
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        let mut text = String::new();
        flate2::read::MultiGzDecoder::new(&bytes[..]).read_to_string(&mut text).unwrap();
        let doc: Value = serde_json::from_str(&text).unwrap();
        out.extend(doc["Records"].as_array().unwrap().iter().cloned());
    }
    out
}

/// Splits the strings of `event` into those under a location some path matches (`hidden`) and
/// the others (`shown`); a matched object or array counts whole.
fn split_strings(event: &Value, paths: &[FieldPath], hidden: &mut Vec<String>, shown: &mut Vec<String>) {
    fn all(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => out.push(s.clone()),
            Value::Object(m) => m.values().for_each(|x| all(x, out)),
            Value::Array(a) => a.iter().for_each(|x| all(x, out)),
            _ => {}
        }
    }
    fn go<'a>(
        v: &'a Value,
        at: &mut Vec<Step<'a>>,
        p: &[FieldPath],
        hidden: &mut Vec<String>,
        shown: &mut Vec<String>,
    ) {
        if !at.is_empty() && p.iter().any(|p| p.hides(at)) {
            return all(v, hidden);
        }
        match v {
            Value::String(s) => shown.push(s.clone()),
            Value::Object(m) => {
                for (k, x) in m {
                    shown.push(k.clone());
                    at.push(Step::Key(k));
                    go(x, at, p, hidden, shown);
                    at.pop();
                }
            }
            Value::Array(a) => {
                for x in a {
                    at.push(Step::Element);
                    go(x, at, p, hidden, shown);
                    at.pop();
                }
            }
            _ => {}
        }
    }
    go(event, &mut Vec::new(), paths, hidden, shown);
}

/// The values that must not appear in any output: strings under redacted paths, 8 characters or
/// longer, that do not also occur where nothing is redacted.
pub(crate) struct Secrets {
    pub(crate) all: HashSet<String>,
    /// Access-key-shaped tokens (`AKIA`/`ASIA` + 16) inside strings that are not redacted (an
    /// error message may quote a key ID that is redacted elsewhere).
    keys_shown: HashSet<String>,
}

pub(crate) fn secrets(events: &[Value], paths: &[&str]) -> Secrets {
    let paths: Vec<FieldPath> = paths.iter().map(|p| p.parse().unwrap()).collect();
    let (mut hidden, mut shown) = (Vec::new(), Vec::new());
    for e in events {
        split_strings(e, &paths, &mut hidden, &mut shown);
    }
    let keys_shown = shown.iter().flat_map(|s| access_keys(s)).map(str::to_string).collect();
    let shown: HashSet<String> = shown.into_iter().collect();
    let all = hidden.into_iter().filter(|s| s.chars().count() >= 8 && !shown.contains(s)).collect();
    Secrets { all, keys_shown }
}

/// Every `AKIA…`/`ASIA…` access key ID in `text`.
fn access_keys(text: &str) -> impl Iterator<Item = &str> {
    let starts = text.match_indices("AKIA").chain(text.match_indices("ASIA")).map(|(i, _)| i);
    starts.filter_map(move |i| {
        let key = text.get(i..i + 20)?;
        key.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()).then_some(key)
    })
}

/// Every string inside a JSON-lines text (keys included), decoded.
fn strings_in(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let mut stack = vec![v];
        while let Some(v) = stack.pop() {
            match v {
                Value::String(s) => out.push(s),
                Value::Object(m) => {
                    for (k, x) in m {
                        out.push(k);
                        stack.push(x);
                    }
                }
                Value::Array(a) => stack.extend(a),
                _ => {}
            }
        }
    }
    out
}

/// Fails if a secret is anywhere in the dead letters or stderr (as a substring, raw or decoded),
/// or in the output: as a whole string, decoded, or as an access key ID inside any text.
pub(crate) fn assert_nowhere(secrets: &Secrets, output: &str, dead_letters: &str, stderr: &str) {
    let small = [dead_letters.to_string(), strings_in(dead_letters).join("\u{1}"), stderr.to_string()];
    for s in &secrets.all {
        for text in &small {
            assert!(!text.contains(s.as_str()), "{s:?} survived in the dead letters or stderr");
        }
    }
    for s in strings_in(output) {
        assert!(!secrets.all.contains(&s), "{s:?} survived in the output");
    }
    for key in access_keys(output) {
        let leaked = secrets.all.contains(key) && !secrets.keys_shown.contains(key);
        assert!(!leaked, "{key:?} survived in the output");
    }
}

pub(crate) fn credential_paths() -> Vec<&'static str> {
    CREDENTIAL_FIELDS.iter().map(|(p, _)| *p).collect()
}

/// Documents of a bulk NDJSON text (every second line), by eventID.
pub(crate) fn documents(ndjson: &str) -> BTreeMap<String, Value> {
    let docs = ndjson.lines().skip(1).step_by(2).map(|l| serde_json::from_str::<Value>(l).unwrap());
    docs.map(|d| (d["eventID"].as_str().unwrap().to_string(), d)).collect()
}

/// Runs `backfill SOURCES -o out.ndjson FLAGS` in `dir`; returns the run, the output text and the
/// dead-letter file's text ("" if none).
pub(crate) fn backfill(
    dir: &Path,
    sources: &[&Path],
    flags: &[&str],
    env: &[(&str, &str)],
) -> (Run, String, String) {
    let out = dir.join("out.ndjson");
    let dead = dir.join("cloudtrail-es-dead-letters.ndjson");
    let _ = std::fs::remove_file(&dead);
    let mut args: Vec<String> = vec!["backfill".into()];
    args.extend(sources.iter().map(|s| s.to_string_lossy().into_owned()));
    args.extend(["-o".into(), out.to_string_lossy().into_owned()]);
    args.extend(flags.iter().map(|f| f.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = run_in(dir, &args, env);
    let text = std::fs::read_to_string(&out).unwrap_or_default();
    (run, text, std::fs::read_to_string(&dead).unwrap_or_default())
}

/// A record that is not valid JSON, holding a secret in a redacted field.
const INVALID: &str =
    r#"{"eventTime":"2024-01-01T00:00:00Z","userIdentity":{"accessKeyId":"AKIASECRETINVALID123"},"bad":tru}"#;

/// Events that fail after redaction (no time, bad time) and one that cannot be redacted, each
/// holding a secret in a redacted field.
fn broken_events(dir: &Path) -> PathBuf {
    let path = dir.join("broken/x.json.gz");
    let records = [
        INVALID,
        r#"{"eventName":"NoTime","userIdentity":{"accessKeyId":"AKIASECRETNOTIME1234"}}"#,
        r#"{"eventID":"bt","eventTime":"yesterday","userIdentity":{"accessKeyId":"AKIASECRETBADTIME123"}}"#,
    ];
    write_gz(&path, format!("{{\"Records\":[{}]}}", records.join(",\n")).as_bytes());
    path.parent().unwrap().to_path_buf()
}

#[test]
fn redacted_values_appear_nowhere_on_the_real_corpus() {
    let dir = tempfile::tempdir().unwrap();
    let broken = broken_events(dir.path());
    let key = dir.path().join("key");
    std::fs::write(&key, "corpus-key\n").unwrap();
    let extra = ["**.principalId", "userIdentity.sessionContext.sessionIssuer.arn"];
    let flags = [
        "--redact-preset",
        "credentials",
        "--redact",
        "**.principalId=hash",
        "--redact",
        "userIdentity.sessionContext.sessionIssuer.arn=mask",
        "--redact-key-file",
        key.to_str().unwrap(),
    ];
    let (run, output, dead) = backfill(dir.path(), &[&corpus(), &broken], &flags, &[]);
    run.expect_code(2);
    let mut inputs = events(&corpus());
    // The broken file is not valid JSON as a whole; its secrets, as events the test can read:
    for (key, id) in
        [("AKIASECRETINVALID123", "i"), ("AKIASECRETNOTIME1234", "nt"), ("AKIASECRETBADTIME123", "bt")]
    {
        inputs.push(json!({"eventID": id, "userIdentity": {"accessKeyId": key}}));
    }
    let mut paths = credential_paths();
    paths.extend(extra);
    let secrets = secrets(&inputs, &paths);
    assert!(secrets.all.len() > 300, "enough distinct secrets to mean something: {}", secrets.all.len());
    for s in ["AKIASECRETINVALID123", "AKIASECRETNOTIME1234", "AKIASECRETBADTIME123"] {
        assert!(secrets.all.contains(s));
    }
    assert_nowhere(&secrets, &output, &dead, &run.stderr);

    assert_eq!(documents(&output).len(), 11_799, "every real event is still indexed");
    let letters: Vec<Value> = dead.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(letters.len(), 3);
    assert_eq!(letters[0]["raw_withheld"]["bytes"].as_u64(), Some(INVALID.len() as u64), "{:?}", letters[0]);
    assert!(letters[0].get("raw").is_none() && letters[0].get("document").is_none());
    assert_eq!(letters[1]["document"], json!({"eventName":"NoTime","userIdentity":{}}), "redacted, not raw");
    assert_eq!(letters[2]["document"]["eventID"], "bt");
    assert!(
        run.stderr.contains("record 2: eventTime \"yesterday\" is not an ISO-8601 timestamp"),
        "{}",
        run.stderr
    );
}

/// The hex HMAC-SHA256 of `value` under `key`, computed here with the hmac crate directly.
pub(crate) fn hmac_hex(key: &[u8], value: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(value.as_bytes());
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn hash_is_the_keyed_hmac_stable_across_processes_and_keys() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    generate(&input, &["--events", "1500", "--seed", "11", "--no-digests"]);
    let inputs = events(&input);
    let (k1, k2) = (dir.path().join("k1"), dir.path().join("k2"));
    std::fs::write(&k1, "first key\n").unwrap();
    std::fs::write(&k2, "second key").unwrap();
    let hash = |key: &Path, env: &[(&str, &str)]| {
        let mut flags = vec!["--redact-preset", "credentials=hash"];
        if !key.as_os_str().is_empty() {
            flags.extend(["--redact-key-file", key.to_str().unwrap()]);
        }
        let (run, output, dead) = backfill(dir.path(), &[&input], &flags, env);
        run.expect_code(0);
        assert_eq!(dead, "");
        (output, run.stderr)
    };
    let (first, stderr) = hash(&k1, &[]);
    let (second, _) = hash(&k1, &[]);
    let (from_env, _) = hash(Path::new(""), &[("CLOUDTRAIL_ES_REDACT_KEY", "first key")]);
    let (other, _) = hash(&k2, &[]);
    // Reader threads may interleave files differently from run to run: compare sorted lines.
    let lines = |text: &str| text.lines().map(str::to_string).collect::<BTreeSet<String>>();
    assert!(lines(&first) == lines(&second), "same key, separate processes: same documents");
    assert!(lines(&first) == lines(&from_env), "the key from the environment is the same key");
    assert_nowhere(&secrets(&inputs, &credential_paths()), &first, "", &stderr);

    let (docs, docs2) = (documents(&first), documents(&other));
    let (mut checked, mut prefixed) = (0, 0);
    for event in &inputs {
        let id = event["eventID"].as_str().unwrap();
        let original = &event["userIdentity"]["accessKeyId"];
        let Some(original) = original.as_str() else { continue };
        let hashed = docs[id]["userIdentity"]["accessKeyId"].as_str().unwrap();
        // The generator writes key IDs (AKIA/ASIA + 16) or, for some services, "".
        let prefix = original.get(..4).unwrap_or_default();
        assert!(["AKIA", "ASIA", ""].contains(&prefix), "{original}");
        prefixed += usize::from(!prefix.is_empty());
        assert_eq!(
            hashed,
            format!("{prefix}{}", hmac_hex(b"first key", original)),
            "the key ID's prefix, then its keyed hash (the trailing newline of the key file ignored)"
        );
        assert_ne!(
            docs2[id]["userIdentity"]["accessKeyId"].as_str().unwrap(),
            hashed,
            "another key, another hash"
        );
        if let Some(token) = event["responseElements"]["credentials"]["sessionToken"].as_str() {
            assert_eq!(
                docs[id]["responseElements"]["credentials"]["sessionToken"],
                hmac_hex(b"first key", token)
            );
            assert_eq!(
                docs[id]["responseElements"]["credentials"]["expiration"],
                event["responseElements"]["credentials"]["expiration"],
                "fields beside the secrets are kept"
            );
        }
        checked += 1;
    }
    assert!(checked > 1000 && prefixed > 1000, "{checked} checked, {prefixed} with a prefix");
}

#[test]
fn filters_keep_exactly_the_expected_events() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    generate(&input, &["--events", "3000", "--seed", "12", "--no-digests"]);
    let inputs = events(&input);
    let name = |e: &Value| e["eventName"].as_str().unwrap_or_default().to_string();
    let user = |e: &Value| e["userIdentity"]["userName"].as_str().map(str::to_string);
    type Rule = Box<dyn Fn(&Value) -> bool>;
    let cases: Vec<(Vec<&str>, Rule)> = vec![
        (
            vec!["--exclude", "eventName=Describe*", "--exclude", "eventName=Get*"],
            Box::new(move |e| !name(e).starts_with("Describe") && !name(e).starts_with("Get")),
        ),
        (
            vec![
                "--include",
                "eventSource=s3.amazonaws.com",
                "--include",
                "eventSource=iam.amazonaws.com",
                "--include",
                "readOnly=false",
            ],
            Box::new(|e| {
                matches!(e["eventSource"].as_str(), Some("s3.amazonaws.com" | "iam.amazonaws.com"))
                    && e["readOnly"] == json!(false)
            }),
        ),
        (
            vec!["--include", "userIdentity.userName=alice", "--exclude", "eventName=List*"],
            Box::new(move |e| {
                user(e).as_deref() == Some("alice") && !e["eventName"].as_str().unwrap().starts_with("List")
            }),
        ),
        (
            vec!["--include", "resources.*.ARN=arn:aws:s3:::*", "--include", "errorCode=*"],
            Box::new(|e| {
                let s3 = e["resources"].as_array().is_some_and(|rs| {
                    rs.iter().any(|r| r["ARN"].as_str().is_some_and(|a| a.starts_with("arn:aws:s3:::")))
                });
                s3 && e.get("errorCode").is_some()
            }),
        ),
    ];
    for (flags, rule) in cases {
        let (run, output, _) = backfill(dir.path(), &[&input], &flags, &[]);
        run.expect_code(0);
        let want: BTreeSet<String> =
            inputs.iter().filter(|e| rule(e)).map(|e| e["eventID"].as_str().unwrap().to_string()).collect();
        assert!(!want.is_empty() && want.len() < inputs.len(), "{flags:?} selects some: {}", want.len());
        let got: BTreeSet<String> = documents(&output).into_keys().collect();
        assert_eq!(got, want, "{flags:?}");
        let filtered = format!("{} filtered out", inputs.len() - want.len());
        assert!(run.stderr.contains(&filtered), "{flags:?}: {}", run.stderr);
    }
}

/// The documented console rule, written out plainly on a parsed event.
fn console_by_hand(e: &Value) -> bool {
    let ua = e["userAgent"].as_str().unwrap_or("\0");
    let invoked = !e["userIdentity"]["invokedBy"].is_null();
    e["sessionCredentialFromConsole"] == json!("true")
        || matches!(e["eventType"].as_str(), Some("AwsConsoleSignIn" | "AwsConsoleAction"))
        || ua == "signin.amazonaws.com"
        || ua == "console.amazonaws.com"
        || (ua.starts_with("console.")
            && ua.ends_with(".amazonaws.com")
            && ua.len() >= "console..amazonaws.com".len())
        || ["Console/", "Console,", "ConsoleFrontend", "AWS Console"].iter().any(|t| ua.contains(t))
        || ua.starts_with("Mozilla/")
        || (ua == "AWS Internal" && !invoked)
}

#[test]
fn console_only_on_the_real_corpus_is_the_documented_rule() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = events(&corpus());
    let want: BTreeSet<String> = inputs
        .iter()
        .filter(|e| console_by_hand(e))
        .map(|e| e["eventID"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(want.len(), CORPUS_CONSOLE_EVENTS);
    let (run, output, _) = backfill(dir.path(), &[&corpus()], &["--console-only"], &[]);
    run.expect_code(0);
    let got: BTreeSet<String> = documents(&output).into_keys().collect();
    assert_eq!(got, want);
    assert!(
        run.stderr.contains(&format!("{} filtered out", 11_799 - CORPUS_CONSOLE_EVENTS)),
        "{}",
        run.stderr
    );
}

#[cfg(feature = "servers")]
#[test]
fn console_query_selects_the_same_events_on_every_cluster() {
    let dir = tempfile::tempdir().unwrap();
    on_each_cluster(|cluster| {
        let prefix = prefix("console");
        let source = corpus();
        let run = run_in(
            dir.path(),
            &["backfill", source.to_str().unwrap(), "--es", &cluster.url, "--index-prefix", &prefix],
            &[],
        );
        run.expect_code(0);
        cluster.post(&format!("/{prefix}-*/_refresh"), "");
        let body = json!({"query": console_query()}).to_string();
        let count = cluster.post(&format!("/{prefix}-*/_count"), &body)["count"].as_u64();
        cluster.clean(&prefix);
        assert_eq!(count, Some(CORPUS_CONSOLE_EVENTS as u64));
    });
}

#[test]
fn unusable_rules_stop_the_run_before_anything_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let source = corpus();
    let cases = [
        (
            &["--redact", "userIdentity.accessKeyId=hash"][..],
            "--redact userIdentity.accessKeyId=hash needs a secret key",
        ),
        (&["--redact-preset", "credentials=hash"], "--redact-preset credentials=hash needs a secret key"),
        (&["--redact", "eventTime"], "eventTime, which gives each document its _id, index day or @timestamp"),
        (&["--redact", "**"], "cannot be redacted"),
        (&["--redact", "a.*b"], "`*` must be a whole segment"),
        (&["--include", "eventName"], "FIELD=GLOB"),
    ];
    for (flags, want) in cases {
        let mut args = vec!["backfill", source.to_str().unwrap(), "-o", "out.ndjson"];
        args.extend(flags);
        let run = run_in(dir.path(), &args, &[("CLOUDTRAIL_ES_REDACT_KEY", "")]);
        run.expect_code(1);
        assert!(run.stderr.contains(want), "{flags:?}: {}", run.stderr);
        assert!(!dir.path().join("out.ndjson").exists(), "nothing written");
    }
}

#[test]
fn keys_with_dots_are_addressable_on_the_real_corpus() {
    // GuardDuty ListFindings: requestParameters.findingCriteria.criterion has a key "service.archived".
    let dir = tempfile::tempdir().unwrap();
    let inputs = events(&corpus());
    let want: BTreeSet<String> = inputs
        .iter()
        .filter(|e| {
            let eq = &e["requestParameters"]["findingCriteria"]["criterion"]["service.archived"]["eq"];
            eq.as_array().is_some_and(|a| a.contains(&json!("false")))
        })
        .map(|e| e["eventID"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(want.len(), 25);
    let flag = r"requestParameters.findingCriteria.criterion.service\.archived.eq=false";
    let (run, output, _) = backfill(dir.path(), &[&corpus()], &["--include", flag], &[]);
    run.expect_code(0);
    assert_eq!(documents(&output).into_keys().collect::<BTreeSet<_>>(), want);
    let redact = r"requestParameters.findingCriteria.criterion.service\.archived";
    let (run, output, _) = backfill(dir.path(), &[&corpus()], &["--include", flag, "--redact", redact], &[]);
    run.expect_code(0);
    let by_id: BTreeMap<&str, &Value> = inputs.iter().map(|e| (e["eventID"].as_str().unwrap(), e)).collect();
    for (id, doc) in documents(&output) {
        let mut want = by_id[id.as_str()]["requestParameters"]["findingCriteria"]["criterion"].clone();
        want.as_object_mut().unwrap().remove("service.archived");
        assert_eq!(doc["requestParameters"]["findingCriteria"]["criterion"], want);
    }
}
