//! `--ecs`, `--ecs-namespace` and `--ecs-no-ingested`: documents that also carry the ECS fields
//! Elastic Security reads, in indices named as its prebuilt AWS rules expect. Shared by backfill,
//! follow, replay and setup; `--ecs-no-ingested` by those that write documents.

use clap::Args;

/// ECS output for Elastic Security.
#[derive(Clone, Debug, Args)]
#[command(next_help_heading = "ECS output")]
pub struct EcsArgs {
    /// Each document also carries the ECS fields Elastic's AWS CloudTrail integration produces
    /// (event.*, user.*, source.*, cloud.*, aws.cloudtrail.*…), and goes to the daily index
    /// logs-aws.cloudtrail-NAMESPACE-YYYY.MM.DD (instead of --index-prefix), which Elastic
    /// Security's prebuilt AWS rules read.
    #[arg(long, conflicts_with = "index_prefix")]
    pub ecs: bool,
    /// The namespace part of the --ecs index names and of data_stream.namespace (lowercase, no
    /// '-', at most 100 bytes).
    #[arg(long, value_name = "NAME", default_value = "default", requires = "ecs", value_parser = parse_namespace)]
    pub ecs_namespace: String,
}

/// `--ecs-no-ingested`, for the commands that write documents (backfill, follow, replay); setup
/// maps `event.ingested` either way.
#[derive(Clone, Debug, Args)]
#[command(next_help_heading = "ECS output")]
pub struct EcsDocumentArgs {
    /// Leave event.ingested (the time cloudtrail-es encoded the event) out of the --ecs
    /// documents. Elastic's prebuilt rules search by event.ingested where it is set, so with it a
    /// backfill of old events is new to them and they alert on it; without it they fall back to
    /// @timestamp (the event's own time) and a backfill stays out of their look-back window.
    #[arg(long, requires = "ecs")]
    pub ecs_no_ingested: bool,
}

impl EcsArgs {
    /// The namespace when `--ecs` is on.
    pub fn namespace(&self) -> Option<&str> {
        self.ecs.then_some(self.ecs_namespace.as_str())
    }
}

/// A data stream namespace, as Elasticsearch and Fleet accept it: not empty, at most 100 bytes,
/// lowercase, none of `\ / * ? " < > | , # :`, no whitespace and no `-` (it separates the parts
/// of `TYPE-DATASET-NAMESPACE`).
pub fn parse_namespace(name: &str) -> Result<String, String> {
    let why = if name.is_empty() {
        Some("it is empty")
    } else if name.len() > 100 {
        Some("it is longer than 100 bytes")
    } else if name.chars().any(char::is_uppercase) {
        Some("it must be lowercase")
    } else if name.contains('-') {
        Some("'-' separates the parts of logs-aws.cloudtrail-NAMESPACE")
    } else if name.chars().any(|c| c.is_whitespace() || "\\/*?\"<>|,#:".contains(c)) {
        Some("it must not contain whitespace or any of \\/*?\"<>|,#:")
    } else if name.starts_with(['_', '.', '+']) {
        Some("it must not start with '_', '.' or '+'")
    } else {
        None
    };
    match why {
        Some(why) => Err(format!("{name:?} is not a valid namespace: {why}")),
        None => Ok(name.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    #[test]
    fn namespaces_are_checked() {
        for good in ["default", "prod", "team_a.eu1", "x"] {
            assert_eq!(parse_namespace(good).as_deref(), Ok(good));
        }
        for (bad, why) in [
            ("", "empty"),
            ("Prod", "lowercase"),
            ("a-b", "'-'"),
            ("a b", "whitespace"),
            ("a*", "\\/*?"),
            ("a:b", "\\/*?"),
            ("_x", "start"),
        ] {
            let err = parse_namespace(bad).unwrap_err();
            assert!(err.contains(why), "{bad:?}: {err}");
        }
        assert!(parse_namespace(&"n".repeat(101)).unwrap_err().contains("100 bytes"));
    }

    #[test]
    fn the_namespace_needs_ecs_and_ecs_excludes_an_index_prefix() {
        let parse = |args: &[&str]| {
            let argv = ["cloudtrail-es", "backfill", "src"].iter().chain(args);
            Cli::try_parse_from(argv).map(|cli| match cli.command {
                Command::Backfill(b) => b.indexing.ecs,
                _ => unreachable!("parsed a backfill command line"),
            })
        };
        let ecs = parse(&["--ecs", "--ecs-namespace", "prod"]).unwrap();
        assert_eq!(ecs.namespace(), Some("prod"));
        assert_eq!(parse(&["--ecs"]).unwrap().namespace(), Some("default"));
        assert_eq!(parse(&[]).unwrap().namespace(), None);
        assert!(parse(&["--ecs-namespace", "prod"]).is_err(), "--ecs-namespace without --ecs");
        let err = parse(&["--ecs", "--index-prefix", "x"]).unwrap_err().to_string();
        assert!(err.contains("cannot be used with"), "{err}");
        assert!(parse(&["--ecs", "--ecs-namespace", "a-b"]).is_err());
    }
}
