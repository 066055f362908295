//! OpenSearch Security Analytics (SA) on our indices, and `setup` sharing our index template.
//!
//! The plugin is not available to run here, so [`create_detector_mappings`] does what its code does
//! when a detector is created on an index pattern (opensearch-project/security-analytics,
//! `mapper/MapperService.java` and `mapper/IndexTemplateManager.java`): alias fields from its
//! CloudTrail log type (`tests/corpus/security-analytics/`) PUT on each index, a component
//! `.opensearch-sap-alias-mappings-component-<pattern>` holding them, and our index template
//! re-PUT with that component appended to `composed_of` and the pattern to `index_patterns`.
//! Then `setup` runs again, a backfill rolls to a new day's index, and the alias must still find
//! the events there.

use crate::util::{on_each_cluster, prefix, run_in, write_gz, Cluster, OS2, OS3};
use serde_json::{json, Map, Value};
use std::path::Path;

const SAP_COMPONENT: &str = ".opensearch-sap-alias-mappings-component-";

fn setup(cluster: &Cluster, p: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let run = run_in(dir.path(), &["setup", "--es", &cluster.url, "--index-prefix", p], &[]);
    run.expect_code(0);
    run.stdout
}

/// Backfills `events` (one log file) with the template install at start, as a user runs it.
fn backfill(cluster: &Cluster, p: &str, events: &[Value]) {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let file = json!({ "Records": events }).to_string();
    write_gz(&logs.join("111122223333_CloudTrail_us-east-1_20240301T0000Z_sa.json.gz"), file.as_bytes());
    let run = run_in(dir.path(), &["backfill", "logs", "--es", &cluster.url, "--index-prefix", p], &[]);
    run.expect_code(0);
}

fn event(id: &str, day: &str, name: &str, extra: Value) -> Value {
    let mut e = json!({"eventVersion": "1.11", "eventID": id, "eventTime": format!("{day}T12:00:00Z"),
        "eventSource": "ec2.amazonaws.com", "eventName": name, "awsRegion": "us-east-1",
        "eventType": "AwsApiCall", "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/a"}});
    e.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    e
}

/// The leaf field paths of a mapping (a node without `properties`), as SA's `MappingsTraverser`
/// lists them, with their mapping.
fn leaves(props: &Value, prefix: &str, out: &mut Map<String, Value>) {
    for (name, node) in props.as_object().into_iter().flatten() {
        let path = if prefix.is_empty() { name.clone() } else { format!("{prefix}.{name}") };
        match node.get("properties") {
            Some(inner) => leaves(inner, &path, out),
            None => {
                out.insert(path, node.clone());
            }
        }
    }
}

/// What SA does for a detector of log type `cloudtrail` on `pattern` (see the module docs).
fn create_detector_mappings(cluster: &Cluster, pattern: &str) {
    let table: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/corpus/security-analytics/cloudtrail_logtype.json"),
        )
        .unwrap(),
    )
    .unwrap();
    // MapperService: per index, an alias named after `ecs` for the first of `raw_field`, `ocsf11`,
    // `ocsf` the index has as a field; aliases named as an existing field are left out.
    let mut component_mappings = None;
    let settings = cluster.get(&format!("/{pattern}/_settings"));
    let newest = settings
        .as_object()
        .unwrap()
        .iter()
        .max_by_key(|(_, s)| {
            s["settings"]["index"]["creation_date"].as_str().unwrap().parse::<u64>().unwrap()
        })
        .map(|(name, _)| name.clone())
        .unwrap();
    for (index, mapping) in cluster.get(&format!("/{pattern}/_mapping")).as_object().unwrap() {
        let mut fields = Map::new();
        leaves(&mapping["mappings"]["properties"], "", &mut fields);
        let mut aliases = Map::new();
        let mut present = Map::new();
        for m in table["mappings"].as_array().unwrap() {
            let target = ["raw_field", "ocsf11", "ocsf"]
                .iter()
                .filter_map(|k| m[*k].as_str())
                .find(|path| fields.get(*path).is_some_and(|f| f["type"] != "alias"));
            let ecs = m["ecs"].as_str().unwrap();
            if let (Some(path), false) = (target, fields.contains_key(ecs)) {
                aliases.insert(ecs.into(), json!({"type": "alias", "path": path}));
                present.insert(path.into(), fields[path].clone());
            }
        }
        cluster.put(&format!("/{index}/_mapping"), &json!({ "properties": aliases }).to_string());
        if *index == newest {
            present.extend(aliases);
            component_mappings = Some(json!({ "properties": present }));
        }
    }
    // IndexTemplateManager: the component, then the template that matches, re-PUT.
    let stem = pattern.trim_end_matches('*');
    let component = format!("{SAP_COMPONENT}{stem}");
    let body = json!({"template": {"mappings": component_mappings.unwrap()}, "version": 0});
    cluster.put(&format!("/_component_template/{component}"), &body.to_string());
    let name = stem.trim_end_matches('-');
    let found = cluster.get(&format!("/_index_template/{name}"));
    let t = &found["index_templates"][0]["index_template"];
    let mut patterns = t["index_patterns"].as_array().unwrap().clone();
    patterns.push(json!(pattern));
    let mut composed = t["composed_of"].as_array().unwrap().clone();
    composed.push(json!(component));
    let mut edited = json!({"index_patterns": patterns, "composed_of": composed, "priority": t["priority"]});
    for key in ["template", "version", "_meta", "data_stream"] {
        if !t[key].is_null() {
            edited[key] = t[key].clone();
        }
    }
    cluster.put(&format!("/_index_template/{name}"), &edited.to_string());
}

fn hits(cluster: &Cluster, index: &str, query: Value) -> u64 {
    cluster.post(&format!("/{index}/_refresh"), "");
    let found = cluster.post(&format!("/{index}/_search"), &json!({ "query": query }).to_string());
    found["hits"]["total"]["value"].as_u64().unwrap_or_else(|| panic!("{found}"))
}

fn remove_sa(cluster: &Cluster, p: &str) {
    cluster.clean(p);
    let _ = ureq::delete(&format!("{}/_component_template/{SAP_COMPONENT}{p}-", cluster.url)).call();
}

/// A detector's template edit survives `setup` and the template install of the next run, and the
/// next day's index answers through the aliases, one of them on a keyword copy.
fn a_detector_keeps_matching_the_next_days_index(cluster: &Cluster) {
    let p = prefix("sa");
    setup(cluster, &p);
    let first = event(
        "e-1",
        "2024-03-01",
        "ModifySnapshotAttribute",
        json!({"requestParameters": {"attribute": "createVolumePermission", "snapshotId": "snap-1"}}),
    );
    backfill(cluster, &p, &[first]);
    create_detector_mappings(cluster, &format!("{p}-*"));

    let again = setup(cluster, &p);
    let next = event(
        "e-2",
        "2024-03-02",
        "ModifyImageAttribute",
        json!({"requestParameters": {"attribute": "launchPermission", "imageId": "ami-1"},
               "responseElements": {"publiclyAccessible": true}}),
    );
    backfill(cluster, &p, &[next]);

    let index = format!("{p}-2024.03.02");
    let mapping = cluster.get(&format!("/{index}/_mapping"));
    let aws = &mapping[&index]["mappings"]["properties"]["aws"]["properties"]["cloudtrail"]["properties"];
    assert_eq!(aws["event_name"], json!({"type": "alias", "path": "eventName"}), "{mapping}");
    assert_eq!(
        hits(cluster, &index, json!({"term": {"aws.cloudtrail.event_name": "ModifyImageAttribute"}})),
        1
    );
    let attribute = json!({"term": {"aws.cloudtrail.request_parameters.attribute": "launchPermission"}});
    assert_eq!(hits(cluster, &index, attribute), 1, "the alias to the copy finds the event");
    let public = json!({"term": {"aws.cloudtrail.response_elements.publicly_accessible": "true"}});
    assert_eq!(hits(cluster, &index, public), 1);
    let kept = format!("kept what others added: components [{SAP_COMPONENT}{p}-]; index patterns [{p}-*]");
    assert!(again.contains(&format!("index template {p} ({p}-*): unchanged; {kept}")), "{again}");
    remove_sa(cluster, &p);
}

#[test]
fn a_detector_keeps_matching_the_next_days_index_on_opensearch() {
    for known in [&OS3, &OS2] {
        a_detector_keeps_matching_the_next_days_index(&Cluster::of(known));
    }
}

/// An alias to each of the nine copies is accepted and finds the event; an alias into the
/// `flat_object` is accepted too, but finds nothing (why the copies exist).
fn aliases_to_the_nine_copies_find_the_event(cluster: &Cluster) {
    let p = prefix("sa-nine");
    let all = event(
        "e-9",
        "2024-03-01",
        "Everything",
        json!({
        "requestParameters": {"arn": "arn:aws:sns:us-east-1:111122223333:t", "attribute": "launchPermission",
            "userName": "bob", "roleArn": "arn:aws:iam::111122223333:role/r", "roleSessionName": "s",
            "containerDefinitions": [{"command": ["sh", "-c", "curl x"]}]},
        "responseElements": {"pendingModifiedValues": {"masterUserPassword": "****"},
            "publiclyAccessible": false, "ConsoleLogin": "Success"}}),
    );
    backfill(cluster, &p, &[all]);
    let index = format!("{p}-2024.03.01");
    let nine = [
        ("requestParameters.arn", "arn:aws:sns:us-east-1:111122223333:t"),
        ("requestParameters.attribute", "launchPermission"),
        ("requestParameters.userName", "bob"),
        ("requestParameters.roleArn", "arn:aws:iam::111122223333:role/r"),
        ("requestParameters.roleSessionName", "s"),
        ("requestParameters.containerDefinitions.command", "curl x"),
        ("responseElements.pendingModifiedValues.masterUserPassword", "****"),
        ("responseElements.publiclyAccessible", "false"),
        ("responseElements.ConsoleLogin", "Success"),
    ];
    let mut aliases = Map::new();
    for (path, _) in nine {
        aliases.insert(format!("check.{path}"), json!({"type": "alias", "path": format!("unmapped.{path}")}));
    }
    aliases.insert("inside.arn".into(), json!({"type": "alias", "path": "requestParameters.arn"}));
    cluster.put(&format!("/{index}/_mapping"), &json!({ "properties": aliases }).to_string());
    for (path, value) in nine {
        assert_eq!(hits(cluster, &index, json!({"term": {format!("check.{path}"): value}})), 1, "{path}");
    }
    let inside = json!({"term": {"inside.arn": "arn:aws:sns:us-east-1:111122223333:t"}});
    assert_eq!(hits(cluster, &index, inside), 0, "an alias into a flat_object finds nothing");
    cluster.clean(&p);
}

#[test]
fn aliases_to_the_nine_copies_find_the_event_on_opensearch() {
    for known in [&OS3, &OS2] {
        aliases_to_the_nine_copies_find_the_event(&Cluster::of(known));
    }
}

/// What others add to our index template stays; what we own is put back.
fn setup_keeps_theirs_and_restores_ours(cluster: &Cluster) {
    let p = prefix("shared");
    setup(cluster, &p);
    let theirs = format!("{p}-theirs");
    cluster.put(
        &format!("/_component_template/{theirs}"),
        r#"{"template":{"mappings":{"properties":{"team":{"type":"keyword"}}}}}"#,
    );
    // Someone drops our settings component, changes our priority and version, adds their own.
    let edited = json!({"index_patterns": [format!("{p}-*"), format!("{p}x-*")],
        "composed_of": [format!("{p}@mappings"), theirs], "priority": 5,
        "_meta": {"managed_by": "cloudtrail-es", "version": "0.0.0", "owner": "team-a"},
        "template": {"aliases": {format!("{p}-all"): {}}}});
    cluster.put(&format!("/_index_template/{p}"), &edited.to_string());

    let out = setup(cluster, &p);
    let kept = format!(
        "kept what others added: components [{theirs}]; index patterns [{p}x-*]; other keys [_meta.owner, template]"
    );
    assert!(out.contains(&format!("index template {p} ({p}-*): updated; {kept}")), "{out}");
    let found = cluster.get(&format!("/_index_template/{p}"));
    let t = &found["index_templates"][0]["index_template"];
    assert_eq!(t["composed_of"], json!([format!("{p}@settings"), format!("{p}@mappings"), theirs]));
    assert_eq!(t["index_patterns"], json!([format!("{p}-*"), format!("{p}x-*")]));
    assert_eq!(t["priority"], 200 + p.len() as u64, "ours, put back");
    assert_eq!(t["_meta"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(t["_meta"]["owner"], "team-a");
    assert_eq!(t["template"]["aliases"], json!({format!("{p}-all"): {}}));
    let again = setup(cluster, &p);
    assert!(again.contains(&format!("index template {p} ({p}-*): unchanged; {kept}")), "{again}");
    assert!(again.contains("nothing to change"), "{again}");

    backfill(cluster, &p, &[event("e-1", "2024-03-01", "X", json!({}))]);
    cluster.post(&format!("/{p}-all/_refresh"), "");
    assert_eq!(cluster.get(&format!("/{p}-all/_count"))["count"], 1, "their alias is on the new index");
    cluster.clean(&p);
    let _ = ureq::delete(&format!("{}/_component_template/{theirs}", cluster.url)).call();
}

#[test]
fn setup_keeps_what_others_add_and_restores_what_it_owns_on_every_cluster() {
    on_each_cluster(setup_keeps_theirs_and_restores_ours);
}
