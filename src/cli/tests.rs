//! The command line's tests. No dead flags: every flag docs/reference/flags.md documents reaches the settings. For each one, the settings
//! of a command line with the flag are compared with those without it; a flag that changes nothing
//! fails here (as `--retry-max-delay` once did, parsed and documented but read by nothing).

use super::{parse_index_prefix, Cli, Command};
use clap::Parser;
use std::collections::BTreeSet;

/// The settings a command line gives, as text (secrets are hidden by the settings' Debug).
fn settings(args: &[&str]) -> String {
    let cli = Cli::try_parse_from(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
    match cli.command {
        Command::Backfill(b) => format!("{:?}", b.settings().unwrap()),
        Command::Follow(f) => format!("{:?}", f.settings().unwrap()),
        Command::Setup(s) => format!("{:?}", s.settings()),
        Command::Replay(r) => format!("{:?}", r.settings().unwrap()),
        Command::Lambda(l) => format!("{:?}", l.settings().unwrap()),
        Command::Report(r) => format!("{:?}", r.settings().unwrap()),
    }
}

/// Every `--flag` of ours in the tables of docs/reference/flags.md.
fn documented_flags() -> BTreeSet<String> {
    use clap::CommandFactory;
    let cli = Cli::command();
    let ours: BTreeSet<String> = cli
        .get_arguments()
        .chain(cli.get_subcommands().flat_map(|c| c.get_arguments()))
        .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
        .collect();
    let readme = include_str!("../../docs/reference/flags.md");
    let mut flags = BTreeSet::new();
    for line in readme.lines().filter(|l| l.starts_with("| `")) {
        let first_cell = line.split('|').nth(1).unwrap_or_default();
        for word in first_cell.split(['`', ',', ' ', '/']) {
            let name: String = word.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
            if ours.contains(&name) {
                flags.insert(name);
            }
        }
    }
    flags
}

/// Flags that never reach a command's settings, and where they are tested instead.
const NOT_SETTINGS: [(&str, &str); 6] = [
    ("--config", "expanded into flags before parsing: cli/config.rs tests"),
    ("--log-format", "logging, set up by main.rs: es_auth's JSON log test"),
    ("--verbose", "logging, set up by main.rs"),
    ("--quiet", "logging, set up by main.rs"),
    ("--queue", "required by follow: every follow line here has one"),
    ("--html", "required by report: every report line here has one"),
];

/// For each documented flag: the command it belongs to and the extra arguments that set it to a
/// value other than its default.
fn example(flag: &str, key_file: &str) -> Option<(&'static str, Vec<String>)> {
    let v = |s: &str| vec![flag.to_string(), s.to_string()];
    let on = || vec![flag.to_string()];
    let (cmd, args) = match flag {
        "--output" | "--dead-letter" | "--state" => ("backfill", v("some/path")),
        "--index-prefix" => ("backfill", v("other")),
        "--readers" | "--batch-events" | "--bulk-concurrency" | "--concurrency" => ("backfill", v("7")),
        "--batch-bytes" => ("backfill", v("1234")),
        "--max-event-bytes" => ("backfill", v("100000")),
        "--dead-letter-max-bytes" => ("backfill", v("5000")),
        "--gzip-hold-bytes" => ("backfill", v("1000")),
        "--retry-timeout" | "--item-retry-timeout" | "--retry-max-delay" | "--request-timeout" => {
            ("backfill", v("7"))
        }
        "--es" => ("backfill", v("http://elsewhere:9200")),
        "--es-user" => ("backfill", v("bob")),
        "--es-password-env" | "--es-api-key-env" => ("backfill", v("SOME_VAR")),
        "--ca-cert" => ("backfill", v("ca.pem")),
        "--insecure" | "--compress" | "--no-setup" | "--any-key" | "--console-only" | "--ecs" => {
            ("backfill", on())
        }
        "--ecs-namespace" => ("backfill", vec!["--ecs".into(), flag.into(), "prod".into()]),
        "--ecs-no-ingested" => ("backfill", vec!["--ecs".into(), flag.into()]),
        "--start" | "--end" => ("backfill", v("2024-01-02")),
        "--since" => ("backfill", v("3d")),
        "--account" => ("backfill", v("111122223333")),
        "--region" => ("backfill", v("eu-west-1")),
        "--shard" => ("backfill", v("1/2")),
        "--to-queue" => ("backfill", v("http://q")),
        "--keep-refresh" | "--relax-today" => ("backfill", on()),
        "--profile" => ("backfill", v("p")),
        "--aws-sigv4" | "--allow-duplicates" => ("backfill", on()),
        "--aws-sigv4-service" | "--flavor" => ("backfill", v("aoss")),
        "--aws-region" => ("backfill", v("eu-west-1")),
        "--redact" => ("backfill", v("a.b")),
        "--redact-preset" => ("backfill", v("credentials")),
        "--redact-key-file" => ("backfill", v(key_file)),
        "--account-names" => {
            let names = std::path::Path::new(key_file).with_file_name("accounts.csv");
            ("backfill", v(&names.to_string_lossy()))
        }
        "--include" | "--exclude" => ("backfill", v("eventName=Get*")),
        "--rules" => ("backfill", v("builtin")),
        "--visibility-timeout"
        | "--max-in-flight"
        | "--shutdown-timeout"
        | "--status-interval"
        | "--unhealthy-after" => ("follow", v("7")),
        "--metrics-addr" => ("follow", v("127.0.0.1:9")),
        "--allow-bucket" => ("follow", v("trail-bucket")),
        "--alert-slack" | "--alert-webhook" => ("follow", v("https://hooks.example/T/B/X")),
        "--alert-sns" => ("follow", v("arn:aws:sns:us-east-1:111122223333:t")),
        "--alert-name"
        | "--alert-include"
        | "--alert-exclude"
        | "--alert-timezone"
        | "--kibana-url"
        | "--alert-burst-interval"
        | "--alert-burst-limit"
        | "--alert-retry-timeout"
        | "--alert-console-only"
        | "--alert-findings"
        | "--no-index" => {
            let value = match flag {
                "--alert-name" => Some("n"),
                "--alert-include" | "--alert-exclude" => Some("eventName=Get*"),
                "--alert-timezone" => Some("+09:00"),
                "--kibana-url" => Some("http://k:5601"),
                "--alert-findings" => Some("high"),
                "--alert-console-only" | "--no-index" => None,
                _ => Some("7"),
            };
            let mut args = vec!["--alert-slack".to_string(), "https://hooks.example/T/B/X".to_string()];
            args.push(flag.to_string());
            args.extend(value.map(str::to_string));
            ("follow", args)
        }
        "--json" => ("report", v("r.json")),
        "--with-reads" => ("report", on()),
        "--launch-event" => ("report", v("CreateBucket")),
        "--max-line-bytes" => ("replay", v("4096")),
        "--dead-letters" => ("replay", v("some/path")),
        "--retention-days" => ("setup", v("7")),
        "--dry-run" => ("setup", on()),
        "--kibana" => ("setup", v("http://k:5601")),
        "--kibana-user" => {
            ("setup", vec!["--kibana".into(), "http://k:5601".into(), flag.into(), "k".into()])
        }
        _ => return None,
    };
    Some((cmd, args))
}

fn as_str(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

#[test]
fn every_documented_flag_changes_the_settings() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("key");
    std::fs::write(&key_file, "k").unwrap();
    std::fs::write(dir.path().join("accounts.csv"), "111122223333,prod\n").unwrap();
    let key_file = key_file.to_string_lossy().to_string();
    let base = |cmd: &str| -> Vec<String> {
        let mut args = vec!["cloudtrail-es".to_string(), cmd.to_string()];
        match cmd {
            "backfill" => args.push("src".into()),
            "follow" => args.extend(["--queue".into(), "http://q".into()]),
            "replay" => args.push("dl.ndjson".into()),
            "report" => args.extend(["src".into(), "--html".into(), "r.html".into()]),
            _ => {}
        }
        args
    };
    let flags = documented_flags();
    assert!(flags.len() > 40, "the flags reference's tables were not found: {flags:?}");
    for flag in &flags {
        if NOT_SETTINGS.iter().any(|(f, _)| f == flag) {
            continue;
        }
        let (cmd, extra) = example(flag, &key_file)
            .unwrap_or_else(|| panic!("{flag} is documented but has no example here"));
        let without = base(cmd);
        let mut with = without.clone();
        with.extend(extra);
        assert_ne!(settings(&as_str(&without)), settings(&as_str(&with)), "{flag} changes nothing");
    }
}

#[test]
fn report_takes_backfill_flags_for_files_and_the_cluster_flags_without_source() {
    let files = |extra: &[&str]| {
        let mut args = vec!["cloudtrail-es", "report", "src", "--html", "r.html"];
        args.extend(extra);
        settings(&args)
    };
    let base = files(&[]);
    for extra in [
        &["--readers", "7"][..],
        &["--include", "eventName=Get*"],
        &["--exclude", "eventName=Get*"],
        &["--console-only"],
        &["--redact", "a.b"],
        &["--start", "2024-01-02"],
        &["--region", "eu-west-1"],
        &["--any-key"],
        &["--shard", "1/2"],
        &["--rules", "builtin"],
    ] {
        assert_ne!(files(extra), base, "{extra:?} changes nothing");
    }
    let cluster = |extra: &[&str]| {
        let mut args = vec!["cloudtrail-es", "report", "--html", "r.html"];
        args.extend(extra);
        settings(&args)
    };
    let base = cluster(&[]);
    assert!(base.contains("Cluster {") && base.contains("prefix: \"cloudtrail\""), "{base}");
    for extra in [
        &["--es", "http://elsewhere:9200"][..],
        &["--index-prefix", "ct"],
        &["--console-only"],
        &["--since", "3d"],
        &["--rules", "builtin"],
    ] {
        assert_ne!(cluster(extra), base, "{extra:?} changes nothing");
    }
}

#[test]
fn retry_max_delay_reaches_the_backoff() {
    let cli = Cli::try_parse_from(["cloudtrail-es", "backfill", "src", "--retry-max-delay", "2"]).unwrap();
    let Command::Backfill(b) = cli.command else { panic!("backfill") };
    let text = format!("{:?}", b.settings().unwrap().indexing.target);
    assert!(text.contains("max_delay: 2s"), "{text}");
}

#[test]
fn ecs_namespace_reaches_the_index_names_the_documents_and_setup() {
    let backfill = settings(&["cloudtrail-es", "backfill", "src", "--ecs", "--ecs-namespace", "prod"]);
    assert!(backfill.contains("prefix: \"logs-aws.cloudtrail-prod\", ecs: true"), "{backfill}");
    assert!(backfill.contains("ecs: Some(\"prod\")"), "the transform's namespace: {backfill}");
    let follow = settings(&["cloudtrail-es", "follow", "--queue", "http://q", "--ecs"]);
    assert!(follow.contains("prefix: \"logs-aws.cloudtrail-default\", ecs: true"), "{follow}");
    let setup = settings(&["cloudtrail-es", "setup", "--ecs", "--ecs-namespace", "prod"]);
    assert!(setup.contains("prefix: \"logs-aws.cloudtrail-prod\", ecs: true"), "{setup}");
    let plain = settings(&["cloudtrail-es", "backfill", "src"]);
    assert!(plain.contains("prefix: \"cloudtrail\", ecs: false") && plain.contains("ecs: None"), "{plain}");
}

#[test]
fn ecs_no_ingested_reaches_the_transform_also_from_the_config_file() {
    let ecs = settings(&["cloudtrail-es", "backfill", "src", "--ecs"]);
    assert!(ecs.contains("ecs_ingested: true"), "on by default with --ecs: {ecs}");
    let off = settings(&["cloudtrail-es", "follow", "--queue", "http://q", "--ecs", "--ecs-no-ingested"]);
    assert!(off.contains("ecs_ingested: false") && off.contains("ecs: Some(\"default\")"), "{off}");
    let replay = settings(&["cloudtrail-es", "replay", "dl.ndjson", "--ecs", "--ecs-no-ingested"]);
    assert!(replay.contains("ecs_ingested: false"), "{replay}");
    let plain = settings(&["cloudtrail-es", "backfill", "src"]);
    assert!(plain.contains("ecs_ingested: false"), "no ECS fields, no event.ingested: {plain}");
    assert!(
        Cli::try_parse_from(["cloudtrail-es", "backfill", "src", "--ecs-no-ingested"]).is_err(),
        "needs --ecs"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    std::fs::write(&file, "ecs = true\necs-no-ingested = true\n").unwrap();
    let argv = ["cloudtrail-es", "backfill", "src", "--config", file.to_str().unwrap()];
    let argv = super::config::expand_args(argv.iter().map(Into::into).collect()).unwrap();
    let argv: Vec<String> = argv.iter().map(|a| a.to_string_lossy().to_string()).collect();
    let from_file = settings(&argv.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(from_file.contains("ecs_ingested: false") && from_file.contains("ecs: Some("), "{from_file}");
}

#[test]
fn replay_takes_backfill_flags_for_what_it_sends() {
    let base = settings(&["cloudtrail-es", "replay", "dl.ndjson"]);
    assert!(base.contains("input: \"dl.ndjson\", dead_letter: None"), "{base}");
    assert!(base.contains("max_line_bytes: 16777216"), "{base}");
    let flags: [&[&str]; 7] = [
        &["--dead-letters", "new.ndjson"],
        &["--index-prefix", "other"],
        &["--ecs"],
        &["--es", "http://elsewhere:9200"],
        &["--redact", "a.b"],
        &["--exclude", "eventName=Get*"],
        &["--retry-timeout", "7"],
    ];
    for extra in flags {
        let mut args = vec!["cloudtrail-es", "replay", "dl.ndjson"];
        args.extend(extra);
        assert_ne!(settings(&args), base, "{extra:?} changes nothing for replay");
    }
    let new = settings(&["cloudtrail-es", "replay", "dl.ndjson", "--dead-letters", "new.ndjson"]);
    assert!(new.contains("dead_letter: Some(\"new.ndjson\")"), "{new}");
    assert!(base.contains("install_template: false"), "replay installs no template: {base}");
    let backfills = Cli::try_parse_from(["cloudtrail-es", "replay", "dl.ndjson", "--dead-letter", "x"]);
    assert!(backfills.is_err(), "backfill's --dead-letter (a config file's top-level key) is not replay's");
}

#[test]
fn index_prefixes_are_checked() {
    assert!(parse_index_prefix("cloudtrail").is_ok());
    assert!(parse_index_prefix("ct-prod").is_ok());
    for bad in ["", "CT", "-x", "a b", "a*", "a/b"] {
        assert!(parse_index_prefix(bad).is_err(), "{bad}");
    }
}

#[test]
fn a_file_takes_batches_of_at_most_one_mebibyte() {
    let to_file = settings(&["cloudtrail-es", "backfill", "src", "--output", "out.ndjson"]);
    assert!(to_file.contains("max_bytes: 1048576,"), "{to_file}");
    let small = settings(&["cloudtrail-es", "backfill", "src", "--output", "-", "--batch-bytes", "1000"]);
    assert!(small.contains("max_bytes: 1000,"), "{small}");
    let cluster = settings(&["cloudtrail-es", "backfill", "src"]);
    assert!(cluster.contains("max_bytes: 5242880,"), "{cluster}");
}
