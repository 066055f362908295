//! The names of everything that belongs to one index prefix: the daily indices the output writes
//! (`PREFIX-YYYY.MM.DD`, and `PREFIX-findings-YYYY.MM.DD` for Sigma findings), and the templates
//! and lifecycle policy `setup` installs for them (`setup/templates.rs`). One type, so that the
//! output and setup cannot disagree on a name.
//!
//! With `--ecs` the prefix is `logs-aws.cloudtrail-NAMESPACE` ([`IndexNames::ecs`]): the index
//! pattern Elastic Security's prebuilt AWS rules read is `logs-aws.cloudtrail-*`.

use crate::transform::Day;

/// The names derived from one index prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexNames {
    /// The index prefix: indices are `PREFIX-YYYY.MM.DD`.
    pub prefix: String,
    /// The documents carry ECS fields (`--ecs`): the ECS mappings are composed in.
    pub ecs: bool,
}

impl IndexNames {
    /// For the documents of `--index-prefix PREFIX`.
    pub fn new(prefix: &str) -> Self {
        IndexNames { prefix: prefix.to_string(), ecs: false }
    }

    /// For `--ecs` documents in namespace `namespace` (`--ecs-namespace`):
    /// `logs-aws.cloudtrail-NAMESPACE`, the type and dataset of Elastic's data stream naming
    /// scheme, as `data_stream.*` in the documents says.
    pub fn ecs(namespace: &str) -> Self {
        IndexNames { prefix: format!("logs-{}-{namespace}", crate::transform::ecs::DATASET), ecs: true }
    }

    /// The index of the events of `day`: `PREFIX-YYYY.MM.DD`.
    pub fn events_index(&self, day: &Day) -> String {
        format!("{}-{:04}.{:02}.{:02}", self.prefix, day.year, day.month, day.day)
    }

    /// The index of the findings on events of `day`: `PREFIX-findings-YYYY.MM.DD`.
    pub fn findings_index(&self, day: &Day) -> String {
        format!("{}-{:04}.{:02}.{:02}", self.findings(), day.year, day.month, day.day)
    }

    /// The index template (named after the prefix, as before component templates existed).
    pub fn index_template(&self) -> String {
        self.prefix.clone()
    }

    /// The settings component template.
    pub fn settings(&self) -> String {
        format!("{}@settings", self.prefix)
    }

    /// The mappings component template.
    pub fn mappings(&self) -> String {
        format!("{}@mappings", self.prefix)
    }

    /// The ECS mappings component template (with `--ecs` only).
    pub fn ecs_mappings(&self) -> String {
        format!("{}@ecs", self.prefix)
    }

    /// The lifecycle component template (Elasticsearch with ILM only).
    pub fn lifecycle(&self) -> String {
        format!("{}@lifecycle", self.prefix)
    }

    /// The findings' index template (and their index prefix).
    pub fn findings(&self) -> String {
        format!("{}-findings", self.prefix)
    }

    /// Every component template we may compose, whether or not this run does: in the index
    /// template's `composed_of`, these names are ours and any other is someone else's.
    pub fn components(&self) -> Vec<String> {
        vec![self.settings(), self.mappings(), self.ecs_mappings(), self.lifecycle()]
    }

    /// The ILM or ISM policy.
    pub fn policy(&self) -> String {
        format!("{}-retention", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daily_indices_and_what_setup_installs_share_the_prefix() {
        let day = Day { year: 2024, month: 5, day: 1, unix: 0 };
        let names = IndexNames::new("ct");
        assert_eq!(
            (names.events_index(&day), names.findings_index(&day)),
            ("ct-2024.05.01".into(), "ct-findings-2024.05.01".into())
        );
        assert_eq!(names.components(), ["ct@settings", "ct@mappings", "ct@ecs", "ct@lifecycle"]);
        let ecs = IndexNames::ecs("prod");
        assert!(ecs.ecs && ecs.events_index(&day) == "logs-aws.cloudtrail-prod-2024.05.01");
    }
}
