//! The flags reference (`docs/reference/flags.md`) says what clap says: every row's flag exists on the
//! commands it names, with the value name, default and environment variable clap has; and every flag
//! clap knows (hidden ones aside) has a row for each command that takes it. No server needed.

use clap::{ArgAction, CommandFactory};
use cloudtrail_es::cli::Cli;
use std::collections::{BTreeMap, BTreeSet};

const REFERENCE: &str = include_str!("../docs/reference/flags.md");
const COMMANDS: [&str; 5] = ["backfill", "follow", "setup", "replay", "report"];

/// What clap knows of one flag on one command.
#[derive(Debug)]
struct ClapFlag {
    short: Option<char>,
    value: Option<String>,
    possible: Vec<String>,
    default: Option<String>,
    env: Option<String>,
    switch: bool,
}

/// (command, long name) → what clap knows, for every visible flag.
fn clap_flags() -> BTreeMap<(String, String), ClapFlag> {
    let mut cli = Cli::command();
    cli.build();
    let mut flags = BTreeMap::new();
    for sub in cli.get_subcommands() {
        for arg in sub.get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            if arg.is_hide_set() || matches!(long, "help" | "version") {
                continue;
            }
            let action = arg.get_action();
            let switch = matches!(action, ArgAction::SetTrue | ArgAction::SetFalse | ArgAction::Count);
            let defaults: Vec<String> =
                arg.get_default_values().iter().map(|v| v.to_string_lossy().into_owned()).collect();
            let default = (!switch && !defaults.is_empty()).then(|| defaults.join(","));
            let value = (!switch).then(|| {
                arg.get_value_names()
                    .and_then(|names| names.first().map(|n| n.to_string()))
                    .unwrap_or_else(|| arg.get_id().as_str().to_uppercase())
            });
            let possible = arg.get_possible_values().iter().map(|p| p.get_name().to_string()).collect();
            let env = arg.get_env().map(|e| e.to_string_lossy().into_owned());
            let flag = ClapFlag { short: arg.get_short(), value, possible, default, env, switch };
            flags.insert((sub.get_name().to_string(), long.to_string()), flag);
        }
    }
    flags
}

/// One row of the reference.
#[derive(Debug)]
struct Row {
    line: usize,
    short: Option<char>,
    long: String,
    value: Option<String>,
    commands: Vec<String>,
    default: String,
}

/// The code spans of a table cell.
fn spans(cell: &str) -> Vec<&str> {
    cell.split('`').skip(1).step_by(2).collect()
}

/// Every row of every `| flag | commands | default | meaning |` table.
fn rows() -> Vec<Row> {
    let mut rows = Vec::new();
    let mut in_table = false;
    for (i, line) in REFERENCE.lines().enumerate() {
        let line_no = i + 1;
        if !line.starts_with('|') {
            in_table = false;
            continue;
        }
        let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
        if cells.first() == Some(&"flag") {
            assert_eq!(cells, ["flag", "commands", "default", "meaning"], "line {line_no}: table header");
            in_table = true;
            continue;
        }
        if !in_table || cells[0].starts_with("---") {
            continue;
        }
        assert_eq!(cells.len(), 4, "line {line_no}: four cells (escape | as \\|): {line}");
        let flag_spans = spans(cells[0]);
        assert_eq!(flag_spans.len(), 1, "line {line_no}: one flag per row, in one code span");
        let mut words = flag_spans[0].split_whitespace().peekable();
        let mut short = None;
        if let Some(w) = words.peek().filter(|w| w.len() == 3 && w.starts_with('-') && w.ends_with(',')) {
            short = w.chars().nth(1);
            words.next();
        }
        let long = words.next().and_then(|w| w.strip_prefix("--"));
        let long = long.unwrap_or_else(|| panic!("line {line_no}: `--name` expected: {line}")).to_string();
        let value = words.next().map(|v| v.replace("\\|", "|"));
        assert!(words.next().is_none(), "line {line_no}: `[-s, ]--name [VALUE]` expected");
        let commands: Vec<String> = if cells[1] == "all" {
            COMMANDS.iter().map(|c| c.to_string()).collect()
        } else {
            cells[1].split(", ").map(str::to_string).collect()
        };
        for command in &commands {
            assert!(COMMANDS.contains(&command.as_str()), "line {line_no}: unknown command `{command}`");
        }
        rows.push(Row { line: line_no, short, long, value, commands, default: cells[2].to_string() });
    }
    rows
}

/// How a default cell must begin for what clap says: `` `VALUE` `` for a default value, `off` for a
/// switch, anything else (`—`, a sentence) when clap has no default.
fn check_default(row: &Row, command: &str, flag: &ClapFlag) -> Result<(), String> {
    let first_span = row.default.starts_with('`').then(|| spans(&row.default)[0].to_string());
    match (&flag.default, first_span) {
        (Some(clap), Some(doc)) if *clap == doc => {}
        (Some(clap), doc) => {
            return Err(format!("clap's default on {command} is `{clap}`, the row says {doc:?}"))
        }
        (None, Some(doc)) => return Err(format!("clap has no default on {command}; the row says `{doc}`")),
        (None, None) => {}
    }
    if flag.switch && !matches!(row.default.as_str(), "off" | "—") && !row.default.starts_with("off ") {
        return Err(format!("a switch on {command}: the default cell starts with `off` or `—`"));
    }
    let env_in_row = row.default.split("env `").nth(1).and_then(|rest| rest.split('`').next());
    if env_in_row != flag.env.as_deref() {
        return Err(format!("clap's env on {command} is {:?}, the row says {env_in_row:?}", flag.env));
    }
    Ok(())
}

fn check_value(row: &Row, command: &str, flag: &ClapFlag) -> Result<(), String> {
    if row.short != flag.short {
        return Err(format!("clap's short flag on {command} is {:?}", flag.short));
    }
    match (&row.value, &flag.value) {
        (None, None) => Ok(()),
        (Some(doc), Some(_)) if doc.contains('|') && !flag.possible.is_empty() => {
            let doc: BTreeSet<&str> = doc.split('|').collect();
            let clap: BTreeSet<&str> = flag.possible.iter().map(String::as_str).collect();
            (doc == clap).then_some(()).ok_or(format!("clap's values on {command} are {clap:?}"))
        }
        (Some(doc), Some(clap)) if doc == clap => Ok(()),
        (doc, clap) => Err(format!("clap's value name on {command} is {clap:?}, the row says {doc:?}")),
    }
}

#[test]
fn every_row_of_the_flags_reference_matches_clap() {
    let clap = clap_flags();
    let rows = rows();
    assert!(rows.len() > 60, "the reference has {} rows: is the table header right?", rows.len());
    let mut errors = Vec::new();
    for row in &rows {
        for command in &row.commands {
            let Some(flag) = clap.get(&(command.clone(), row.long.clone())) else {
                errors.push(format!(
                    "line {}: `{} --{}` is not a flag clap knows",
                    row.line, command, row.long
                ));
                continue;
            };
            if let Err(e) = check_default(row, command, flag).and_then(|()| check_value(row, command, flag)) {
                errors.push(format!("line {}: --{}: {e}", row.line, row.long));
            }
        }
    }
    assert!(errors.is_empty(), "docs/reference/flags.md disagrees with clap:\n{}", errors.join("\n"));
}

#[test]
fn every_flag_clap_knows_has_a_row_for_each_command() {
    let documented: BTreeSet<(String, String)> =
        rows().into_iter().flat_map(|r| r.commands.into_iter().map(move |c| (c, r.long.clone()))).collect();
    let missing: Vec<String> = clap_flags()
        .into_keys()
        .filter(|key| !documented.contains(key))
        .map(|(command, long)| format!("{command} --{long}"))
        .collect();
    assert!(missing.is_empty(), "flags with no row in docs/reference/flags.md:\n{}", missing.join("\n"));
}

#[test]
#[ignore = "prints clap's flags, to write rows from: cargo test --test integration dump_clap_flags -- --ignored --nocapture"]
fn dump_clap_flags() {
    for ((command, long), flag) in clap_flags() {
        println!("{command}\t--{long}\t{flag:?}");
    }
}
