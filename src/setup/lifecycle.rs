//! Retention: an ILM policy on Elasticsearch, an ISM policy on OpenSearch, and how to tell
//! whether the cluster has either at all.
//!
//! Daily indices are named after the day of their events, and a backfill writes old days today.
//! ILM can age an index by the date in its name (`index.lifecycle.parse_origination_date`, set in
//! the `PREFIX@lifecycle` component), so a backfilled 2023 index is as old as its events. ISM has no
//! such setting: it ages an index from its creation, so on OpenSearch backfilled days are kept for
//! the full retention counted from the day they were written (never deleted early). Daily
//! indices need no rollover, so neither policy has one (with rollover, ILM would count from the
//! rollover instead).
//!
//! Whether the lifecycle API exists is read from the answer to a GET of our policy: the
//! Elasticsearch integration-test distribution has no ILM, plain OpenSearch has no ISM plugin, and
//! both then answer "no handler found" (or 405) instead of 404.

use super::templates::{embedded, fill, meta, priority};
use crate::cluster::Flavor;
use crate::output::elasticsearch::IndexNames;
use serde_json::{json, Value};

const ILM_POLICY: &str = include_str!("../../mappings/ilm-policy.json");
const ISM_POLICY: &str = include_str!("../../mappings/ism-policy.json");

/// Which lifecycle API a cluster of this flavor would have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    /// Elasticsearch index lifecycle management.
    Ilm,
    /// OpenSearch index state management (a plugin).
    Ism,
}

impl Api {
    /// ILM on Elasticsearch, ISM on OpenSearch.
    pub fn of(flavor: Flavor) -> Self {
        match flavor {
            Flavor::Elasticsearch => Api::Ilm,
            Flavor::OpenSearch => Api::Ism,
        }
    }

    /// The API's name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Api::Ilm => "ILM",
            Api::Ism => "ISM",
        }
    }

    /// Where the policy `name` lives.
    pub fn policy_path(self, name: &str) -> String {
        match self {
            Api::Ilm => format!("/_ilm/policy/{name}"),
            Api::Ism => format!("/_plugins/_ism/policies/{name}"),
        }
    }

    /// The policy body that deletes indices `retention_days` after their day (ILM) or their
    /// creation (ISM).
    pub fn policy(self, names: &IndexNames, retention_days: u32) -> Value {
        let days = retention_days.to_string();
        match self {
            Api::Ilm => {
                let mut body =
                    fill(embedded("ilm-policy.json", ILM_POLICY), &[("{{RETENTION_DAYS}}", &days)]);
                body["policy"]["_meta"] = meta();
                body
            }
            Api::Ism => {
                // ISM policies have no _meta: who wrote it goes into the description.
                let description = format!(
                    "{}-* daily CloudTrail indices: deleted {days} days after creation (managed by {} {})",
                    names.prefix,
                    super::templates::MANAGED_BY,
                    env!("CARGO_PKG_VERSION")
                );
                let vars = [("{{RETENTION_DAYS}}", days.as_str()), ("{{PREFIX}}", &names.prefix)];
                let mut body = fill(embedded("ism-policy.json", ISM_POLICY), &vars);
                body["policy"]["description"] = json!(description);
                body["policy"]["ism_template"][0]["priority"] = json!(priority(&names.prefix));
                body
            }
        }
    }

    /// The installed policy within a GET answer, in the shape of [`Api::policy`]'s body.
    pub fn installed_policy(self, name: &str, answer: &Value) -> Option<Value> {
        let policy = match self {
            Api::Ilm => answer.get(name)?.get("policy")?,
            Api::Ism => answer.get("policy")?,
        };
        Some(json!({ "policy": policy }))
    }
}

/// What a GET of our policy says about the cluster.
#[derive(Debug, PartialEq, Eq)]
pub enum Probe {
    /// The API exists and the policy is installed (the answer is in the body).
    Installed,
    /// The API exists; the policy does not.
    Absent,
    /// The cluster has no such API.
    Unavailable,
    /// Something else: an error to report.
    Other,
}

/// Reads the answer to `GET` of the policy path.
pub fn probe(status: u16, body: &[u8]) -> Probe {
    let text = String::from_utf8_lossy(body);
    match status {
        200 => Probe::Installed,
        // A missing policy is a JSON error naming the resource; a missing API is a bare
        // "no handler found" (400) or a routing 405 from a node that maps the path elsewhere.
        404 if !text.contains("no handler found") => Probe::Absent,
        400 | 404 | 405 if text.contains("no handler found") || text.contains("Incorrect HTTP method") => {
            Probe::Unavailable
        }
        _ => Probe::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> IndexNames {
        IndexNames::new("ct")
    }

    #[test]
    fn ilm_policy_deletes_after_the_retention_without_rollover() {
        let p = Api::Ilm.policy(&names(), 30);
        let phases = &p["policy"]["phases"];
        assert_eq!(phases["delete"]["min_age"], "30d");
        assert!(phases["delete"]["actions"]["delete"].is_object());
        assert!(!p.to_string().contains("rollover"));
        assert_eq!(p["policy"]["_meta"]["managed_by"], "cloudtrail-es");
    }

    #[test]
    fn ism_policy_attaches_itself_to_the_prefix() {
        let p = Api::Ism.policy(&names(), 7);
        let policy = &p["policy"];
        assert_eq!(policy["states"][0]["transitions"][0]["conditions"]["min_index_age"], "7d");
        assert_eq!(policy["states"][1]["actions"][0], json!({"delete": {}}));
        assert_eq!(policy["ism_template"][0]["index_patterns"], json!(["ct-*"]));
        assert_eq!(policy["ism_template"][0]["priority"], 202);
        assert!(policy["description"].as_str().unwrap().contains("cloudtrail-es"));
        assert!(!p.to_string().contains("{{"));
    }

    #[test]
    fn the_ism_policy_takes_the_findings_indices_too() {
        // ISM attaches a policy to each new index its `ism_template` patterns match: the findings'
        // daily indices (`PREFIX-findings-YYYY.MM.DD`, output/elasticsearch/encode.rs) are kept
        // as long as the events'.
        let p = Api::Ism.policy(&names(), 7);
        let patterns = p["policy"]["ism_template"][0]["index_patterns"].as_array().unwrap().clone();
        let takes = |index: &str| {
            patterns.iter().any(|pattern| {
                let pattern = pattern.as_str().unwrap();
                let head = pattern.strip_suffix('*').expect("a prefix pattern");
                index.starts_with(head)
            })
        };
        assert!(takes("ct-2024.05.01"), "{patterns:?}");
        assert!(takes(&format!("{}-2024.05.01", names().findings())), "{patterns:?}");
    }

    #[test]
    fn installed_policies_are_read_from_either_answer() {
        let ilm = json!({"ct-retention": {"version": 3, "policy": {"phases": {}}}});
        assert_eq!(Api::Ilm.installed_policy("ct-retention", &ilm), Some(json!({"policy": {"phases": {}}})));
        let ism = json!({"_id": "ct-retention", "_seq_no": 4, "policy": {"states": []}});
        assert_eq!(Api::Ism.installed_policy("ct-retention", &ism), Some(json!({"policy": {"states": []}})));
    }

    #[test]
    fn missing_apis_are_told_from_missing_policies() {
        // Answers seen on the real servers (see tests/setup.rs for the live check).
        let es_no_ilm = br#"{"error":"no handler found for uri [/_ilm/policy/x] and method [GET]"}"#;
        assert_eq!(probe(400, es_no_ilm), Probe::Unavailable);
        let os_no_ism =
            br#"{"error":"no handler found for uri [/_plugins/_ism/policies/x] and method [GET]"}"#;
        assert_eq!(probe(400, os_no_ism), Probe::Unavailable);
        let routed = br#"{"error":"Incorrect HTTP method for uri [/_ilm/policy] and method [GET], allowed: [POST]","status":405}"#;
        assert_eq!(probe(405, routed), Probe::Unavailable);
        let es_missing = br#"{"error":{"root_cause":[{"type":"resource_not_found_exception","reason":"Lifecycle policy not found: x"}]},"status":404}"#;
        assert_eq!(probe(404, es_missing), Probe::Absent);
        let os_missing = br#"{"error":{"root_cause":[{"type":"status_exception","reason":"Policy not found"}]},"status":404}"#;
        assert_eq!(probe(404, os_missing), Probe::Absent);
        assert_eq!(probe(200, b"{}"), Probe::Installed);
        assert_eq!(probe(500, b"{}"), Probe::Other);
        assert_eq!(probe(403, b"{}"), Probe::Other);
    }
}
