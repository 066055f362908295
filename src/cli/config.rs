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
        if let Some(section) = value.as_table().filter(|_| commands.contains(key)) {
            for (k, v) in section {
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
    fn unknown_keys_are_named() {
        let err = expand("indx-prefix = \"x\"", &["cloudtrail-es", "backfill", "l"]).unwrap_err().to_string();
        assert!(err.contains("unknown key `indx-prefix`"), "{err}");
        let err = expand("[follow]\nconcurrency = 3", &["cloudtrail-es", "follow"]).unwrap_err().to_string();
        assert!(err.contains("unknown key `concurrency` in [follow]"), "{err}");
        let err = expand("es = { a = 1 }", &["cloudtrail-es", "follow"]).unwrap_err().to_string();
        assert!(err.contains("`es` cannot be table"), "{err}");
        let err = expand("es = ", &["cloudtrail-es", "follow"]).unwrap_err().to_string();
        assert!(err.starts_with("--config "), "{err}");
    }
}
