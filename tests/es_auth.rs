//! Authentication and TLS against a real secured Elasticsearch (HTTPS with a dev CA, security on):
//! basic auth from `--es-user` + ELASTICSEARCH_PASSWORD or from the URL, API keys in both forms,
//! `--ca-cert` and `--insecure`, a user with only the documented privileges; a cluster we cannot trust
//! or that refuses us is a quick exit 1 naming the URL. No run ever shows a secret: not on stdout,
//! stderr (even at trace level, in JSON) nor in the dead-letter file.

use crate::util::secure::{base64, ApiKey, Secure};
use crate::util::{command, prefix, run_in, Run};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// A refused or untrusted cluster must be told at once, not after retries.
const QUICK: Duration = Duration::from_secs(10);

/// The day index of the events written by [`write_log`].
const DAY: &str = "2024.05.01";

/// A log file with one event `id` in `dir/a.json`.
fn write_log(dir: &Path, id: &str) {
    let event =
        format!(r#"{{"eventID":"{id}","eventTime":"2024-05-01T00:00:00Z","eventName":"ConsoleLogin"}}"#);
    std::fs::write(dir.join("a.json"), format!(r#"{{"Records":[{event}]}}"#)).unwrap();
}

/// `cloudtrail-es [GLOBAL] backfill a.json --index-prefix P ARGS` in `dir`, timed.
fn backfill(dir: &Path, global: &[&str], p: &str, args: &[&str], env: &[(&str, &str)]) -> (Run, Duration) {
    let mut all: Vec<&str> = global.to_vec();
    all.extend(["backfill", "a.json", "--index-prefix", p]);
    all.extend(args);
    let started = Instant::now();
    let run = run_in(dir, &all, env);
    (run, started.elapsed())
}

/// Panics if any secret shows in the run's output or in the dead-letter file of `dir`.
fn assert_no_secret(run: &Run, dir: &Path, secrets: &[&str]) {
    let dead = std::fs::read_to_string(dir.join("cloudtrail-es-dead-letters.ndjson")).unwrap_or_default();
    for secret in secrets {
        assert!(!run.stdout.contains(secret), "a secret is on stdout:\n{}", run.stdout);
        assert!(!run.stderr.contains(secret), "a secret is on stderr:\n{}", run.stderr);
        assert!(!dead.contains(secret), "a secret is in the dead-letter file:\n{dead}");
    }
}

/// What must never show when `elastic`'s password is in play: it, and the Basic header made of it.
fn password_secrets(secure: &Secure) -> Vec<String> {
    vec![secure.password.clone(), base64(format!("elastic:{}", secure.password).as_bytes())]
}

fn key_secrets(key: &ApiKey) -> Vec<String> {
    vec![key.key.clone(), key.encoded.clone()]
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn basic_auth_with_es_user_and_the_password_from_the_environment() {
    let secure = Secure::get();
    let (p, dir) = (prefix("auth-basic"), tempfile::tempdir().unwrap());
    write_log(dir.path(), "auth-basic-1");
    let ca = secure.ca.to_str().unwrap();
    let env = [("ELASTICSEARCH_PASSWORD", secure.password.as_str())];
    let (run, _) =
        backfill(dir.path(), &[], &p, &["--es", &secure.url, "--es-user", "elastic", "--ca-cert", ca], &env);
    run.expect_code(0);
    assert!(run.stderr.contains("1 indexed"), "{}", run.stderr);
    assert!(secure.has_doc(&format!("{p}-{DAY}"), "auth-basic-1"));
    assert_no_secret(&run, dir.path(), &refs(&password_secrets(&secure)));
    // The node's certificate names localhost too, and that name is checked like the IP address.
    let local = secure.url.replace("127.0.0.1", "localhost");
    let (run, _) =
        backfill(dir.path(), &[], &p, &["--es", &local, "--es-user", "elastic", "--ca-cert", ca], &env);
    run.expect_code(0);
    assert!(run.stderr.contains("0 indexed, 1 already present"), "{}", run.stderr);
    secure.clean(&p);
}

#[test]
fn basic_auth_from_the_url() {
    let secure = Secure::get();
    let (p, dir) = (prefix("auth-url"), tempfile::tempdir().unwrap());
    write_log(dir.path(), "auth-url-1");
    let url = secure.url.replace("https://", &format!("https://elastic:{}@", secure.password));
    let (run, _) =
        backfill(dir.path(), &[], &p, &["--es", &url, "--ca-cert", secure.ca.to_str().unwrap()], &[]);
    run.expect_code(0);
    assert!(secure.has_doc(&format!("{p}-{DAY}"), "auth-url-1"));
    assert!(run.stderr.contains(&format!("{} is Elasticsearch", secure.url)), "{}", run.stderr);
    assert!(run.stderr.contains("visible to other users in the process list"), "warned: {}", run.stderr);
    assert_no_secret(&run, dir.path(), &refs(&password_secrets(&secure)));
    secure.clean(&p);
}

#[test]
fn api_key_in_the_encoded_form_and_as_id_colon_key() {
    let secure = Secure::get();
    let key = secure.api_key("cloudtrail-es-it");
    let (p, dir) = (prefix("auth-key"), tempfile::tempdir().unwrap());
    write_log(dir.path(), "auth-key-1");
    let args = ["--es", &secure.url, "--ca-cert", secure.ca.to_str().unwrap()];
    let id_key = format!("{}:{}", key.id, key.key);
    for (form, want) in [(&key.encoded, "1 indexed"), (&id_key, "0 indexed, 1 already present")] {
        let (run, _) = backfill(dir.path(), &[], &p, &args, &[("ELASTICSEARCH_API_KEY", form)]);
        run.expect_code(0);
        assert!(run.stderr.contains(want), "{}", run.stderr);
        assert_no_secret(&run, dir.path(), &refs(&key_secrets(&key)));
    }
    assert!(secure.has_doc(&format!("{p}-{DAY}"), "auth-key-1"));
    secure.clean(&p);
}

#[test]
fn insecure_skips_verification_and_without_it_an_untrusted_certificate_is_a_quick_exit_1() {
    let secure = Secure::get();
    let (p, dir) = (prefix("auth-tls"), tempfile::tempdir().unwrap());
    write_log(dir.path(), "auth-tls-1");
    let env = [("ELASTICSEARCH_PASSWORD", secure.password.as_str())];
    let args = ["--es", &secure.url, "--es-user", "elastic"];
    let (run, _) = backfill(dir.path(), &[], &p, &[&args[..], &["--insecure"]].concat(), &env);
    run.expect_code(0);
    assert!(secure.has_doc(&format!("{p}-{DAY}"), "auth-tls-1"));
    assert_no_secret(&run, dir.path(), &refs(&password_secrets(&secure)));

    let (run, took) = backfill(dir.path(), &[], &p, &args, &env);
    run.expect_code(1);
    assert!(took < QUICK, "took {took:?}");
    let want = format!("cannot reach {}: ", secure.url);
    assert!(run.stderr.contains(&want) && run.stderr.contains("invalid peer certificate"), "{}", run.stderr);
    assert!(run.stderr.contains("--ca-cert PATH") && run.stderr.contains("--insecure"), "{}", run.stderr);
    assert_no_secret(&run, dir.path(), &refs(&password_secrets(&secure)));
    secure.clean(&p);
}

#[test]
fn no_credentials_is_a_quick_exit_1_saying_what_to_set() {
    let secure = Secure::get();
    let (p, dir) = (prefix("auth-none"), tempfile::tempdir().unwrap());
    write_log(dir.path(), "auth-none-1");
    let (run, took) =
        backfill(dir.path(), &[], &p, &["--es", &secure.url, "--ca-cert", secure.ca.to_str().unwrap()], &[]);
    run.expect_code(1);
    assert!(took < QUICK, "took {took:?}");
    let want =
        format!("error: {} requires credentials (HTTP 401) and none were given: set --es-user", secure.url);
    assert!(run.stderr.contains(&want), "{}", run.stderr);
    assert!(run.stderr.contains("ELASTICSEARCH_PASSWORD") && run.stderr.contains("ELASTICSEARCH_API_KEY"));
    assert!(!dir.path().join("cloudtrail-es-dead-letters.ndjson").exists());
}

#[test]
fn refused_credentials_are_a_quick_exit_1_naming_the_url_and_never_the_secret() {
    let secure = Secure::get();
    let (p, dir) = (prefix("auth-wrong"), tempfile::tempdir().unwrap());
    write_log(dir.path(), "auth-wrong-1");
    let ca = secure.ca.to_str().unwrap();
    let wrong_password = "not-the-password-71d3";
    let bogus_key = "bogus-id:bogus-secret-9e2a";
    let wrong_url = secure.url.replace("https://", &format!("https://elastic:{wrong_password}@"));
    let basic = "(HTTP 401, basic auth as user \"elastic\"): check --es-user and ELASTICSEARCH_PASSWORD";
    let check = |args: &[&str], env: &[(&str, &str)], want: &str, secrets: &[&str]| {
        let (run, took) = backfill(dir.path(), &[], &p, &[args, &["--ca-cert", ca]].concat(), env);
        run.expect_code(1);
        assert!(took < QUICK, "took {took:?}");
        let want = format!("error: {} refused our credentials {want}", secure.url);
        assert!(run.stderr.contains(&want), "want {want:?} in:\n{}", run.stderr);
        assert_no_secret(&run, dir.path(), secrets);
    };
    let header = base64(format!("elastic:{wrong_password}").as_bytes());
    let env = [("ELASTICSEARCH_PASSWORD", wrong_password)];
    check(&["--es", &secure.url, "--es-user", "elastic"], &env, basic, &[wrong_password, &header]);
    check(&["--es", &wrong_url], &[], basic, &[wrong_password, &header]);
    let key_header = base64(bogus_key.as_bytes());
    let env = [("ELASTICSEARCH_API_KEY", bogus_key)];
    let want = "(HTTP 401, the API key in ELASTICSEARCH_API_KEY): check";
    check(&["--es", &secure.url], &env, want, &["bogus-secret-9e2a", &key_header]);
}

#[test]
fn trace_logs_in_json_and_dead_letters_carry_no_secret() {
    let secure = Secure::get();
    let key = secure.api_key("cloudtrail-es-it-trace");
    let (p, dir) = (prefix("auth-trace"), tempfile::tempdir().unwrap());
    // An index whose mapping takes no string eventName: the event is dead-lettered (exit 2).
    let mapping = r#"{"mappings":{"properties":{"eventName":{"type":"long"}}}}"#;
    let (status, reply) = secure.request("PUT", &format!("/{p}-{DAY}"), Some(mapping));
    assert_eq!(status, 200, "{reply}");
    write_log(dir.path(), "auth-trace-1");
    let ca = secure.ca.to_str().unwrap();
    let url = secure.url.replace("https://", &format!("https://elastic:{}@", secure.password));
    let mut secrets = password_secrets(&secure);
    secrets.extend(key_secrets(&key));
    let runs = [
        // -vv: this program's trace lines; RUST_LOG=trace: every library's too (HTTP, TLS).
        (vec!["-vv", "--log-format", "json"], vec![("ELASTICSEARCH_PASSWORD", secure.password.as_str())]),
        (
            vec!["--log-format", "json"],
            vec![("RUST_LOG", "trace"), ("ELASTICSEARCH_API_KEY", key.encoded.as_str())],
        ),
    ];
    for (global, env) in runs {
        let es =
            if env.iter().any(|(k, _)| *k == "ELASTICSEARCH_API_KEY") { secure.url.as_str() } else { &url };
        let (run, _) = backfill(dir.path(), &global, &p, &["--es", es, "--ca-cert", ca, "--no-setup"], &env);
        run.expect_code(2);
        assert!(run.stderr.contains(r#""level":"DEBUG""#), "no JSON debug lines:\n{}", run.stderr);
        assert_no_secret(&run, dir.path(), &refs(&secrets));
    }
    let dead = std::fs::read_to_string(dir.path().join("cloudtrail-es-dead-letters.ndjson")).unwrap();
    assert_eq!(dead.lines().count(), 2, "{dead}");
    assert!(dead.contains("auth-trace-1"), "{dead}");
    secure.clean(&p);
}

#[test]
fn a_user_with_only_the_documented_privileges_can_backfill_and_less_is_a_clear_403() {
    let secure = Secure::get();
    let (p, dir) = (prefix("auth-role"), tempfile::tempdir().unwrap());
    write_log(dir.path(), "auth-role-1");
    let user_password = "ingest-only-pw-55c1";
    // The documented privileges (docs/guides/connecting.md): cluster `monitor` (what is the cluster) and `manage_index_templates`
    // (the template; not needed with --no-setup), `create_doc` and `create_index` on PREFIX-*.
    let make_user = |name: &str, cluster: &str| {
        let role = format!(
            r#"{{"cluster":[{cluster}],"indices":[{{"names":["{p}-*"],"privileges":["create_doc","create_index"]}}]}}"#
        );
        let (status, reply) = secure.request("PUT", &format!("/_security/role/{name}"), Some(&role));
        assert_eq!(status, 200, "{reply}");
        let user = format!(r#"{{"password":"{user_password}","roles":["{name}"]}}"#);
        let (status, reply) = secure.request("PUT", &format!("/_security/user/{name}"), Some(&user));
        assert_eq!(status, 200, "{reply}");
    };
    let (ingest, blind) = (format!("{p}-ingest"), format!("{p}-blind"));
    make_user(&ingest, r#""monitor","manage_index_templates""#);
    make_user(&blind, r#""manage_index_templates""#);
    let env = [("ELASTICSEARCH_PASSWORD", user_password)];
    let ca = secure.ca.to_str().unwrap();

    let (run, _) =
        backfill(dir.path(), &[], &p, &["--es", &secure.url, "--es-user", &ingest, "--ca-cert", ca], &env);
    run.expect_code(0);
    assert!(secure.has_doc(&format!("{p}-{DAY}"), "auth-role-1"));
    assert_no_secret(&run, dir.path(), &[user_password]);

    let (run, took) =
        backfill(dir.path(), &[], &p, &["--es", &secure.url, "--es-user", &blind, "--ca-cert", ca], &env);
    run.expect_code(1);
    assert!(took < QUICK, "took {took:?}");
    let want =
        format!("error: {} refused our credentials (HTTP 403, basic auth as user \"{blind}\"): ", secure.url);
    assert!(run.stderr.contains(&want) && run.stderr.contains("is unauthorized for user"), "{}", run.stderr);
    assert_no_secret(&run, dir.path(), &[user_password]);

    for name in [&ingest, &blind] {
        secure.request("DELETE", &format!("/_security/user/{name}"), None);
        secure.request("DELETE", &format!("/_security/role/{name}"), None);
    }
    secure.clean(&p);
}

#[test]
fn follow_stops_at_once_on_an_untrusted_certificate_or_refused_credentials() {
    // follow waits for a cluster that does not answer yet, but not for a setting that is wrong. The
    // queue is never reached: the cluster is checked first.
    let secure = Secure::get();
    let dir = tempfile::tempdir().unwrap();
    let queue = "http://127.0.0.1:5000/123456789012/cloudtrail-es-auth-never-read";
    let ca = secure.ca.to_str().unwrap();
    let wrong = [("ELASTICSEARCH_PASSWORD", "not-the-password-71d3")];
    let cases: [(&[&str], &str); 2] = [
        (&["--es", &secure.url, "--es-user", "elastic"], "invalid peer certificate"),
        (
            &["--es", &secure.url, "--es-user", "elastic", "--ca-cert", ca],
            "refused our credentials (HTTP 401",
        ),
    ];
    for (args, want) in cases {
        let mut child = command(dir.path(), &[&["follow", "--queue", queue], args].concat(), &wrong)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while child.try_wait().unwrap().is_none() && started.elapsed() < QUICK {
            std::thread::sleep(Duration::from_millis(100));
        }
        let waited = child.try_wait().unwrap().is_none();
        if waited {
            child.kill().unwrap();
        }
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!waited, "follow still running after {QUICK:?} ({want}):\n{stderr}");
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(&secure.url), "{stderr}");
        assert!(stderr.contains(want) && !stderr.contains("not-the-password-71d3"), "{stderr}");
    }
}
