//! `--config PATH`: a TOML file that can say everything the flags can say, so that `follow` can run
//! as a service from one file.
//!
//! Keys are the long flag names (`es`, `index-prefix`, `max-in-flight`…). Top-level keys apply to
//! every command that has that flag; keys under `[backfill]`, `[follow]` (or another command's
//! name) apply to that command only. A string or number is the flag's value, `true` sets a switch
//! (`false` leaves it off), and an array repeats a repeatable flag. Flags on the command line
//! override the file: a key whose flag is given is not taken from the file. A key no command knows,
//! or one the command does not have, is an error that names it.
//!
//! `[[alert]]` tables (an array of tables, top-level or under `[follow]`) are alert rules for
//! `follow`: each becomes a hidden `--alert-rule JSON` flag, checked by `output/alert/rules.rs`.
//!
//! Secrets never go in the file: it names the environment variables that hold them
//! (`es-password-env`, `es-api-key-env`).
//!
//! The file is turned into flags placed before the command line's own, and clap parses the result,
//! so every flag (present and future) is supported with the same validation and messages.

use clap::CommandFactory;
use std::ffi::OsString;
use std::path::Path;
use toml::Value;

/// The environment variable naming a config file when `--config` is not given.
pub const CONFIG_ENV: &str = "CLOUDTRAIL_ES_CONFIG";

/// Why a config file cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("--config {path}: {reason}")]
pub struct ConfigError {
    /// The file.
    pub path: String,
    /// What is wrong, naming the key.
    pub reason: String,
}

/// The command line with the config file's settings added, if a file is named by `--config` or
/// `CLOUDTRAIL_ES_CONFIG`.
pub fn expand_args(args: Vec<OsString>) -> Result<Vec<OsString>, ConfigError> {
    let path = config_path(&args).or_else(|| std::env::var_os(CONFIG_ENV).map(Into::into));
    let Some(path) = path else { return Ok(args) };
    let shown = path.to_string_lossy().to_string();
    let err = |reason: String| ConfigError { path: shown.clone(), reason };
    let text = std::fs::read_to_string(&path).map_err(|e| err(e.to_string()))?;
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| err(e.message().to_string()))?;
    let Some(at) = subcommand_position(&args) else { return Ok(args) };
    let command = args[at].to_string_lossy().to_string();
    let flags = from_table(&table, &command, &args[at + 1..]).map_err(err)?;
    let mut expanded = args[..=at].to_vec();
    expanded.extend(flags.into_iter().map(OsString::from));
    expanded.extend_from_slice(&args[at + 1..]);
    Ok(expanded)
}

/// The value of `--config PATH` or `--config=PATH`.
fn config_path(args: &[OsString]) -> Option<std::path::PathBuf> {
    let mut it = args.iter().map(|a| a.to_string_lossy());
    while let Some(a) = it.next() {
        if a == "--config" {
            return it.next().map(|p| Path::new(p.as_ref()).to_path_buf());
        }
        if let Some(p) = a.strip_prefix("--config=") {
            return Some(p.into());
        }
    }
    None
}

/// Where the subcommand name is in the arguments.
fn subcommand_position(args: &[OsString]) -> Option<usize> {
    let cli = super::Cli::command();
    let names: Vec<&str> = cli.get_subcommands().map(|c| c.get_name()).collect();
    args.iter().position(|a| names.contains(&a.to_string_lossy().as_ref()))
}

/// The flags the file gives `command`, leaving out those already on its command line (`given`).
fn from_table(table: &toml::Table, command: &str, given: &[OsString]) -> Result<Vec<String>, String> {
    let cli = super::Cli::command();
    let known = |cmd: &str| -> Vec<String> {
        cli.find_subcommand(cmd)
            .map(|c| {
                // Visible aliases too: `sigv4 = true` for `aws-sigv4`.
                c.get_arguments()
                    .flat_map(|a| a.get_long_and_visible_aliases().unwrap_or_default())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let commands: Vec<String> = cli.get_subcommands().map(|c| c.get_name().to_string()).collect();
    let mine = known(command);
    let mut flags = Vec::new();
    for (key, value) in table {
        if key == ALERT_KEY {
            if command == "follow" {
                push_alerts(&mut flags, value)?;
            }
            continue;
        }
        if let Some(section) = value.as_table().filter(|_| commands.contains(key)) {
            for (k, v) in section {
                if k == ALERT_KEY && key == "follow" {
                    if command == "follow" {
                        push_alerts(&mut flags, v)?;
                    }
                    continue;
                }
                if !known(key).contains(k) {
                    return Err(format!(
                        "unknown key `{k}` in [{key}]: `cloudtrail-es {key} --help` lists the flags"
                    ));
                }
                if key == command {
                    push_flag(&mut flags, k, v, given)?;
                }
            }
        } else if !commands.iter().any(|c| known(c).contains(key)) || key == "config" {
            return Err(format!("unknown key `{key}`: keys are long flag names, e.g. `index-prefix`"));
        } else if mine.contains(key) {
            push_flag(&mut flags, key, value, given)?;
        }
    }
    Ok(flags)
}

/// The key of alert rules.
const ALERT_KEY: &str = "alert";

/// Adds one `--alert-rule=JSON` per `[[alert]]` table.
fn push_alerts(flags: &mut Vec<String>, value: &Value) -> Result<(), String> {
    let Value::Array(tables) = value else {
        return Err("`alert` must be tables: write each rule as [[alert]]".into());
    };
    for table in tables {
        if !table.is_table() {
            return Err("`alert` must be tables: write each rule as [[alert]]".into());
        }
        let json = serde_json::to_string(table).map_err(|e| format!("an [[alert]] table: {e}"))?;
        flags.push(format!("--alert-rule={json}"));
    }
    Ok(())
}

/// Adds `--key value` (or a switch, or one per array item) unless the command line has `--key`.
fn push_flag(flags: &mut Vec<String>, key: &str, value: &Value, given: &[OsString]) -> Result<(), String> {
    let long = format!("--{key}");
    let on_command_line = given.iter().any(|a| {
        let a = a.to_string_lossy();
        a == long.as_str() || a.starts_with(&format!("{long}="))
    });
    if on_command_line {
        return Ok(());
    }
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        one => vec![one],
    };
    for item in items {
        if let Value::String(text) = item {
            let has_password = url::Url::parse(text).is_ok_and(|u| u.password().is_some());
            if has_password {
                return Err(format!(
                    "`{key}` holds a URL with a password: secrets never go in the config file; put the \
                     user in `es-user` and the password in the environment variable `es-password-env` names \
                     (default ELASTICSEARCH_PASSWORD)"
                ));
            }
        }
        match item {
            Value::Boolean(true) => flags.push(long.clone()),
            Value::Boolean(false) => {}
            Value::String(s) => flags.push(format!("{long}={s}")),
            Value::Integer(n) => flags.push(format!("{long}={n}")),
            Value::Float(x) => flags.push(format!("{long}={x}")),
            other => {
                return Err(format!(
                    "`{key}` cannot be {}: use a string, number, boolean or array",
                    other.type_str()
                ))
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The expanded command line, with `--config FILE` (given last) left out.
    fn expand(toml: &str, args: &[&str]) -> Result<Vec<String>, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, toml).unwrap();
        let mut argv: Vec<OsString> = args.iter().map(OsString::from).collect();
        argv.extend([OsString::from("--config"), path.into_os_string()]);
        let mut out: Vec<String> =
            expand_args(argv)?.into_iter().map(|a| a.to_string_lossy().to_string()).collect();
        out.truncate(out.len() - 2);
        Ok(out)
    }

    #[test]
    fn file_settings_become_flags_before_the_command_lines_own() {
        let toml = r#"
            es = "http://es:9200"
            index-prefix = "ct"
            compress = true
            insecure = false
            [backfill]
            account = ["1", "2"]
            concurrency = 8
            [follow]
            max-in-flight = 5
        "#;
        let got =
            expand(toml, &["cloudtrail-es", "-v", "backfill", "logs/", "--index-prefix", "mine"]).unwrap();
        assert_eq!(
            got,
            [
                "cloudtrail-es",
                "-v",
                "backfill",
                "--account=1",
                "--account=2",
                "--concurrency=8",
                "--compress",
                "--es=http://es:9200",
                "logs/",
                "--index-prefix",
                "mine"
            ]
        );
    }

    #[test]
    fn sigv4_is_an_alias_of_aws_sigv4() {
        use clap::Parser;
        for key in ["sigv4", "aws-sigv4"] {
            let argv = expand(&format!("{key} = true\n"), &["cloudtrail-es", "setup"]).unwrap();
            let cli = crate::cli::Cli::try_parse_from(&argv).unwrap();
            let crate::cli::Command::Setup(setup) = cli.command else { panic!("{argv:?}") };
            assert!(setup.settings().cluster.sigv4.is_some(), "{key}: {argv:?}");
        }
    }

    #[test]
    fn the_result_parses_and_flags_win() {
        use clap::Parser;
        let toml =
            "index-prefix = \"from-file\"\nes = \"http://file:9200\"\n[follow]\nqueue = \"http://q\"\n";
        let argv = expand(toml, &["cloudtrail-es", "follow", "--es", "http://flag:9200"]).unwrap();
        let cli = crate::cli::Cli::try_parse_from(argv).unwrap();
        let crate::cli::Command::Follow(f) = cli.command else { panic!("follow") };
        assert_eq!((f.queue.as_str(), f.cluster.connection.url.as_str()), ("http://q", "http://flag:9200"));
        assert_eq!(f.indexing.index_prefix, "from-file");
    }

    #[test]
    fn alert_tables_become_rules_of_follow() {
        use clap::Parser;
        let toml = r#"
            [[alert]]
            name = "changes"
            exclude = ["eventName=Describe*", "eventName=Get*"]
            slack = "https://hooks.example/T000/B000/XXXX"
            [[alert]]
            name = "alice"
            include = ["userIdentity.userName=alice"]
            sns = "arn:aws:sns:us-east-1:111122223333:alerts"
        "#;
        let argv = expand(toml, &["cloudtrail-es", "follow", "--queue", "http://q"]).unwrap();
        let cli = crate::cli::Cli::try_parse_from(argv).unwrap();
        let crate::cli::Command::Follow(f) = cli.command else { panic!("follow") };
        let alerts = f.settings().unwrap().alerts;
        let names: Vec<&str> = alerts.rules.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["changes", "alice"]);
        assert_eq!(alerts.rules[0].selection.exclude.len(), 2);
        assert!(!format!("{alerts:?}").contains("XXXX"), "a webhook's token never shows");
        // Backfill has no alerts: the tables are left to follow.
        assert!(expand(toml, &["cloudtrail-es", "backfill", "l"])
            .unwrap()
            .iter()
            .all(|a| !a.contains("alert")));
        // Sigma rules and an alert on findings, from the file.
        let sigma = "rules = [\"builtin\", \"/etc/our-rules\"]\n[[alert]]\nfindings = \"high\"\n\
                     tags = [\"attack.t1562.008\"]\nsns = \"arn:aws:sns:us-east-1:111122223333:a\"\n";
        let argv = expand(sigma, &["cloudtrail-es", "follow", "--queue", "http://q"]).unwrap();
        let crate::cli::Command::Follow(f) = crate::cli::Cli::try_parse_from(argv).unwrap().command else {
            panic!("follow")
        };
        let settings = f.settings().unwrap();
        assert_eq!(settings.indexing.rules.len(), 2);
        let findings = settings.alerts.rules[0].findings.clone().unwrap();
        assert_eq!((findings.level, findings.tags.len()), (crate::detect::Level::High, 1));
        let err = expand("alert = \"x\"", &["cloudtrail-es", "follow"]).unwrap_err().to_string();
        assert!(err.contains("[[alert]]"), "{err}");
        let bad = expand("[[alert]]\nslak = \"x\"", &["cloudtrail-es", "follow", "--queue", "q"]).unwrap();
        let cli = crate::cli::Cli::try_parse_from(bad).unwrap();
        let crate::cli::Command::Follow(f) = cli.command else { panic!("follow") };
        assert!(f.settings().unwrap_err().to_string().contains("unknown field `slak`"));
    }

    #[test]
    fn unknown_keys_are_named() {
        let err = expand("indx-prefix = \"x\"", &["cloudtrail-es", "backfill", "l"]).unwrap_err().to_string();
        assert!(err.contains("unknown key `indx-prefix`"), "{err}");
        let err = expand("[follow]\nconcurrency = 3", &["cloudtrail-es", "follow"]).unwrap_err().to_string();
        assert!(err.contains("unknown key `concurrency` in [follow]"), "{err}");
        let err = expand("es = { a = 1 }", &["cloudtrail-es", "follow"]).unwrap_err().to_string();
        assert!(err.contains("`es` cannot be table"), "{err}");
        let err =
            expand("es = \"https://u:s3cret@h:9200\"", &["cloudtrail-es", "follow"]).unwrap_err().to_string();
        assert!(err.contains("`es` holds a URL with a password") && !err.contains("s3cret"), "{err}");
        let err = expand("es = ", &["cloudtrail-es", "follow"]).unwrap_err().to_string();
        assert!(err.starts_with("--config "), "{err}");
    }
}
