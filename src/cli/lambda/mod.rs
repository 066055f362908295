//! `cloudtrail-es lambda`: the flags of the AWS Lambda function, and how it gets them. Lambda runs
//! the `bootstrap` without arguments, so settings come from the environment and a config file.
//!
//! - Run without arguments where `AWS_LAMBDA_RUNTIME_API` is set (the binary is the function's
//!   `bootstrap`), the command is `lambda`.
//! - Every flag of `lambda` (and the global ones) is read from `CLOUDTRAIL_ES_<FLAG>`:
//!   `--index-prefix` from `CLOUDTRAIL_ES_INDEX_PREFIX`. The variables are generated from clap's
//!   definition of the command, so a new flag has its variable without anyone writing it. A switch
//!   is on for `true`/`1`/`yes`/`on` and off for `false`/`0`/`no`/`off` or empty; a repeatable
//!   flag takes one value per line; `CLOUDTRAIL_ES_VERBOSE` is a number (of `-v`).
//! - The command line wins over a variable, and a variable over the config file
//!   (`CLOUDTRAIL_ES_CONFIG`), whose keys are skipped when their flag is already given.

use super::alert::AlertArgs;
use super::cluster::ClusterArgs;
use super::source::{AwsFlags, ObjectFlags};
use super::{IndexingArgs, TransformArgs};
use clap::{ArgAction, Args, CommandFactory};
use std::ffi::OsString;

/// The subcommand's name.
pub const COMMAND: &str = "lambda";
/// The start of every setting's variable.
pub const ENV_PREFIX: &str = "CLOUDTRAIL_ES_";

/// `cloudtrail-es lambda`: `follow`'s flags but for those a function has no use for
/// ([`NOT_FOR_LAMBDA`]).
#[derive(Debug, Args)]
pub struct LambdaArgs {
    /// Where events go and how they are named. In a function `--dead-letter` is
    /// s3://BUCKET/PREFIX, an SQS queue URL, or an absolute path on a lasting file system.
    #[command(flatten)]
    pub indexing: IndexingArgs,
    /// What to hide in documents and which events to keep.
    #[command(flatten)]
    pub transform: TransformArgs,
    /// Which objects notifications may make it read.
    #[command(flatten)]
    pub objects: ObjectFlags,
    /// AWS access for S3 (and SNS, SQS dead letters).
    #[command(flatten)]
    pub aws: AwsFlags,
    /// Cluster connection and delivery.
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Alerts on matching events.
    #[command(flatten)]
    pub alert: AlertArgs,
}

/// `follow`'s flags that `lambda` does not have, and why.
pub const NOT_FOR_LAMBDA: [(&str, &str); 7] = [
    ("queue", "the event source mapping names the queue; Lambda receives and deletes the messages"),
    ("visibility-timeout", "the queue's own visibility timeout applies (set it to 6x the function timeout)"),
    ("max-in-flight", "the event source mapping's batch size and the function's concurrency decide it"),
    ("shutdown-timeout", "an invocation ends by the function's timeout"),
    ("status-interval", "each invocation logs one summary line"),
    ("metrics-addr", "a function serves nothing; Lambda's own metrics and the log apply"),
    ("unhealthy-after", "there is no /healthz to fail"),
];

/// The variable for a long flag: `index-prefix` → `CLOUDTRAIL_ES_INDEX_PREFIX`.
pub fn env_name(long: &str) -> String {
    format!("{ENV_PREFIX}{}", long.to_ascii_uppercase().replace('-', "_"))
}

/// True when these arguments run the `lambda` command, given or as a function's bootstrap.
pub fn is_lambda(args: &[OsString], env: impl Fn(&str) -> Option<String>) -> bool {
    is_bootstrap(args, env) || subcommand_position(args).is_some_and(|at| args[at] == COMMAND)
}

/// Run without arguments inside Lambda: the function's bootstrap.
fn is_bootstrap(args: &[OsString], env: impl Fn(&str) -> Option<String>) -> bool {
    args.len() == 1 && env("AWS_LAMBDA_RUNTIME_API").is_some()
}

/// The command line with `lambda` added when run as a function's bootstrap, and, for `lambda`, a
/// flag for each `CLOUDTRAIL_ES_<FLAG>` variable set (`env` reads a variable) that the command
/// line does not give.
pub fn expand_args(
    mut args: Vec<OsString>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Vec<OsString>, String> {
    if is_bootstrap(&args, &env) {
        args.push(COMMAND.into());
    }
    let Some(at) = subcommand_position(&args).filter(|&at| args[at] == COMMAND) else { return Ok(args) };
    let cli = super::Cli::command();
    let Some(lambda) = cli.find_subcommand(COMMAND) else { return Ok(args) };
    let given: Vec<String> = args[1..].iter().map(|a| a.to_string_lossy().into_owned()).collect();
    let mut flags = Vec::new();
    for arg in cli.get_arguments().chain(lambda.get_arguments()) {
        let Some(long) = arg.get_long().filter(|l| !matches!(*l, "help" | "version" | "config")) else {
            continue;
        };
        let name = env_name(long);
        let Some(value) = env(&name) else { continue };
        let flag = format!("--{long}");
        let short = arg.get_short().map(|c| format!("-{c}"));
        let on_command_line = given.iter().any(|a| {
            a == &flag
                || a.starts_with(&format!("{flag}="))
                || short.as_ref().is_some_and(|s| a.starts_with(s.as_str()))
        });
        if on_command_line {
            continue;
        }
        match arg.get_action() {
            ArgAction::SetTrue => {
                if switch(&name, &value)? {
                    flags.push(flag);
                }
            }
            ArgAction::Count => {
                let n: u8 = value.trim().parse().map_err(|_| format!("{name}={value:?} is not a number"))?;
                flags.extend((0..n).map(|_| flag.clone()));
            }
            ArgAction::Append => flags.extend(
                value.lines().map(str::trim).filter(|v| !v.is_empty()).map(|v| format!("{flag}={v}")),
            ),
            _ => flags.push(format!("{flag}={value}")),
        }
    }
    let mut expanded = args[..=at].to_vec();
    expanded.extend(flags.into_iter().map(OsString::from));
    expanded.extend_from_slice(&args[at + 1..]);
    Ok(expanded)
}

/// A switch's variable: on or off.
fn switch(name: &str, value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" | "" => Ok(false),
        _ => Err(format!("{name}={value:?}: a switch is true or false")),
    }
}

/// Where the subcommand name is in the arguments.
fn subcommand_position(args: &[OsString]) -> Option<usize> {
    let cli = super::Cli::command();
    let names: Vec<&str> = cli.get_subcommands().map(|c| c.get_name()).collect();
    args.iter().skip(1).position(|a| names.contains(&a.to_string_lossy().as_ref())).map(|i| i + 1)
}

#[cfg(test)]
mod tests;
