//! Tests of the Lambda function's settings from the environment: every follow flag has its
//! variable (or a reason not to), the variables become flags, the command line and the config
//! file take their places around them.

use super::*;
use crate::cli::{Cli, Command};
use clap::Parser;
use std::collections::{BTreeSet, HashMap};

fn longs(command: &str) -> BTreeSet<String> {
    let cli = Cli::command();
    let sub = cli.find_subcommand(command).unwrap();
    sub.get_arguments().filter_map(|a| a.get_long().map(str::to_string)).collect()
}

fn expand(args: &[&str], vars: &[(&str, &str)]) -> Result<Vec<String>, String> {
    let vars: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let args = args.iter().map(OsString::from).collect();
    let out = expand_args(args, |name| vars.get(name).cloned())?;
    Ok(out.into_iter().map(|a| a.to_string_lossy().into_owned()).collect())
}

fn lambda_args(argv: &[String]) -> LambdaArgs {
    match Cli::try_parse_from(argv).unwrap_or_else(|e| panic!("{argv:?}: {e}")).command {
        Command::Lambda(args) => args,
        _ => panic!("not lambda: {argv:?}"),
    }
}

#[test]
fn every_follow_flag_has_its_variable_or_a_reason_not_to() {
    let (follow, lambda) = (longs("follow"), longs(COMMAND));
    let missing: BTreeSet<String> = follow.difference(&lambda).cloned().collect();
    let excused: BTreeSet<String> = NOT_FOR_LAMBDA.iter().map(|(f, _)| f.to_string()).collect();
    assert_eq!(
        missing, excused,
        "a follow flag without its CLOUDTRAIL_ES_ variable: give `lambda` the flag, or say in NOT_FOR_LAMBDA why not"
    );
    // Every flag of lambda (and the globals) becomes a flag from its variable.
    let cli = Cli::command();
    let every = cli.get_arguments().chain(cli.find_subcommand(COMMAND).unwrap().get_arguments());
    for arg in every {
        let Some(long) = arg.get_long().filter(|l| !matches!(*l, "help" | "version" | "config")) else {
            continue;
        };
        let value = match arg.get_action() {
            clap::ArgAction::SetTrue => "true",
            clap::ArgAction::Count => "1",
            _ => "v",
        };
        let name = env_name(long);
        let got = expand(&["cloudtrail-es", COMMAND], &[(&name, value)]).unwrap();
        let want = if value == "v" { format!("--{long}=v") } else { format!("--{long}") };
        assert!(got.contains(&want), "{name}: {got:?}");
    }
    assert_eq!(env_name("index-prefix"), "CLOUDTRAIL_ES_INDEX_PREFIX");
}

#[test]
fn variables_reach_the_settings() {
    let argv = expand(
        &["cloudtrail-es", COMMAND],
        &[
            ("CLOUDTRAIL_ES_INDEX_PREFIX", "ct-fn"),
            ("CLOUDTRAIL_ES_COMPRESS", "true"),
            ("CLOUDTRAIL_ES_NO_SETUP", "false"),
            ("CLOUDTRAIL_ES_ALLOW_BUCKET", "trail-a\ntrail-b\n"),
            ("CLOUDTRAIL_ES_DEAD_LETTER", "s3://dl-bucket/letters"),
            ("CLOUDTRAIL_ES_VERBOSE", "2"),
            ("CLOUDTRAIL_ES_LOG_FORMAT", "json"),
        ],
    )
    .unwrap();
    let cli = Cli::try_parse_from(&argv).unwrap();
    assert_eq!((cli.verbose, cli.log_format), (2, crate::cli::LogFormat::Json));
    let args = lambda_args(&argv);
    assert_eq!(args.indexing.index_prefix, "ct-fn");
    assert!(args.cluster.compress && !args.cluster.no_setup);
    assert_eq!(args.objects.allow_buckets, ["trail-a", "trail-b"]);
    let settings = args.settings().unwrap();
    assert_eq!(settings.objects.allow_buckets, ["trail-a", "trail-b"]);
    assert_eq!(settings.dead_letter.to_string(), "s3://dl-bucket/letters/");
    assert!(format!("{:?}", settings.indexing.target).contains("compress: true"));
}

#[test]
fn the_command_line_wins_then_the_variables_then_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(&config, "index-prefix = \"from-file\"\nbatch-events = 7\nreaders = 3\n").unwrap();
    let vars = [("CLOUDTRAIL_ES_INDEX_PREFIX", "from-env"), ("CLOUDTRAIL_ES_BATCH_EVENTS", "9")];
    let argv = expand(&["cloudtrail-es", COMMAND, "--batch-events", "11"], &vars).unwrap();
    let mut argv: Vec<OsString> = argv.into_iter().map(OsString::from).collect();
    argv.extend([OsString::from("--config"), config.into_os_string()]);
    let argv: Vec<String> = crate::cli::config::expand_args(argv)
        .unwrap()
        .into_iter()
        .map(|a| a.to_string_lossy().into())
        .collect();
    let args = lambda_args(&argv);
    assert_eq!(args.indexing.index_prefix, "from-env", "a variable beats the file");
    assert_eq!(args.cluster.batch_events, 11, "the command line beats a variable");
    assert_eq!(args.indexing.readers, Some(3), "the file fills what neither gives");
}

#[test]
fn the_bootstrap_runs_lambda_and_other_commands_ignore_the_variables() {
    let runtime = [("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"), ("CLOUDTRAIL_ES_INDEX_PREFIX", "x")];
    let argv = expand(&["/var/task/bootstrap"], &runtime).unwrap();
    assert_eq!(argv, ["/var/task/bootstrap", COMMAND, "--index-prefix=x"]);
    let no_vars = |_: &str| None;
    assert!(is_lambda(&argv.iter().map(OsString::from).collect::<Vec<_>>(), no_vars));
    assert!(is_lambda(&[OsString::from("bootstrap")], |_: &str| Some("127.0.0.1:9001".into())));
    assert!(!is_lambda(&[OsString::from("cloudtrail-es")], no_vars));
    assert_eq!(expand(&["cloudtrail-es"], &runtime[1..]).unwrap(), ["cloudtrail-es"], "not in Lambda");
    let follow = expand(&["cloudtrail-es", "follow", "--queue", "q"], &runtime).unwrap();
    assert_eq!(follow, ["cloudtrail-es", "follow", "--queue", "q"]);
}

#[test]
fn bad_values_are_named() {
    let err = expand(&["cloudtrail-es", COMMAND], &[("CLOUDTRAIL_ES_COMPRESS", "maybe")]).unwrap_err();
    assert!(err.contains("CLOUDTRAIL_ES_COMPRESS") && err.contains("true or false"), "{err}");
    let err = expand(&["cloudtrail-es", COMMAND], &[("CLOUDTRAIL_ES_VERBOSE", "lots")]).unwrap_err();
    assert!(err.contains("CLOUDTRAIL_ES_VERBOSE"), "{err}");
    // Values clap refuses are refused as for the flag.
    let argv = expand(&["cloudtrail-es", COMMAND], &[("CLOUDTRAIL_ES_BATCH_BYTES", "lots")]).unwrap();
    let err = Cli::try_parse_from(&argv).unwrap_err().to_string();
    assert!(err.contains("--batch-bytes"), "{err}");
}

#[test]
fn dead_letters_and_output_must_outlast_the_function() {
    let settings = |vars: &[(&str, &str)]| {
        let argv = expand(&["cloudtrail-es", COMMAND], vars).unwrap();
        lambda_args(&argv).settings().map(|s| s.dead_letter.to_string())
    };
    let err = settings(&[]).unwrap_err().to_string();
    assert!(
        err.contains("--dead-letter") && err.contains("CLOUDTRAIL_ES_DEAD_LETTER") && err.contains("s3://"),
        "{err}"
    );
    let q = "https://sqs.us-east-1.amazonaws.com/111122223333/dead";
    assert_eq!(settings(&[("CLOUDTRAIL_ES_DEAD_LETTER", q)]).unwrap(), q);
    assert_eq!(
        settings(&[("CLOUDTRAIL_ES_DEAD_LETTER", "/mnt/efs/dl.ndjson")]).unwrap(),
        "/mnt/efs/dl.ndjson"
    );
    let out = settings(&[("CLOUDTRAIL_ES_DEAD_LETTER", q), ("CLOUDTRAIL_ES_OUTPUT", "docs.ndjson")]);
    assert!(out.unwrap_err().to_string().contains("--output"));
    assert!(settings(&[("CLOUDTRAIL_ES_DEAD_LETTER", q), ("CLOUDTRAIL_ES_OUTPUT", "-")]).is_ok());
}
