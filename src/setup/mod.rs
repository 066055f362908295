//! `setup`: prepares the cluster so that every CloudTrail event is indexable, and Kibana so that
//! the data is charted the moment it lands.
//!
//! In order: check the server is a version we support; the lifecycle policy (ILM or ISM, only
//! with `--retention-days`, skipped with a message where the cluster lacks the API); the
//! component templates (with `--ecs`, the ECS mappings too); the index template for `PREFIX-*`;
//! with `--kibana`, the saved objects. Each item is read back and compared first, and written only when it differs, so a second run
//! changes nothing and says so (`reconcile.rs`). `backfill` (and `follow`) run the template part,
//! [`install_template`], once at start unless `--no-setup`. These are library functions over the
//! cluster client; the `setup` command itself (its report on stdout) is `command/setup.rs`.
//!
//! - `templates.rs`: the template bodies (JSON in `mappings/`) and their names.
//! - `lifecycle.rs`: ILM/ISM policies and how to tell whether the cluster has the API.
//! - `compare.rs`: installed vs desired, ignoring what the server adds.
//! - `reconcile.rs`: GET, compare, PUT for one item; the report line; errors.
//! - `shared.rs`: what of our index template is ours; what others added to it is kept.
//! - `kibana.rs`: the saved objects (NDJSON in `kibana/`) and their import.

mod compare;
pub mod kibana;
pub mod lifecycle;
mod reconcile;
mod shared;
pub mod templates;

pub use reconcile::{Action, SetupError, Step};

use crate::cluster::{ClusterInfo, EsClient, Flavor};
use crate::output::elasticsearch::IndexNames;
use elasticsearch::http::Method;
use lifecycle::{Api, Probe};
use reconcile::{reconcile, Item, Kind};
use serde_json::Value;
use tracing::{info, warn};

/// What `setup` is asked to install.
#[derive(Clone, Debug)]
pub struct Options {
    /// IndexNames derived from the index prefix.
    pub names: IndexNames,
    /// Days to keep each daily index; `None`: no lifecycle policy.
    pub retention_days: Option<u32>,
    /// Report only; write nothing.
    pub dry_run: bool,
}

/// Installs (or checks, in a dry run) the lifecycle policy and the templates; calls `report` after
/// each item.
pub async fn install(
    client: &EsClient,
    cluster: &ClusterInfo,
    options: &Options,
    report: &mut dyn FnMut(&Step),
) -> Result<(), SetupError> {
    let names = &options.names;
    let api = Api::of(cluster.flavor);
    let with_lifecycle = match options.retention_days {
        Some(_) if cluster.serverless => {
            let why =
                "OpenSearch Serverless has no ISM: set a data lifecycle policy on the collection instead";
            report(&skipped("lifecycle", why));
            false
        }
        None => {
            report(&skipped("lifecycle", "no --retention-days given, indices are kept forever"));
            false
        }
        Some(days) => {
            let path = api.policy_path(&names.policy());
            let reply = client.send(Method::Get, &path, None).await?;
            match lifecycle::probe(reply.status, &reply.body) {
                Probe::Unavailable => {
                    report(&skipped("lifecycle", &format!("{} not available on this cluster", api.name())));
                    false
                }
                Probe::Installed | Probe::Absent => {
                    report(&reconcile(client, &policy_item(api, names, days), options.dry_run).await?);
                    // ISM attaches itself through the policy's ism_template; ILM is named in the
                    // index settings, with the origination date parsed from the index name.
                    api == Api::Ilm
                }
                Probe::Other => {
                    return Err(client.unexpected(&format!("GET {path}"), reply.status, &reply).into())
                }
            }
        }
    };
    for item in template_items(cluster.flavor, names, with_lifecycle.then_some(Lifecycle::Install)) {
        report(&reconcile(client, &item, options.dry_run).await?);
    }
    Ok(())
}

/// The template part of setup, run by `backfill` (and `follow`) at start: the component templates
/// and the index template, keeping the lifecycle component (as it is) in the composition if a
/// previous `setup` installed it. Logs one line per item.
pub async fn install_template(
    client: &EsClient,
    cluster: &ClusterInfo,
    names: &IndexNames,
) -> Result<(), SetupError> {
    if let Some(warning) = check_supported(cluster)? {
        warn!("{warning}");
    }
    let lifecycle_path = format!("/_component_template/{}", names.lifecycle());
    let installed =
        !cluster.serverless && client.send(Method::Get, &lifecycle_path, None).await?.status == 200;
    for item in template_items(cluster.flavor, names, installed.then_some(Lifecycle::Keep)) {
        let step = reconcile(client, &item, false).await?;
        info!("{step}");
    }
    Ok(())
}

/// Refuses servers that lack what the templates need; warns about majors we have not tested.
pub fn check_supported(cluster: &ClusterInfo) -> Result<Option<String>, SetupError> {
    if cluster.serverless {
        return Ok(None);
    }
    let mut parts = cluster.version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    let name = flavor_name(cluster.flavor);
    let (too_old, tested_major, needs) = match cluster.flavor {
        Flavor::Elasticsearch => (major < 8, 9, "8.0 or later"),
        Flavor::OpenSearch => ((major, minor) < (2, 7), 3, "2.7 or later (for flat_object fields)"),
    };
    if too_old {
        return Err(SetupError::Unsupported(format!(
            "{name} {} is not supported: cloudtrail-es needs {name} {needs}",
            cluster.version
        )));
    }
    Ok((major > tested_major).then(|| {
        format!(
            "{name} {} is newer than any version cloudtrail-es was tested with; trying anyway",
            cluster.version
        )
    }))
}

/// The server product's name, for messages.
pub fn flavor_name(flavor: Flavor) -> &'static str {
    match flavor {
        Flavor::Elasticsearch => "Elasticsearch",
        Flavor::OpenSearch => "OpenSearch",
    }
}

fn skipped(what: &str, why: &str) -> Step {
    Step { what: what.into(), action: Action::Skipped(why.into()), applied: false, note: None }
}

fn policy_item(api: Api, names: &IndexNames, days: u32) -> Item {
    let name = names.policy();
    Item {
        what: format!("{} policy {name} ({days} days)", api.name()),
        path: api.policy_path(&name),
        body: api.policy(names, days),
        kind: Kind::Policy(api),
    }
}

/// What to do with the lifecycle component.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lifecycle {
    /// Install (or update) it and compose it in.
    Install,
    /// Compose it in as installed: only `setup` knows the retention it was made for.
    Keep,
}

/// The component templates, then the index template that composes them.
fn template_items(flavor: Flavor, names: &IndexNames, lifecycle: Option<Lifecycle>) -> Vec<Item> {
    let component = |name: String, body: Value| Item {
        what: format!("component template {name}"),
        path: format!("/_component_template/{name}"),
        body,
        kind: Kind::ComponentTemplate,
    };
    let mut items = vec![
        component(names.settings(), templates::settings_component()),
        component(names.mappings(), templates::mappings_component(flavor)),
    ];
    if names.ecs {
        items.push(component(names.ecs_mappings(), templates::ecs_mappings_component(flavor)));
    }
    if lifecycle == Some(Lifecycle::Install) {
        items.push(component(names.lifecycle(), templates::lifecycle_component(names)));
    }
    let name = names.index_template();
    items.push(Item {
        what: format!("index template {name} ({}-*)", names.prefix),
        path: format!("/_index_template/{name}"),
        body: templates::index_template(names, lifecycle.is_some()),
        kind: Kind::IndexTemplate,
    });
    let findings = names.findings();
    items.push(Item {
        what: format!("index template {findings} ({findings}-*, Sigma findings)"),
        path: format!("/_index_template/{findings}"),
        body: templates::findings_template(names, lifecycle.is_some()),
        kind: Kind::IndexTemplate,
    });
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(flavor: Flavor, version: &str) -> ClusterInfo {
        ClusterInfo { flavor, version: version.into(), serverless: false }
    }

    #[test]
    fn supported_versions() {
        assert!(matches!(check_supported(&cluster(Flavor::Elasticsearch, "8.19.21")), Ok(None)));
        assert!(matches!(check_supported(&cluster(Flavor::Elasticsearch, "9.1.0")), Ok(None)));
        assert!(matches!(check_supported(&cluster(Flavor::OpenSearch, "2.7.0")), Ok(None)));
        assert!(matches!(check_supported(&cluster(Flavor::OpenSearch, "3.6.0")), Ok(None)));
        let old = check_supported(&cluster(Flavor::OpenSearch, "2.6.0")).unwrap_err().to_string();
        assert_eq!(old, "OpenSearch 2.6.0 is not supported: cloudtrail-es needs OpenSearch 2.7 or later (for flat_object fields)");
        let old = check_supported(&cluster(Flavor::Elasticsearch, "7.17.1")).unwrap_err().to_string();
        assert!(old.contains("needs Elasticsearch 8.0 or later"), "{old}");
        let new = check_supported(&cluster(Flavor::Elasticsearch, "10.0.0")).unwrap().unwrap();
        assert!(new.contains("trying anyway"));
    }

    #[test]
    fn template_items_are_in_install_order() {
        let names = IndexNames::new("ct");
        let items = template_items(Flavor::Elasticsearch, &names, Some(Lifecycle::Install));
        let paths: Vec<_> = items.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "/_component_template/ct@settings",
                "/_component_template/ct@mappings",
                "/_component_template/ct@lifecycle",
                "/_index_template/ct",
                "/_index_template/ct-findings"
            ]
        );
        assert_eq!(items[3].body["composed_of"][2], "ct@lifecycle");
        let kept = template_items(Flavor::Elasticsearch, &names, Some(Lifecycle::Keep));
        assert_eq!(kept.len(), 4, "a kept lifecycle component is not rewritten");
        assert_eq!(kept[2].body["composed_of"][2], "ct@lifecycle");
        assert_eq!(template_items(Flavor::OpenSearch, &names, None).len(), 4);
        let ecs = template_items(Flavor::OpenSearch, &IndexNames::ecs("default"), None);
        let paths: Vec<_> = ecs.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "/_component_template/logs-aws.cloudtrail-default@settings",
                "/_component_template/logs-aws.cloudtrail-default@mappings",
                "/_component_template/logs-aws.cloudtrail-default@ecs",
                "/_index_template/logs-aws.cloudtrail-default",
                "/_index_template/logs-aws.cloudtrail-default-findings"
            ]
        );
    }
}
