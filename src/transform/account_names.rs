//! Account names (`--account-names FILE`): a 12-digit account id is unreadable in a chart or an
//! alert, so each document may also carry its account's name, `recipientAccountName` (the name of
//! `recipientAccountId`, or of an aggregated event's `accountId`), and `cloud.account.name` in ECS.
//!
//! The file is either CSV, one `id,name` per line (a first line `id,name` or `account_id,…` is a
//! header; blank lines and lines starting with `#` are skipped; a name may be quoted, `"a, b"`, with
//! `""` for a quote), or, when its name ends in `.toml`, a TOML table of `"id" = "name"` (at the top
//! or under `[accounts]`). A bad line stops the run at start, naming the file and the line (never
//! a value from it).

use std::collections::HashMap;
use std::path::Path;

/// Account id → name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccountNames(HashMap<String, String>);

/// The file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AccountNamesError {
    /// Not readable.
    #[error("cannot read --account-names {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A line (1-based) is wrong.
    #[error("--account-names {path} line {line}: {reason}")]
    Line {
        /// The file.
        path: String,
        /// Which line.
        line: usize,
        /// What is wrong (never the line's text).
        reason: &'static str,
    },
}

impl AccountNames {
    /// The names in `path` (CSV, or TOML for a `.toml` file).
    pub fn from_file(path: &Path) -> Result<Self, AccountNamesError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|source| AccountNamesError::Read { path: shown.clone(), source })?;
        let toml = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("toml"));
        let parsed = if toml { parse_toml(&text) } else { parse_csv(&text) };
        parsed.map_err(|(line, reason)| AccountNamesError::Line { path: shown, line, reason })
    }

    /// The name of account `id`, if the file gives one.
    pub fn get(&self, id: &str) -> Option<&str> {
        self.0.get(id).map(String::as_str)
    }

    /// How many accounts have a name.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when no account has a name.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn add(&mut self, id: &str, name: &str) -> Result<(), &'static str> {
        if id.len() != 12 || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err("the account id must be 12 digits");
        }
        let name = name.trim();
        if name.is_empty() {
            return Err("the name is empty");
        }
        if name.chars().any(char::is_control) {
            return Err("the name holds a control character");
        }
        if self.0.insert(id.to_string(), name.to_string()).is_some() {
            return Err("this account id is named twice");
        }
        Ok(())
    }
}

/// `(line, reason)` of the first problem.
type LineError = (usize, &'static str);

fn parse_csv(text: &str) -> Result<AccountNames, LineError> {
    let mut names = AccountNames::default();
    let mut first = true;
    for (i, line) in text.trim_start_matches('\u{feff}').lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((id, name)) = line.split_once(',') else {
            return Err((i + 1, "expected id,name"));
        };
        let id = id.trim().trim_matches('"');
        let header = ["id", "account", "account_id", "accountid"].contains(&id.to_ascii_lowercase().as_str());
        if std::mem::take(&mut first) && header {
            continue;
        }
        let name = unquote(name.trim()).map_err(|reason| (i + 1, reason))?;
        names.add(id, &name).map_err(|reason| (i + 1, reason))?;
    }
    Ok(names)
}

/// A CSV field: as it is, or the inside of `"…"` with `""` for `"`.
fn unquote(field: &str) -> Result<String, &'static str> {
    let Some(inner) = field.strip_prefix('"') else {
        if field.contains('"') {
            return Err("a quote inside an unquoted name (quote the whole name)");
        }
        return Ok(field.to_string());
    };
    let inner = inner.strip_suffix('"').ok_or("a quoted name without its closing quote")?;
    if inner.replace("\"\"", "").contains('"') {
        return Err("a lone quote inside a quoted name (write it twice)");
    }
    Ok(inner.replace("\"\"", "\""))
}

fn parse_toml(text: &str) -> Result<AccountNames, LineError> {
    let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| (e.span().map_or(1, |s| line_of(s.start)), "not a valid TOML file"))?;
    let table = match table.get("accounts") {
        Some(toml::Value::Table(accounts)) if table.len() == 1 => accounts,
        _ => &table,
    };
    let mut names = AccountNames::default();
    for (id, name) in table {
        // The line of the key, for the message.
        let line = text.find(id.as_str()).map_or(1, line_of);
        let name = name.as_str().ok_or((line, "the name must be a string"))?;
        names.add(id, name).map_err(|reason| (line, reason))?;
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    fn error(name: &str, text: &str) -> String {
        let (_dir, path) = file(name, text);
        AccountNames::from_file(&path).unwrap_err().to_string()
    }

    #[test]
    fn csv_with_header_comments_and_quotes() {
        let text =
            "\u{feff}id,name\n# prod first\n111122223333,prod\n\n444455556666 , \"Sandbox, \"\"EU\"\"\" \n";
        let (_dir, path) = file("accounts.csv", text);
        let names = AccountNames::from_file(&path).unwrap();
        assert_eq!(names.len(), 2);
        assert_eq!(names.get("111122223333"), Some("prod"));
        assert_eq!(names.get("444455556666"), Some("Sandbox, \"EU\""));
        assert_eq!(names.get("999999999999"), None);
        let (_dir, path) = file("plain.txt", "111122223333,Name, with comma\n");
        assert_eq!(AccountNames::from_file(&path).unwrap().get("111122223333"), Some("Name, with comma"));
    }

    #[test]
    fn toml_at_the_top_or_under_accounts() {
        for text in [
            "\"111122223333\" = \"prod\"\n444455556666 = \"dev\"\n",
            "[accounts]\n111122223333 = \"prod\"\n444455556666 = \"dev\"\n",
        ] {
            let (_dir, path) = file("names.toml", text);
            let names = AccountNames::from_file(&path).unwrap();
            assert_eq!((names.get("111122223333"), names.get("444455556666")), (Some("prod"), Some("dev")));
        }
    }

    #[test]
    fn bad_lines_are_named_by_file_and_line_without_their_text() {
        let cases = [
            (
                "a.csv",
                "id,name\n111122223333,prod\n11112222333,short\n",
                "line 3: the account id must be 12 digits",
            ),
            ("a.csv", "111122223333\n", "line 1: expected id,name"),
            ("a.csv", "111122223333,\n", "line 1: the name is empty"),
            ("a.csv", "111122223333,a\n111122223333,b\n", "line 2: this account id is named twice"),
            ("a.csv", "111122223333,\"open\n", "line 1: a quoted name without its closing quote"),
            ("a.csv", "111122223333,say \"hi\"\n", "line 1: a quote inside an unquoted name"),
            ("a.csv", "header,name\n", "line 1: the account id must be 12 digits"),
            ("a.toml", "111122223333 = \"prod\"\n\n444455556666 = 7\n", "line 3: the name must be a string"),
            ("a.toml", "111122223333 = \"prod\"\nnot toml\n", "line 2: not a valid TOML file"),
            ("a.toml", "[accounts]\nsecretish = \"x\"\n", "line 2: the account id must be 12 digits"),
        ];
        for (name, text, want) in cases {
            let got = error(name, text);
            assert!(got.starts_with("--account-names ") && got.contains(name), "{got}");
            assert!(got.ends_with(want) || got.contains(want), "{text:?}: {got}");
            assert!(!got.contains("short") && !got.contains("secretish") && !got.contains("\"hi\""), "{got}");
        }
        let missing = AccountNames::from_file(Path::new("/nonexistent/names.csv")).unwrap_err().to_string();
        assert!(missing.contains("cannot read --account-names /nonexistent/names.csv"), "{missing}");
    }

    /// Through the whole transform: the name is appended to the event as written (its own field
    /// left alone), an aggregated event is named by `accountId`, and with `--ecs`
    /// `cloud.account.name` names `cloud.account.id` only.
    #[test]
    fn documents_get_their_account_name() {
        use crate::transform::{Encoded, Transform, TransformSpec};
        let names = AccountNames(
            [("111122223333", "prod \"eu\""), ("444455556666", "dev")]
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .into(),
        );
        let transform = |ecs: Option<&str>| {
            let spec = TransformSpec {
                account_names: names.clone(),
                ecs: ecs.map(str::to_string),
                ..TransformSpec::default()
            };
            Transform::new(spec).unwrap()
        };
        let encode = |t: &Transform, raw: &str| {
            let mut out = Vec::new();
            let Encoded::Document(_) = t.encode(raw.as_bytes(), &mut out).unwrap() else {
                panic!("filtered")
            };
            String::from_utf8(out).unwrap()
        };
        let plain = transform(None);
        let raw = r#"{"eventTime":"2024-05-01T00:00:00Z","userIdentity":{"accountId":"444455556666"},"recipientAccountId":"111122223333"}"#;
        assert_eq!(
            encode(&plain, raw),
            format!(
                r#"{{"@timestamp":"2024-05-01T00:00:00Z",{},"recipientAccountName":"prod \"eu\""}}"#,
                &raw[1..raw.len() - 1]
            )
        );
        let aggregated = r#"{"eventId":"a","accountId":"444455556666","timeWindow":{"windowStart":"2024-05-01T00:00:00Z"}}"#;
        assert!(encode(&plain, aggregated).ends_with(r#","recipientAccountName":"dev"}"#));
        for unnamed in [
            r#"{"eventTime":"2024-05-01T00:00:00Z","recipientAccountId":"999999999999"}"#,
            r#"{"eventTime":"2024-05-01T00:00:00Z"}"#,
            r#"{"eventTime":"2024-05-01T00:00:00Z","recipientAccountId":"111122223333","recipientAccountName":"own"}"#,
        ] {
            assert!(encode(&plain, unnamed).ends_with(&unnamed[1..]), "{unnamed}");
        }
        let ecs = |raw: &str| {
            serde_json::from_str::<serde_json::Value>(&encode(&transform(Some("d")), raw)).unwrap()
        };
        let own = r#"{"eventTime":"2024-05-01T00:00:00Z","userIdentity":{"type":"IAMUser","accountId":"111122223333"},"recipientAccountId":"111122223333"}"#;
        assert_eq!(ecs(own)["cloud"]["account"]["name"], "prod \"eu\"");
        assert_eq!(ecs(own)["recipientAccountName"], "prod \"eu\"");
        let cross = r#"{"eventTime":"2024-05-01T00:00:00Z","userIdentity":{"type":"IAMUser","accountId":"444455556666"},"recipientAccountId":"111122223333"}"#;
        assert_eq!(ecs(cross)["cloud"]["account"]["id"], "444455556666");
        assert!(
            ecs(cross)["cloud"]["account"].get("name").is_none(),
            "the name is the recipient's, not the caller's"
        );
        let spec = TransformSpec {
            account_names: names.clone(),
            redact: vec!["recipientAccountId=mask".parse().unwrap()],
            ..TransformSpec::default()
        };
        let refused = Transform::new(spec).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(refused.contains("--redact recipientAccountId=mask hides the account id"), "{refused}");
    }
}
