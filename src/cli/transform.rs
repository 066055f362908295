//! Redaction and filtering flags, shared by every command that indexes events.

use crate::transform::{AccountNames, FieldFilter, HashKey, Preset, RedactRule, TransformSpec};
use clap::Args;
use std::path::PathBuf;

/// The environment variable that may hold the `hash` key (when `--redact-key-file` is not given).
pub const REDACT_KEY_ENV: &str = "CLOUDTRAIL_ES_REDACT_KEY";

/// Redaction and filtering, shared by every command that indexes events. Field names are dotted
/// paths: `*` is one key or array element, `**` any number of levels, `\` escapes `.`, `*` or `=`
/// inside a key. In a `--config` file the same flags are keys (`redact = ["a.b=hash"]`).
#[derive(Clone, Debug, Default, Args)]
#[command(next_help_heading = "Redaction and filtering")]
pub struct TransformArgs {
    /// Hide a field in every document: PATH[=remove|mask|hash] (default remove; repeatable).
    ///
    /// PATH is dotted from the top of the event: `*` is one key or array element, `**` any number
    /// of levels, and `\` before `.`, `*` or `=` makes it part of a key name. Examples:
    /// userIdentity.accessKeyId, responseElements.credentials.*=mask,
    /// requestParameters.**.password=hash, resources.*.ARN. `mask` keeps the last 4 characters of strings longer
    /// than 8 (`****WXYZ`); `hash` writes the hex HMAC-SHA256 of the value with the redaction key,
    /// so equal values stay equal. A matched object or array is hidden whole. When several rules
    /// match a field, the last one given wins (presets come first). The original value is written
    /// nowhere: not in documents, dead letters or logs.
    #[arg(long = "redact", value_name = "PATH[=MODE]")]
    pub redact: Vec<RedactRule>,
    /// Hide a preset list of fields: `credentials` (access key IDs, session tokens, secret keys;
    /// listed in docs/guides/redaction-and-filters.md), optionally with a mode: credentials=hash.
    #[arg(long = "redact-preset", value_name = "NAME[=MODE]")]
    pub redact_preset: Vec<Preset>,
    /// File holding the secret key for `hash` (its bytes, trailing newlines ignored). Without it,
    /// the key is read from env CLOUDTRAIL_ES_REDACT_KEY.
    #[arg(long, value_name = "PATH")]
    pub redact_key_file: Option<PathBuf>,
    /// Keep only events whose FIELD has a value matching GLOB (`*`: any characters, `?`: one).
    ///
    /// FIELD is a path as for --redact. Repeatable: globs given for the same FIELD are
    /// alternatives, and every FIELD named must match: --include eventSource=s3.amazonaws.com --include eventSource=iam.amazonaws.com
    /// --include userIdentity.userName=alice keeps alice's S3 and IAM events. Numbers and booleans
    /// compare as their JSON text (readOnly=false); arrays by their elements; a missing field
    /// never matches.
    #[arg(long = "include", value_name = "FIELD=GLOB")]
    pub include: Vec<FieldFilter>,
    /// Drop events whose FIELD has a value matching GLOB (repeatable; any match drops the event,
    /// whatever the --include flags say): --exclude 'eventName=Describe*' --exclude 'eventName=Get*'.
    #[arg(long = "exclude", value_name = "FIELD=GLOB")]
    pub exclude: Vec<FieldFilter>,
    /// Keep only operations people did in the AWS Management Console (the rule is in
    /// docs/guides/redaction-and-filters.md, "What counts as a console operation"). Combines with --include/--exclude: all must pass.
    #[arg(long)]
    pub console_only: bool,
    /// Add each account's name to its documents (`recipientAccountName`; `cloud.account.name` with
    /// --ecs): a CSV file of `id,name` lines, or a TOML table of `"id" = "name"` (a `.toml` file).
    #[arg(long, value_name = "FILE", help_heading = "Documents")]
    pub account_names: Option<PathBuf>,
}

impl TransformArgs {
    /// The rules these flags describe (reads the key file or the environment).
    pub fn spec(&self) -> anyhow::Result<TransformSpec> {
        let key = match (&self.redact_key_file, std::env::var_os(REDACT_KEY_ENV)) {
            (Some(path), _) => Some(HashKey::from_file(path, "--redact-key-file")?),
            (None, Some(value)) if !value.is_empty() => {
                Some(HashKey::new(value.as_encoded_bytes(), REDACT_KEY_ENV)?)
            }
            _ => None,
        };
        let account_names = match &self.account_names {
            Some(path) => AccountNames::from_file(path)?,
            None => AccountNames::default(),
        };
        let spec = TransformSpec {
            presets: self.redact_preset.clone(),
            redact: self.redact.clone(),
            key,
            key_hint: format!("give --redact-key-file PATH, or set {REDACT_KEY_ENV}"),
            include: self.include.clone(),
            exclude: self.exclude.clone(),
            console_only: self.console_only,
            ecs: None,
            ecs_ingested: false,
            // The wiring sets it once it knows the cluster (OpenSearch moves).
            move_long_values: false,
            account_names,
        };
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{BackfillArgs, Cli, Command};
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<BackfillArgs, clap::Error> {
        let argv = ["cloudtrail-es", "backfill", "src"].iter().chain(args);
        Cli::try_parse_from(argv).map(|cli| match cli.command {
            Command::Backfill(b) => b,
            _ => unreachable!("parsed a backfill command line"),
        })
    }

    #[test]
    fn transform_flags_parse_into_rules() {
        let b = parse(&[
            "--redact",
            "userIdentity.accessKeyId",
            "--redact=responseElements.credentials.*=mask",
            "--redact-preset",
            "credentials=hash",
            "--include",
            "eventSource=s3.amazonaws.com",
            "--exclude",
            "eventName=Describe*",
            "--console-only",
        ])
        .unwrap();
        let t = &b.transform;
        assert_eq!(t.redact.len(), 2);
        assert_eq!(t.redact[1].to_string(), "responseElements.credentials.*=mask");
        assert_eq!(t.redact_preset[0].to_string(), "credentials=hash");
        assert_eq!(t.include[0].to_string(), "eventSource=s3.amazonaws.com");
        assert!(t.console_only);
    }

    #[test]
    fn bad_rules_are_flag_errors() {
        for (args, want) in [
            (&["--redact", "a..b"][..], "empty segment"),
            (&["--redact", "a=scramble"], "remove, mask or hash"),
            (&["--redact-preset", "secrets"], "expected credentials"),
            (&["--include", "eventName"], "FIELD=GLOB"),
        ] {
            let err = parse(args).unwrap_err().to_string();
            assert!(err.contains(want), "{args:?}: {err}");
        }
    }

    #[test]
    fn hash_without_a_key_names_the_flags() {
        let args = TransformArgs { redact: vec!["a=hash".parse().unwrap()], ..Default::default() };
        // The test environment does not set the key variable.
        if std::env::var_os(REDACT_KEY_ENV).is_none() {
            let err = crate::transform::Transform::new(args.spec().unwrap()).err().unwrap().to_string();
            assert!(err.contains("--redact a=hash needs a secret key"), "{err}");
            assert!(err.contains("--redact-key-file") && err.contains(REDACT_KEY_ENV), "{err}");
        }
    }
}
