//! `--account-names FILE`: every document of a named account carries `recipientAccountName`,
//! searchable on the four clusters (the template maps it); the flag works from a `--config` file
//! too; a bad file stops the run at start, naming the file and the line.
// The tests that need a server exist with the feature `servers`.
#![cfg_attr(not(feature = "servers"), allow(dead_code, unused_imports))]

use crate::util::{corpus, events, output_ids, run_in};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// The corpus' events per `recipientAccountId` (an aggregated event's `accountId`).
fn per_account(dir: &Path) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for e in events(dir) {
        if let Some(id) = e.get("recipientAccountId").or(e.get("accountId")).and_then(Value::as_str) {
            *out.entry(id.to_string()).or_default() += 1;
        }
    }
    out
}

/// The two accounts with the most events in `dir`, named in a CSV file in `at`.
fn names_file(dir: &Path, at: &Path) -> (std::path::PathBuf, Vec<(String, usize)>) {
    let mut accounts: Vec<(String, usize)> = per_account(dir).into_iter().collect();
    accounts.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    accounts.truncate(2);
    let path = at.join("accounts.csv");
    let lines: Vec<String> =
        accounts.iter().enumerate().map(|(i, (id, _))| format!("{id},Team {i}, EU")).collect();
    std::fs::write(&path, format!("id,name\n{}\n", lines.join("\n"))).unwrap();
    (path, accounts)
}

#[cfg(feature = "servers")]
#[test]
fn named_accounts_are_searchable_by_name_on_every_cluster() {
    use crate::util::{event_counts, on_each_cluster, prefix};
    let source = corpus().join("datadog-stratus-red-team");
    on_each_cluster(|cluster| {
        let dir = tempfile::tempdir().unwrap();
        let (names, accounts) = names_file(&source, dir.path());
        let p = prefix("account-names");
        let args = [
            "backfill",
            source.to_str().unwrap(),
            "--es",
            &cluster.url,
            "--index-prefix",
            &p,
            "--account-names",
            names.to_str().unwrap(),
        ];
        let run = run_in(dir.path(), &args, &[]);
        run.expect_code(0);
        assert_eq!(event_counts(&run).2, 0, "{}", run.stderr);
        for (i, (id, n)) in accounts.iter().enumerate() {
            let query = json!({"size": 1, "track_total_hits": true,
                               "query": {"term": {"recipientAccountName": format!("Team {i}, EU")}}});
            let found = cluster.search(&p, query);
            assert_eq!(found["hits"]["total"]["value"].as_u64(), Some(*n as u64), "{id}");
            assert_eq!(found["hits"]["hits"][0]["_source"]["recipientAccountId"], id.as_str());
        }
        let named: usize = accounts.iter().map(|(_, n)| n).sum();
        let all = cluster.count(&p) as usize;
        let query = json!({"size": 0, "track_total_hits": true,
                           "query": {"bool": {"must_not": {"exists": {"field": "recipientAccountName"}}}}});
        let unnamed = cluster.search(&p, query)["hits"]["total"]["value"].as_u64().unwrap() as usize;
        assert_eq!((named + unnamed, all > named), (all, true), "other accounts have no name");
        cluster.clean(&p);
    });
}

/// The flag as a `--config` key, and a bad file: exit 2 at start, the file and line named.
#[test]
fn the_config_file_names_the_accounts_and_a_bad_file_stops_the_run() {
    let source = corpus().join("flosell-trailscraper");
    let dir = tempfile::tempdir().unwrap();
    let (names, accounts) = names_file(&source, dir.path());
    let config = dir.path().join("config.toml");
    std::fs::write(&config, format!("account-names = {:?}\n", names.to_str().unwrap())).unwrap();
    let out = dir.path().join("out.ndjson");
    let args = [
        "backfill",
        source.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ];
    run_in(dir.path(), &args, &[]).expect_code(0);
    let text = std::fs::read_to_string(&out).unwrap();
    let docs: Vec<Value> =
        text.lines().skip(1).step_by(2).map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(docs.len(), output_ids(&out).len());
    let (id, n) = &accounts[0];
    let named = docs.iter().filter(|d| d["recipientAccountName"] == "Team 0, EU").count();
    assert_eq!(named, *n, "{id}");
    assert!(docs.iter().all(|d| d.get("recipientAccountName").is_some()
        == (d["recipientAccountId"] == id.as_str()
            || accounts.iter().any(|(a, _)| d["recipientAccountId"] == a.as_str()))));

    std::fs::write(&names, "id,name\n111122223333,ok\n1111,secret-team\n").unwrap();
    let run = run_in(dir.path(), &args, &[]);
    assert_eq!(run.code, 1, "could not run");
    let want = format!("--account-names {} line 3: the account id must be 12 digits", names.display());
    assert!(run.stderr.contains(&want), "{}", run.stderr);
    assert!(!run.stderr.contains("secret-team"), "{}", run.stderr);
    assert!(!out.exists() || std::fs::read_to_string(&out).unwrap() == text, "nothing written");
}
