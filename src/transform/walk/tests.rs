//! Tests of the walker against `serde_json`, the reference it must agree with: on every event of
//! the real corpus (compact and pretty-printed), on hand-picked edge cases, and on tens of
//! thousands of randomly mutated events. Redaction is checked against a plain tree-based
//! implementation of the same rules on `serde_json::Value`.

use super::*;
use crate::transform::path::{FieldPath, Step};
use crate::transform::redact::HashKey;
use serde_json::Value;
use std::path::Path;

/// A matcher for `(path, redaction, capture slot)` rules; the last redaction rule that ends at a
/// state wins, as in the real plan.
fn rules(list: &[(&str, Option<RedactMode>, Option<u16>)]) -> (Vec<FieldPath>, Matcher<Accept>) {
    let paths: Vec<FieldPath> = list.iter().map(|r| r.0.parse().unwrap()).collect();
    let refs: Vec<&FieldPath> = paths.iter().collect();
    let m = Matcher::new(&refs, |ends| Accept {
        redact: ends.iter().rev().find_map(|&i| list[i as usize].1),
        captures: ends.iter().filter_map(|&i| list[i as usize].2).collect(),
        ..Default::default()
    })
    .unwrap();
    (paths, m)
}

fn redactor() -> Redactor {
    Redactor { key: Some(HashKey::new(b"test key", "test").unwrap()) }
}

fn walk(src: &[u8], m: &Matcher<Accept>) -> Result<(Vec<u8>, Found), WalkError> {
    let (mut out, mut found) = (Vec::new(), Found::default());
    rewrite(src, m, &redactor(), &mut out, &mut found)?;
    Ok((out, found))
}

fn plain(src: &[u8]) -> Result<Vec<u8>, WalkError> {
    let (_, m) = rules(&[]);
    walk(src, &m).map(|(out, _)| out)
}

/// The walker and serde_json agree on `src`: both refuse it, or both accept it and the walker's
/// output is the same value, compacted.
fn agree(src: &[u8]) {
    let first = src.iter().copied().find(|&b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
    let ours = plain(src);
    if first != Some(b'{') {
        assert!(matches!(ours, Err(WalkError::NotObject(_))), "{:?}: {ours:?}", String::from_utf8_lossy(src));
        return;
    }
    let theirs = serde_json::from_slice::<Value>(src);
    match (&ours, &theirs) {
        (Ok(out), Ok(value)) => {
            assert_eq!(out, &crate::transform::redact::compact(src), "output is the input, compacted");
            let back: Value = serde_json::from_slice(out).expect("output parses");
            assert_eq!(&back, value);
        }
        (Err(_), Err(_)) => {}
        _ => panic!(
            "disagreement on {:?}:\n  walker: {:?}\n  serde_json: {:?}",
            String::from_utf8_lossy(src),
            ours.as_ref().map(|o| String::from_utf8_lossy(o).into_owned()),
            theirs.map(|_| ())
        ),
    }
}

/// Every event of the repository's corpus of real CloudTrail logs (tests/corpus), as raw bytes.
pub(crate) fn corpus_events() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/real");
    assert!(dir.is_dir(), "the corpus is missing at {}", dir.display());
    let mut files: Vec<_> = walkdir::WalkDir::new(&dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect();
    files.sort();
    let mut events = Vec::new();
    for file in files {
        let f = std::fs::File::open(&file).unwrap();
        crate::decode::read_records(f, |_, event| {
            events.push(event.to_vec());
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
    }
    events
}

/// Events from the repository's generator (`scripts/gen/cloudtrail.py`, deterministic).
fn generated_events() -> Vec<Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/gen/cloudtrail.py");
    let out = std::process::Command::new("python3")
        .arg(script)
        .arg("--out")
        .arg(dir.path())
        .args(["--events", "3000", "--seed", "31", "--no-digests"])
        .output()
        .expect("python3");
    assert!(out.status.success(), "generator: {}", String::from_utf8_lossy(&out.stderr));
    let mut events = Vec::new();
    for entry in walkdir::WalkDir::new(dir.path()).sort_by_file_name() {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            let f = std::fs::File::open(entry.path()).unwrap();
            crate::decode::read_records(f, |_, event| {
                events.push(event.to_vec());
                std::ops::ControlFlow::Continue(())
            })
            .unwrap();
        }
    }
    events
}

#[test]
fn agrees_with_serde_json_on_every_real_event_compact_and_pretty() {
    let events = corpus_events();
    assert_eq!(events.len(), 11_799);
    for event in &events {
        agree(event);
        let value: Value = serde_json::from_slice(event).unwrap();
        agree(&serde_json::to_vec_pretty(&value).unwrap());
    }
}

#[test]
fn agrees_with_serde_json_on_edge_cases() {
    let cases: &[&[u8]] = &[
        b"{}",
        b" \t\r\n{ } \n",
        b"{\x0c}",
        br#"{"a":1,}"#,
        br#"{"a":1 "b":2}"#,
        br#"{"a" 1}"#,
        br#"{a:1}"#,
        br#"{"a":[1,2,]}"#,
        br#"{"a":[,1]}"#,
        br#"{"a":[]}"#,
        br#"{"a":{}}"#,
        br#"{"a":1}x"#,
        br#"{"a":1}}"#,
        br#"{"a":1} {"b":2}"#,
        br#"{"a":"#,
        br#"{"a":"x"#,
        br#"{"a":"x\"#,
        br#"{"a":tru}"#,
        br#"{"a":truex}"#,
        br#"{"a":nul}"#,
        br#"{"a":True}"#,
        br#"{"a":01}"#,
        br#"{"a":-}"#,
        br#"{"a":-0}"#,
        br#"{"a":1.}"#,
        br#"{"a":.5}"#,
        br#"{"a":+1}"#,
        br#"{"a":1e}"#,
        br#"{"a":1e+}"#,
        br#"{"a":1E-7}"#,
        br#"{"a":1.5e308}"#,
        br#"{"a":1.8e308}"#,
        br#"{"a":-1e400}"#,
        br#"{"a":1e-400}"#,
        br#"{"a":0e999999999999}"#,
        br#"{"a":18446744073709551616}"#,
        br#"{"a":-9223372036854775809}"#,
        br#"{"a":"\u00e9\n\t\/\b\f\r\\\""}"#,
        br#"{"a":"\x"}"#,
        br#"{"a":"\u12"}"#,
        br#"{"a":"\u12G4"}"#,
        br#"{"a":"\ud83d\ude00"}"#,
        br#"{"a":"\ud83d"}"#,
        br#"{"a":"\ud83dx"}"#,
        br#"{"a":"\ud83d\n"}"#,
        br#"{"a":"\ud83d\u0041"}"#,
        br#"{"a":"\ude00"}"#,
        br#"{"\ud800":1}"#,
        b"{\"a\":\"tab\there\"}",
        b"{\"a\":\"nl\nhere\"}",
        b"{\"a\":\"del\x7fok\"}",
        b"{\"a\":\"\xc3\xa9\"}",
        b"{\"a\":\"\xc3\"}",
        b"{\"a\":\"\xff\"}",
        b"{\"a\":\"\xed\xa0\x80\"}",
        b"{\"a\":\"\xf4\x90\x80\x80\"}",
        b"{\"\xc3\xa9\":1}",
        b"{\"a\":1}\xc3",
        br#"{"a":1,"a":2}"#,
        b"\xef\xbb\xbf{}",
    ];
    for case in cases {
        agree(case);
    }
    // Long strings cross the 8-byte fast path at every alignment.
    for n in 0..40 {
        for special in ["\"", "\\n", "\x01", "é"] {
            let s = format!("{{\"k\":\"{}{special}{}\"}}", "x".repeat(n), "y".repeat(n % 9));
            agree(s.as_bytes());
        }
    }
}

#[test]
fn nesting_limit_matches_serde_json() {
    for depth in [125, 126, 127, 128, 129] {
        for (open, close) in [("[", "]"), ("{\"k\":", "}")] {
            // The event itself is one level.
            let inner = depth - 1;
            let s = format!("{{\"x\":{}1{}}}", open.repeat(inner), close.repeat(inner));
            agree(s.as_bytes());
        }
    }
    let (_, m) = rules(&[("**.z", Some(RedactMode::Remove), None)]);
    let deep = format!("{{\"x\":{}1{}}}", "[".repeat(126), "]".repeat(126));
    assert!(walk(deep.as_bytes(), &m).is_ok(), "127 levels, walked with paths");
    let deeper = format!("{{\"x\":{}1{}}}", "[".repeat(127), "]".repeat(127));
    assert!(walk(deeper.as_bytes(), &m).is_err(), "128 levels, walked with paths");
}

/// A small deterministic random generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn agrees_with_serde_json_on_mutated_events() {
    const BYTES: &[u8] = b"\"\\,:{}[]0-+e.E \n\t\x01\x1f\x7fu/tnfa1\xc3\xa9\xff\xed\xa0\xf0";
    let events = corpus_events();
    let mut rng = Rng(0x5EED_CAFE);
    let mut seeds: Vec<Vec<u8>> = (0..200).map(|_| events[rng.below(events.len())].clone()).collect();
    seeds.push(br#"{"a":[1,-2.5e3,"\u00e9\ud83d\ude00",true,null,{"b":{}}],"c":"d"}"#.to_vec());
    for round in 0..30_000 {
        let mut s = seeds[round % seeds.len()].clone();
        for _ in 0..1 + rng.below(3) {
            let at = rng.below(s.len());
            match rng.below(5) {
                0 => {
                    s.remove(at.min(s.len() - 1));
                }
                1 => s.insert(at, BYTES[rng.below(BYTES.len())]),
                2 => {
                    let i = at.min(s.len() - 1);
                    s[i] = BYTES[rng.below(BYTES.len())];
                }
                3 => s.truncate(at.max(1)),
                _ => {
                    let len = rng.below(8);
                    let span: Vec<u8> = s[at..(at + len).min(s.len())].to_vec();
                    s.splice(at..at, span);
                }
            }
            if s.is_empty() {
                s.push(b'{');
            }
        }
        agree(&s);
    }
}

/// `at` holds keys, with "\0" standing for an array element.
fn steps_of(at: &[String]) -> Vec<Step<'_>> {
    at.iter().map(|k| if k == "\0" { Step::Element } else { Step::Key(k) }).collect()
}

/// The same rules applied to a `serde_json::Value`, the plain way: the reference for redaction.
fn redact_tree(
    value: &Value,
    paths: &[FieldPath],
    modes: &[Option<RedactMode>],
    at: &mut Vec<String>,
) -> Value {
    // The last rule with a mode that matches wins.
    let mode_at = |steps: &[Step]| {
        (0..paths.len()).rev().find(|&i| modes[i].is_some() && paths[i].matches(steps)).and_then(|i| modes[i])
    };
    let replace = |mode: RedactMode, v: &Value| -> Value {
        let mut out = Vec::new();
        redactor().write(mode, &serde_json::to_vec(v).unwrap(), &mut out);
        serde_json::from_slice(&out).unwrap()
    };
    match value {
        Value::Object(map) => {
            let mut out = serde_json::Map::new();
            for (k, v) in map {
                // A dotted key is the nested keys it spells: the first of them a rule hides decides.
                let base = at.len();
                let mut mode = None;
                for piece in k.split('.') {
                    at.push(piece.to_string());
                    mode = mode.or_else(|| mode_at(&steps_of(at)));
                }
                match mode {
                    Some(RedactMode::Remove) => {}
                    Some(mode) => {
                        out.insert(k.clone(), replace(mode, v));
                    }
                    None => {
                        out.insert(k.clone(), redact_tree(v, paths, modes, at));
                    }
                }
                at.truncate(base);
            }
            Value::Object(out)
        }
        Value::Array(items) => {
            at.push("\0".into());
            let mode = mode_at(&steps_of(at));
            let out = items
                .iter()
                .filter_map(|v| match mode {
                    Some(RedactMode::Remove) => None,
                    Some(mode) => Some(replace(mode, v)),
                    None => Some(redact_tree(v, paths, modes, at)),
                })
                .collect();
            at.pop();
            Value::Array(out)
        }
        other => other.clone(),
    }
}

/// The rules of the corpus redaction tests: every mode, wildcards, objects and leaves.
const CORPUS_RULES: [(&str, Option<RedactMode>, Option<u16>); 12] = {
    use RedactMode::{Hash, Mask, Remove};
    [
        ("userIdentity.accessKeyId", Some(Remove), None),
        ("userIdentity.sessionContext", Some(Mask), None),
        ("responseElements.credentials.*", Some(Hash), None),
        ("requestParameters.**.name", Some(Hash), None),
        ("requestParameters.*", Some(Remove), None),
        ("requestParameters.bucketName", None, Some(0)),
        ("resources.*.ARN", Some(Remove), None),
        ("resources.*", Some(Mask), None),
        ("responseElements.**.items.*", Some(Remove), None),
        ("**.groupId", Some(Mask), None),
        ("tlsDetails", Some(Remove), None),
        ("eventName", None, Some(1)),
    ]
};

#[test]
fn redaction_agrees_with_the_tree_reference_on_the_corpus() {
    let list = CORPUS_RULES;
    let (paths, m) = rules(&list);
    let modes: Vec<Option<RedactMode>> = list.iter().map(|r| r.1).collect();
    for event in corpus_events() {
        let value: Value = serde_json::from_slice(&event).unwrap();
        let want = redact_tree(&value, &paths, &modes, &mut Vec::new());
        for src in [event.clone(), serde_json::to_vec_pretty(&value).unwrap()] {
            let (out, _) = walk(&src, &m).unwrap();
            let got: Value = serde_json::from_slice(&out)
                .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out)));
            assert_eq!(got, want);
            assert!(!out.contains(&b'\n'), "one line");
        }
    }
}

/// `value` with nested objects folded into dotted keys, as Elasticsearch would index it the same:
/// `{"a":{"b":1}}` becomes `{"a.b":1}`; each object member is folded when `fold()` says so (never
/// when a key would collide). Arrays stay arrays (their elements are folded inside).
fn dotted(value: &Value, fold: &mut dyn FnMut() -> bool) -> Value {
    match value {
        Value::Object(map) => {
            let mut out = serde_json::Map::new();
            for (k, v) in map {
                let v = dotted(v, fold);
                match &v {
                    Value::Object(inner) if !inner.is_empty() && fold() => {
                        let collides = inner.keys().any(|sub| {
                            map.contains_key(&format!("{k}.{sub}")) || out.contains_key(&format!("{k}.{sub}"))
                        });
                        if collides {
                            out.insert(k.clone(), v.clone());
                        } else {
                            for (sub, x) in inner {
                                out.insert(format!("{k}.{sub}"), x.clone());
                            }
                        }
                    }
                    _ => {
                        out.insert(k.clone(), v);
                    }
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| dotted(v, fold)).collect()),
        other => other.clone(),
    }
}

/// What Elasticsearch indexes: every scalar with its dotted field name (array elements take the
/// array's name), sorted.
fn indexed(value: &Value) -> Vec<(String, String)> {
    fn go(v: &Value, name: &str, out: &mut Vec<(String, String)>) {
        match v {
            Value::Object(map) => {
                for (k, x) in map {
                    go(x, &if name.is_empty() { k.clone() } else { format!("{name}.{k}") }, out);
                }
            }
            Value::Array(items) => items.iter().for_each(|x| go(x, name, out)),
            scalar => out.push((name.to_string(), scalar.to_string())),
        }
    }
    let mut out = Vec::new();
    go(value, "", &mut out);
    out.sort();
    out
}

#[test]
fn dotted_keys_are_redacted_like_the_objects_they_spell_on_generated_events() {
    let list = CORPUS_RULES;
    let (paths, m) = rules(&list);
    let modes: Vec<Option<RedactMode>> = list.iter().map(|r| r.1).collect();
    // Rules that hide leaves, or remove: the cluster then indexes the same fields and values
    // whichever spelling the event used. (Masking a whole object is the same in spirit but not in
    // bytes: one `****` for the object, or one per dotted key.)
    let leaf_list: Vec<_> = list.iter().copied().filter(|r| r.0 != "userIdentity.sessionContext").collect();
    let (_, leaf_m) = rules(&leaf_list);
    let mut rng = Rng(0xD07_7ED);
    let (mut folded, mut events) = (0, 0);
    for event in generated_events() {
        let value: Value = serde_json::from_slice(&event).unwrap();
        let (nested_out, _) = walk(&event, &leaf_m).unwrap();
        let nested: Value = serde_json::from_slice(&nested_out).unwrap();
        for variant in [dotted(&value, &mut || true), dotted(&value, &mut || rng.below(2) == 0)] {
            if variant == value {
                continue;
            }
            folded += 1;
            let src = serde_json::to_vec(&variant).unwrap();
            let want = redact_tree(&variant, &paths, &modes, &mut Vec::new());
            let got: Value = serde_json::from_slice(&walk(&src, &m).unwrap().0).unwrap();
            assert_eq!(got, want, "the tree reference, on {}", String::from_utf8_lossy(&src));
            let got: Value = serde_json::from_slice(&walk(&src, &leaf_m).unwrap().0).unwrap();
            assert_eq!(
                indexed(&got),
                indexed(&nested),
                "what is indexed, on {}",
                String::from_utf8_lossy(&src)
            );
        }
        events += 1;
    }
    assert!(folded > events, "most events have objects to fold: {folded} variants of {events} events");
}

#[test]
fn dotted_keys_and_mixtures_are_redacted_in_every_mode() {
    use RedactMode::{Hash, Mask, Remove};
    for mode in [Remove, Mask, Hash] {
        let (_, m) = rules(&[
            ("userIdentity.accessKeyId", Some(mode), None),
            ("responseElements.credentials.sessionToken", Some(mode), None),
            ("responseElements.credentials.accessKeyId", Some(mode), None),
            ("userIdentity.userName", None, Some(0)),
        ]);
        let src = br#"{"userIdentity.accessKeyId":"AKIADOTTEDSECRET0001","userIdentity.userName":"alice","responseElements":{"credentials.sessionToken":"TOKENDOTTEDSECRET001","credentials":{"accessKeyId":"ASIANESTEDSECRET0001"}},"responseElements.credentials.accessKeyId":"ASIADOTTEDSECRET0002","x":{"y.z":"kept"}}"#;
        let (out, found) = walk(src, &m).unwrap();
        let text = String::from_utf8(out).unwrap();
        for secret in
            ["AKIADOTTEDSECRET0001", "TOKENDOTTEDSECRET001", "ASIANESTEDSECRET0001", "ASIADOTTEDSECRET0002"]
        {
            assert!(!text.contains(secret), "{mode}: {secret} survived in {text}");
        }
        assert!(text.contains(r#""x":{"y.z":"kept"}"#) && text.contains("alice"), "{mode}: {text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        match mode {
            Remove => assert!(v.get("userIdentity.accessKeyId").is_none(), "{text}"),
            Mask => assert_eq!(v["userIdentity.accessKeyId"], "****0001"),
            Hash => {
                assert_eq!(v["responseElements"]["credentials.sessionToken"].as_str().map(str::len), Some(64))
            }
        }
        assert_eq!(found.single(src, 0).0, Some(&br#""alice""#[..]), "captures read dotted keys too");
    }
    // A rule naming an object hides a dotted key that is part of it.
    let (_, m) = rules(&[("responseElements.credentials", Some(Mask), None)]);
    let (out, _) =
        walk(br#"{"responseElements.credentials.sessionToken":"TOKENDOTTEDSECRET001"}"#, &m).unwrap();
    assert_eq!(out, br#"{"responseElements.credentials.sessionToken":"****T001"}"#);
}

#[test]
fn conditional_rules_look_at_the_sibling_in_any_order() {
    use crate::transform::redact::{Condition, RedactRule};
    use RedactMode::{Hash, Mask, Remove};
    let src = br#"{"requestParameters":{"lookupAttributes":[{"attributeKey":"AccessKeyId","attributeValue":"AKIALOOKUPSECRET0001"},{"attributeValue":"AKIALOOKUPSECRET0002", "attributeKey" : "Access\u004beyId"},{"attributeKey":"EventName","attributeValue":"ConsoleLogin"},{"attributeKey":"Username","attributeValue":"alice","x":[1,{"attributeKey":"AccessKeyId"}]}]}}"#;
    for mode in [Remove, Mask, Hash] {
        let rule = RedactRule {
            path: "requestParameters.lookupAttributes.*.attributeValue".parse().unwrap(),
            mode,
            when: Some(Condition { sibling: "attributeKey".into(), equals: "AccessKeyId".into() }),
        };
        let m = compile(&[rule], &[]).unwrap();
        let (out, _) = walk(src, &m).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains("LOOKUPSECRET"), "{mode}: {text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        let attrs = &v["requestParameters"]["lookupAttributes"];
        assert_eq!(attrs[2]["attributeValue"], "ConsoleLogin", "{mode}: other lookups are kept");
        assert_eq!(attrs[3]["attributeValue"], "alice", "{mode}: a nested sibling is not a sibling");
        match mode {
            Remove => assert_eq!(attrs[0], serde_json::json!({"attributeKey": "AccessKeyId"})),
            Mask => assert_eq!(attrs[1]["attributeValue"], "****0002"),
            Hash => {
                let hashed = attrs[0]["attributeValue"].as_str().unwrap();
                assert!(
                    hashed.starts_with("AKIA") && hashed.len() == 68,
                    "the key ID's prefix kept: {hashed}"
                )
            }
        }
    }
    // A rule without a condition on the same field wins.
    let rules = [
        RedactRule {
            path: "a.*.v".parse().unwrap(),
            mode: Remove,
            when: Some(Condition { sibling: "k".into(), equals: "x".into() }),
        },
        "a.*.v=mask".parse().unwrap(),
    ];
    let (out, _) = walk(br#"{"a":[{"k":"x","v":"123456789"}]}"#, &compile(&rules, &[]).unwrap()).unwrap();
    assert_eq!(out, br#"{"a":[{"k":"x","v":"****6789"}]}"#);
    // Invalid JSON after the sibling is still reported where it is.
    let err = walk(br#"{"a":[{"k":"x","v":"s",}]}"#, &compile(&rules[..1], &[]).unwrap()).err().unwrap();
    assert_eq!(err.to_string(), "invalid JSON at byte 23: expected a string key");
}

#[test]
fn removal_keeps_commas_right_wherever_the_member_is() {
    use RedactMode::Remove;
    let (_, m) =
        rules(&[("x", Some(Remove), None), ("arr.*", Some(Remove), None), ("o.*", Some(Remove), None)]);
    let cases = [
        (r#"{"x":1}"#, r#"{}"#),
        (r#"{"x":1,"a":2}"#, r#"{"a":2}"#),
        (r#"{"a":2,"x":1}"#, r#"{"a":2}"#),
        (r#"{"a":2,"x":1,"b":3}"#, r#"{"a":2,"b":3}"#),
        (r#"{"x":1,"x":{"y":2},"a":[3]}"#, r#"{"a":[3]}"#),
        (r#"{"a":1,"x":1,"x":2}"#, r#"{"a":1}"#),
        ("{\n  \"x\" : [1, 2],\n  \"a\" : 2 ,\n  \"x\": 3\n}", r#"{"a":2}"#),
        (r#"{"arr":[1,2,3],"o":{"p":1,"q":2}}"#, r#"{"arr":[],"o":{}}"#),
    ];
    for (src, want) in cases {
        let (out, found) = walk(src.as_bytes(), &m).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), want, "{src}");
        assert_eq!(found.duplicate.is_some(), src.matches("\"x\"").count() > 1, "{src}");
    }
}

#[test]
fn repeated_keys_that_rules_name_are_noted_with_where_they_are() {
    use RedactMode::{Hash, Mask, Remove};
    for mode in [Remove, Mask, Hash] {
        let (_, m) =
            rules(&[("userIdentity.accessKeyId", Some(mode), None), ("resources.*.ARN", None, Some(0))]);
        let src = br#"{"userIdentity":{"accessKeyId":"AKIAREPEATEDSECRET01","type":"IAMUser","access\u004beyId":"AKIAREPEATEDSECRET02"}}"#;
        let (out, found) = walk(src, &m).unwrap();
        let dup = found.duplicate.expect("noted");
        assert_eq!((dup.key.as_str(), dup.path.as_str(), dup.at), (r"access\u004beyId", "userIdentity", 71));
        let text = dup.to_string();
        assert!(
            text.starts_with(r"duplicate field `access\u004beyId` in userIdentity (byte 71): "),
            "{text}"
        );
        assert!(!text.contains("SECRET") && !String::from_utf8(out).unwrap().contains("SECRET"), "{mode}");
        let (_, found) = walk(br#"{"resources":[{"ARN":"a"},{"ARN":"b","ARN":"c"}]}"#, &m).unwrap();
        assert_eq!(found.duplicate.map(|d| d.path), Some("resources.*".into()));
    }
    // Repeated keys no rule names are left to the cluster (they are skipped unread).
    let (_, m) = rules(&[("userIdentity.accessKeyId", Some(Mask), None)]);
    let (_, found) =
        walk(br#"{"userIdentity":{"x":1,"x":2},"y":{"z":1,"z":2},"userIdentity.accessKeyId":"a"}"#, &m)
            .unwrap();
    assert!(found.duplicate.is_none());
    let (_, found) = walk(br#"{"userIdentity.accessKeyId":"a","userIdentity.accessKeyId":"b"}"#, &m).unwrap();
    assert_eq!(
        found.duplicate.map(|d| (d.key, d.path)),
        Some(("userIdentity.accessKeyId".into(), "".into()))
    );
}

#[test]
fn mask_and_hash_replace_values_in_place() {
    use RedactMode::{Hash, Mask};
    let (_, m) = rules(&[("k", Some(Mask), None), ("h", Some(Hash), None)]);
    let (out, _) = walk(br#"{"k":"AKIAIOSFODNN7EXAMPLE","h":"secret","n":1}"#, &m).unwrap();
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["k"], "****MPLE");
    assert_eq!(v["h"].as_str().unwrap().len(), 64);
    assert_eq!(v["n"], 1);
    let (again, _) = walk(b"{ \"h\" : \"secret\" }", &m).unwrap();
    assert_eq!(serde_json::from_slice::<Value>(&again).unwrap()["h"], v["h"]);
}

#[test]
fn escaped_keys_match_their_unescaped_path() {
    let (_, m) = rules(&[(r"a\.b", Some(RedactMode::Remove), None), ("c", None, Some(3))]);
    let (out, found) = walk(br#"{"a\u002eb":"gone","\u0063":"seen","a.bc":1,"a":{"b":"gone"}}"#, &m).unwrap();
    assert_eq!(out, br#"{"\u0063":"seen","a.bc":1,"a":{}}"#);
    let src = br#"{"a\u002eb":"gone","\u0063":"seen","a.bc":1}"#;
    assert_eq!(found.single(src, 3).0, Some(&br#""seen""#[..]));
}

#[test]
fn captures_see_original_values_even_when_redacted() {
    use RedactMode::Remove;
    let (_, m) = rules(&[
        ("userIdentity", Some(Remove), None),
        ("userIdentity.userName", None, Some(0)),
        ("resources.*.ARN", None, Some(1)),
        ("eventID", None, Some(2)),
    ]);
    let src =
        br#"{"eventID":"e1","userIdentity":{"userName":"alice"},"resources":[{"ARN":"a1"},{"ARN":"a2"}]}"#;
    let (out, found) = walk(src, &m).unwrap();
    assert_eq!(out, br#"{"eventID":"e1","resources":[{"ARN":"a1"},{"ARN":"a2"}]}"#);
    assert_eq!(found.single(src, 0).0, Some(&br#""alice""#[..]));
    assert_eq!(found.values(src, 1).collect::<Vec<_>>(), [br#""a1""#, br#""a2""#]);
    assert_eq!(found.single(src, 2), (Some(&br#""e1""#[..]), false));
}

#[test]
fn errors_say_where_but_never_what() {
    let err = plain(br#"{"secret":"AKIA1234567890ABCDEF"x}"#).unwrap_err().to_string();
    assert_eq!(err, "invalid JSON at byte 32: expected ',' or '}'");
    let err = plain(b"{\"secret\":\"AKIA\x01\"}").unwrap_err().to_string();
    assert!(!err.contains("AKIA"), "{err}");
    assert_eq!(plain(b"[1]").unwrap_err(), WalkError::NotObject("an array"));
    assert_eq!(plain(b"  ").unwrap_err(), WalkError::NotObject("empty"));
}
