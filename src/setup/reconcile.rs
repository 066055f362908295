//! One installable thing on the cluster (a template or a policy): read what is installed, compare
//! it with what we would install, and write only when they differ (or say what would be written,
//! in a dry run). Every request goes through [`EsClient`].

use super::compare::matches;
use super::lifecycle::Api;
use super::shared::merge_index_template;
use crate::cluster::{ClientError, EsClient};
use crate::output::elasticsearch::IndexNames;
use bytes::Bytes;
use elasticsearch::http::Method;
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;

/// Why `setup` could not finish.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The cluster (or Kibana) could not be reached or refused a request.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The server is a version we do not support.
    #[error("{0}")]
    Unsupported(String),
    /// Kibana (or OpenSearch Dashboards) refused a request.
    #[error("{url} answered HTTP {status} to {what}: {body}")]
    Kibana {
        /// Kibana's URL, without credentials.
        url: String,
        /// What we asked.
        what: String,
        /// HTTP status.
        status: u16,
        /// The start of the answer, and a hint.
        body: String,
    },
    /// Kibana accepted the import request but not every object.
    #[error("{url}: saved objects import failed: {detail}")]
    Import {
        /// Kibana's URL, without credentials.
        url: String,
        /// What Kibana said.
        detail: String,
    },
}

/// What happened (or would happen) to one item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Installed and the same as ours.
    Unchanged,
    /// Not installed: created (or would be, in a dry run).
    Create,
    /// Installed but different: replaced (or would be).
    Update,
    /// Not installed, for the reason given.
    Skipped(String),
}

/// One line of the setup report.
#[derive(Clone, Debug)]
pub struct Step {
    /// What the item is, e.g. `component template cloudtrail@mappings`.
    pub what: String,
    /// What happened to it.
    pub action: Action,
    /// False in a dry run: nothing was written.
    pub applied: bool,
    /// What else there is to say (for our index template: what others added to it, kept).
    pub note: Option<String>,
}

impl Step {
    /// Whether this step wrote (or would write) something.
    pub fn changes(&self) -> bool {
        matches!(self.action, Action::Create | Action::Update)
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let outcome = match (&self.action, self.applied) {
            (Action::Unchanged, _) => "unchanged".to_string(),
            (Action::Create, true) => "created".into(),
            (Action::Update, true) => "updated".into(),
            (Action::Create, false) => "would create".into(),
            (Action::Update, false) => "would update".into(),
            (Action::Skipped(why), _) => format!("{why}, skipped"),
        };
        write!(f, "{}: {outcome}", self.what)?;
        match &self.note {
            Some(note) => write!(f, "; {note}"),
            None => Ok(()),
        }
    }
}

/// A template or policy to install.
pub struct Item {
    /// For the report: `index template cloudtrail`.
    pub what: String,
    /// Where to GET and PUT it.
    pub path: String,
    /// The body we would PUT.
    pub body: Value,
    /// What kind of thing it is, to read it back from the GET answer.
    pub kind: Kind,
}

/// The kinds of things `setup` installs on the cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `_component_template/NAME`.
    ComponentTemplate,
    /// `_index_template/NAME`.
    IndexTemplate,
    /// An ILM or ISM policy.
    Policy(Api),
}

impl Kind {
    /// The installed object within a GET answer, in the shape of the body we PUT.
    fn installed(self, name: &str, answer: &Value) -> Option<Value> {
        match self {
            Kind::ComponentTemplate => answer["component_templates"][0].get("component_template").cloned(),
            Kind::IndexTemplate => answer["index_templates"][0].get("index_template").cloned(),
            Kind::Policy(api) => api.installed_policy(name, answer),
        }
    }

    /// ISM refuses a plain PUT over an existing policy: it wants the sequence number it replaces.
    fn optimistic(self) -> bool {
        self == Kind::Policy(Api::Ism)
    }
}

/// Installs `item` unless the cluster already has it. Our index template is written merged into
/// the installed one, keeping what others added (`shared.rs`), and the step says what was kept.
pub async fn reconcile(client: &EsClient, item: &Item, dry_run: bool) -> Result<Step, SetupError> {
    let reply = client.send(Method::Get, &item.path, None).await?;
    let mut body = Cow::Borrowed(&item.body);
    let mut note = None;
    let (action, put_path) = match reply.status {
        404 => (Action::Create, item.path.clone()),
        200 => {
            let answer: Value = serde_json::from_slice(&reply.body)
                .map_err(|_| client.unexpected(&format!("GET {}", item.path), 200, &reply))?;
            let name = item.path.rsplit('/').next().unwrap_or_default();
            let installed = item.kind.installed(name, &answer);
            if let (Kind::IndexTemplate, Some(have)) = (item.kind, &installed) {
                let (merged, kept) =
                    merge_index_template(&item.body, have, &IndexNames::new(name).components());
                body = Cow::Owned(merged);
                note = (!kept.is_empty()).then(|| kept.to_string());
            }
            match installed {
                Some(have) if matches(&body, &have) => (Action::Unchanged, String::new()),
                Some(_) => (Action::Update, concurrency_path(&item.path, &answer, item.kind.optimistic())),
                None => (Action::Create, item.path.clone()),
            }
        }
        status => return Err(client.unexpected(&format!("GET {}", item.path), status, &reply).into()),
    };
    let step = Step { what: item.what.clone(), action, applied: !dry_run, note };
    if step.changes() && !dry_run {
        let body = Bytes::from(body.to_string());
        let reply = client.send(Method::Put, &put_path, Some((body, "application/json"))).await?;
        if !(200..300).contains(&reply.status) {
            return Err(client.unexpected(&format!("PUT {}", item.path), reply.status, &reply).into());
        }
    }
    Ok(step)
}

/// `path?if_seq_no=…&if_primary_term=…` for an optimistic update.
fn concurrency_path(path: &str, answer: &Value, optimistic: bool) -> String {
    match (optimistic, answer["_seq_no"].as_u64(), answer["_primary_term"].as_u64()) {
        (true, Some(seq), Some(term)) => format!("{path}?if_seq_no={seq}&if_primary_term={term}"),
        _ => path.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn steps_read_as_the_report_lines() {
        let step = |action, applied| Step { what: "index template ct".into(), action, applied, note: None };
        assert_eq!(step(Action::Unchanged, true).to_string(), "index template ct: unchanged");
        assert_eq!(step(Action::Create, true).to_string(), "index template ct: created");
        assert_eq!(step(Action::Update, false).to_string(), "index template ct: would update");
        let skipped = step(Action::Skipped("not available on this cluster".into()), true);
        assert_eq!(skipped.to_string(), "index template ct: not available on this cluster, skipped");
        assert!(!skipped.changes());
        let kept = Step {
            note: Some("kept what others added: components [x]".into()),
            ..step(Action::Update, true)
        };
        assert_eq!(kept.to_string(), "index template ct: updated; kept what others added: components [x]");
    }

    #[test]
    fn ism_updates_name_the_version_they_replace() {
        let answer = json!({"_seq_no": 7, "_primary_term": 1, "policy": {}});
        assert_eq!(concurrency_path("/p", &answer, true), "/p?if_seq_no=7&if_primary_term=1");
        assert_eq!(concurrency_path("/p", &answer, false), "/p");
    }
}
