//! `cloudtrail-es setup`: prepares the cluster (and, with `--kibana`, Kibana) and reports one line
//! per item on stdout, then whether anything changed. The work itself is `crate::setup`'s; last,
//! the refresh a backfill stopped before its end left off is restored (`refresh_marker.rs`).

use crate::cluster::{ClusterSettings, EsClient};
use crate::output::elasticsearch::refresh_marker;
use crate::setup::{check_supported, flavor_name, install, kibana, Options, Step};

/// What `setup` is asked to do.
#[derive(Clone, Debug)]
pub struct SetupSettings {
    /// The cluster.
    pub cluster: ClusterSettings,
    /// What to install.
    pub options: Options,
    /// Kibana or OpenSearch Dashboards, for the saved objects.
    pub kibana: Option<ClusterSettings>,
}

/// `cloudtrail-es setup`: prints one line per item and a last line saying whether anything changed.
pub async fn run(settings: SetupSettings) -> anyhow::Result<()> {
    let client = super::client::build(&settings.cluster).await?;
    let cluster = client.info().await?;
    if cluster.serverless {
        println!(
            "cluster: OpenSearch Serverless collection at {} (no GET /, _nodes or _cluster/health there: \
             not probed; no ISM: lifecycle skipped)",
            client.url()
        );
    } else {
        println!("cluster: {} {} at {}", flavor_name(cluster.flavor), cluster.version, client.url());
    }
    if let Some(warning) = check_supported(&cluster)? {
        println!("warning: {warning}");
    }
    let options = settings.options;
    let mut changes = 0;
    let mut report = |step: &Step| {
        changes += usize::from(step.changes());
        println!("{step}");
    };
    install(&client, &cluster, &options, &mut report).await?;
    if let Some(kibana) = &settings.kibana {
        let kibana = super::client::build(kibana).await?;
        report(&kibana::install(&kibana, &client, cluster.flavor, &options).await?);
    }
    if !cluster.serverless {
        changes += restore_refresh(&client, &options).await;
    }
    println!("{}", summary(changes, options.dry_run));
    Ok(())
}

/// Restores the refresh a backfill stopped before its end (kill -9, a crash) left off on
/// `PREFIX-*`, with a report line when there was any; returns how many indices.
async fn restore_refresh(client: &EsClient, options: &Options) -> usize {
    match refresh_marker::restore_interrupted(client, &options.names.prefix, options.dry_run).await {
        Ok(0) => 0,
        Ok(n) => {
            let done = if options.dry_run { "would restore" } else { "restored" };
            println!("refresh of {n} index(es) an interrupted backfill left off: {done}");
            n
        }
        Err(e) => {
            println!("warning: cannot look for indices an interrupted backfill left without refresh: {e}");
            0
        }
    }
}

/// The last line of the report.
fn summary(changes: usize, dry_run: bool) -> String {
    match (changes, dry_run) {
        (0, _) => "nothing to change: everything is installed and up to date".into(),
        (n, true) => format!("dry run: {n} item(s) would be created or updated; nothing was changed"),
        (n, false) => format!("done: {n} item(s) created or updated"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_says_whether_anything_changed() {
        assert!(summary(0, false).starts_with("nothing to change"));
        assert!(summary(0, true).starts_with("nothing to change"));
        assert!(summary(2, true).contains("would be created or updated"));
        assert_eq!(summary(3, false), "done: 3 item(s) created or updated");
    }
}
