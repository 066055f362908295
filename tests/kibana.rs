//! The saved objects in `kibana/`, checked without Kibana (which cannot run here): every object
//! parses, every reference resolves, every field a chart uses exists in our template with an
//! aggregatable type; the pie charts' aggregations, run on the real clusters over the corpus, give
//! the top console operations computed independently from the corpus files; and `setup --kibana`
//! imports them once (a second run changes nothing) into a stand-in Kibana that records requests.

use crate::util::fake_kibana::fake_kibana;
use crate::util::{corpus, events, prefix, run_in, Cluster};
use cloudtrail_es::cluster::Flavor;
use cloudtrail_es::setup::templates::field_types;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

const FILES: [(&str, Flavor); 2] =
    [("kibana-8.ndjson", Flavor::Elasticsearch), ("opensearch-dashboards.ndjson", Flavor::OpenSearch)];

fn repo(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn objects(file: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(repo("kibana").join(file)).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{file}: {e}: {l:.200}")))
        .collect()
}

/// A JSON attribute stored as a string (`visState`, `panelsJSON`, `searchSourceJSON`…).
fn inner(value: &Value) -> Value {
    serde_json::from_str(value.as_str().expect("a JSON string")).expect("valid inner JSON")
}

fn console_filter() -> Value {
    serde_json::from_str(&std::fs::read_to_string(repo("mappings/console-query.json")).unwrap()).unwrap()
}

/// What a chart asks of the cluster.
#[derive(Debug)]
struct Chart {
    title: String,
    pie: bool,
    /// (field, size) of each terms bucket; date histograms as (field, 0).
    buckets: Vec<(String, u64)>,
    /// Query-DSL filters (the console rule where used).
    filters: Vec<Value>,
}

fn charts(objects: &[Value]) -> Vec<Chart> {
    let mut out = Vec::new();
    for o in objects {
        let a = &o["attributes"];
        let title = a["title"].as_str().unwrap().to_string();
        match o["type"].as_str().unwrap() {
            "lens" => {
                let mut buckets = Vec::new();
                for layer in
                    a["state"]["datasourceStates"]["formBased"]["layers"].as_object().unwrap().values()
                {
                    for c in layer["columns"].as_object().unwrap().values() {
                        match c["operationType"].as_str().unwrap() {
                            "terms" => buckets.push((
                                c["sourceField"].as_str().unwrap().into(),
                                c["params"]["size"].as_u64().unwrap(),
                            )),
                            "date_histogram" => buckets.push((c["sourceField"].as_str().unwrap().into(), 0)),
                            "count" => assert_eq!(c["sourceField"], "___records___"),
                            other => panic!("{title}: unexpected operation {other}"),
                        }
                    }
                }
                let filters =
                    a["state"]["filters"].as_array().unwrap().iter().map(|f| f["query"].clone()).collect();
                out.push(Chart { title, pie: a["visualizationType"] == "lnsPie", buckets, filters });
            }
            "visualization" => {
                let vis = inner(&a["visState"]);
                let buckets = vis["aggs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|agg| agg["type"] != "count")
                    .map(|agg| {
                        (
                            agg["params"]["field"].as_str().unwrap().into(),
                            agg["params"]["size"].as_u64().unwrap_or(0),
                        )
                    })
                    .collect();
                let source = inner(&a["kibanaSavedObjectMeta"]["searchSourceJSON"]);
                let filters =
                    source["filter"].as_array().unwrap().iter().map(|f| f["query"].clone()).collect();
                out.push(Chart { title, pie: vis["type"] == "pie", buckets, filters });
            }
            _ => {}
        }
    }
    out
}

#[test]
fn the_files_are_what_the_generator_writes() {
    let out = std::process::Command::new("python3")
        .arg(repo("scripts/gen-kibana.py"))
        .arg("--check")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn every_reference_resolves() {
    for (file, _) in FILES {
        let objects = objects(file);
        let ids: HashMap<(String, String), &Value> = objects
            .iter()
            .map(|o| ((o["type"].as_str().unwrap().into(), o["id"].as_str().unwrap().into()), o))
            .collect();
        assert_eq!(ids.len(), objects.len(), "{file}: ids are unique");
        for o in &objects {
            let refs = o["references"].as_array().unwrap();
            let names: Vec<&str> = refs.iter().map(|r| r["name"].as_str().unwrap()).collect();
            for r in refs {
                let key = (r["type"].as_str().unwrap().to_string(), r["id"].as_str().unwrap().to_string());
                assert!(ids.contains_key(&key), "{file}: {} refers to missing {key:?}", o["id"]);
            }
            let a = &o["attributes"];
            // Every name the object uses is among its references.
            let mut used: Vec<String> = Vec::new();
            if let Some(source) = a["kibanaSavedObjectMeta"]["searchSourceJSON"].as_str() {
                let source: Value = serde_json::from_str(source).unwrap();
                used.extend(source["indexRefName"].as_str().map(String::from));
            }
            if let Some(panels) = a["panelsJSON"].as_str() {
                let panels: Vec<Value> = serde_json::from_str(panels).unwrap();
                assert_eq!(panels.len(), refs.len(), "{file}: one reference per panel");
                used.extend(panels.iter().map(|p| p["panelRefName"].as_str().unwrap().to_string()));
            }
            if o["type"] == "lens" {
                for layer in a["state"]["datasourceStates"]["formBased"]["layers"].as_object().unwrap().keys()
                {
                    used.push(format!("indexpattern-datasource-layer-{layer}"));
                }
                for f in a["state"]["filters"].as_array().unwrap() {
                    used.extend(f["meta"]["indexRefName"].as_str().map(String::from));
                }
            }
            for name in used {
                assert!(
                    names.contains(&name.as_str()),
                    "{file}: {} uses {name} without a reference",
                    o["id"]
                );
            }
        }
        let dashboards: Vec<_> = objects.iter().filter(|o| o["type"] == "dashboard").collect();
        assert_eq!(dashboards.len(), 1);
        assert_eq!(dashboards[0]["attributes"]["title"], "CloudTrail — console activity");
        let view = objects.iter().find(|o| o["type"] == "index-pattern").unwrap();
        assert_eq!(view["attributes"]["title"], "cloudtrail-*");
        assert_eq!(view["attributes"]["timeFieldName"], "@timestamp");
    }
}

#[test]
fn every_field_used_is_aggregatable_in_the_template() {
    const AGGREGATABLE: [&str; 9] =
        ["keyword", "date", "ip", "boolean", "long", "integer", "short", "double", "float"];
    for (file, flavor) in FILES {
        let types: HashMap<String, String> = field_types(flavor).into_iter().collect();
        let objects = objects(file);
        let mut fields: Vec<(String, String)> = Vec::new();
        for chart in charts(&objects) {
            fields.extend(chart.buckets.iter().map(|(f, _)| (chart.title.clone(), f.clone())));
        }
        for o in objects.iter().filter(|o| o["type"] == "search") {
            let title = o["attributes"]["title"].as_str().unwrap().to_string();
            for c in o["attributes"]["columns"].as_array().unwrap() {
                fields.push((title.clone(), c.as_str().unwrap().into()));
            }
            for s in o["attributes"]["sort"].as_array().unwrap() {
                fields.push((title.clone(), s[0].as_str().unwrap().into()));
            }
        }
        fields
            .extend(filter_fields(&console_filter()).into_iter().map(|f| ("console filter".to_string(), f)));
        assert!(fields.len() > 10, "{fields:?}");
        for (title, field) in fields {
            let ty = types
                .get(&field)
                .unwrap_or_else(|| panic!("{file}: {title}: {field} is not in the template"));
            assert!(AGGREGATABLE.contains(&ty.as_str()), "{file}: {title}: {field} is {ty}");
        }
    }
}

/// The fields a query-DSL filter reads.
fn filter_fields(query: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(map) = query.as_object() {
        for (k, v) in map {
            match k.as_str() {
                "exists" => out.extend(v["field"].as_str().map(str::to_string)),
                "term" | "terms" | "wildcard" | "prefix" | "range" => {
                    out.extend(v.as_object().unwrap().keys().filter(|f| *f != "boost").cloned())
                }
                _ => {
                    for child in v.as_array().cloned().unwrap_or_else(|| vec![v.clone()]) {
                        out.extend(filter_fields(&child));
                    }
                }
            }
        }
    }
    out
}

#[test]
fn console_charts_carry_the_one_console_rule() {
    let rule = console_filter();
    for (file, _) in FILES {
        let charts = charts(&objects(file));
        let pies: Vec<_> = charts.iter().filter(|c| c.pie).collect();
        assert_eq!(pies.len(), 2, "{file}");
        for pie in pies {
            assert_eq!(pie.filters, vec![rule.clone()], "{file}: {}", pie.title);
        }
    }
}

/// The console rule, written again from its definition (not from console-query.json), to
/// compute the expected charts independently.
fn is_console(e: &Value) -> bool {
    let agent = e["userAgent"].as_str().unwrap_or_default();
    let service_console = agent
        .strip_prefix("console.")
        .and_then(|r| r.strip_suffix(".amazonaws.com"))
        .is_some_and(|s| !s.is_empty());
    let front_end =
        ["Console/", "Console,", "ConsoleFrontend", "AWS Console"].iter().any(|t| agent.contains(t));
    let internal = agent == "AWS Internal" && e.pointer("/userIdentity/invokedBy").is_none();
    ["console.amazonaws.com", "signin.amazonaws.com"].contains(&agent)
        || service_console
        || front_end
        || agent.starts_with("Mozilla/")
        || internal
        || e["sessionCredentialFromConsole"] == "true"
        || ["AwsConsoleSignIn", "AwsConsoleAction"].contains(&e["eventType"].as_str().unwrap_or_default())
}

fn value_at<'a>(e: &'a Value, path: &str) -> Option<&'a str> {
    path.split('.').try_fold(e, |v, k| v.get(k)).and_then(Value::as_str)
}

fn pies_show_the_top_console_operations(cluster: &Cluster, file: &str) {
    let p = prefix("pies");
    let dir = tempfile::tempdir().unwrap();
    let real = corpus();
    run_in(dir.path(), &["setup", "--es", &cluster.url, "--index-prefix", &p], &[]).expect_code(0);
    run_in(
        dir.path(),
        &["backfill", real.to_str().unwrap(), "--es", &cluster.url, "--index-prefix", &p, "--no-setup"],
        &[],
    )
    .expect_code(0);
    let console: Vec<Value> = events(&real).into_iter().filter(is_console).collect();
    assert!(console.len() > 4000, "{}", console.len());
    let pies: Vec<Chart> = charts(&objects(file)).into_iter().filter(|c| c.pie).collect();
    for pie in pies {
        let (field, size) = pie.buckets[0].clone();
        let mut expected: BTreeMap<&str, u64> = BTreeMap::new();
        for v in console.iter().filter_map(|e| value_at(e, &field)) {
            *expected.entry(v).or_default() += 1;
        }
        let mut top: Vec<u64> = expected.values().copied().collect();
        top.sort_unstable_by(|a, b| b.cmp(a));
        top.truncate(size as usize);
        // The chart's own aggregation; shard_size makes counts exact over the many daily indices.
        let answer = cluster.search(
            &p,
            json!({"size": 0, "query": {"bool": {"filter": pie.filters}},
            "aggs": {"top": {"terms": {"field": field, "size": size, "shard_size": 10000}}}}),
        );
        let buckets =
            answer["aggregations"]["top"]["buckets"].as_array().unwrap_or_else(|| panic!("{answer}"));
        let got: Vec<(String, u64)> = buckets
            .iter()
            .map(|b| (b["key"].as_str().unwrap().to_string(), b["doc_count"].as_u64().unwrap()))
            .collect();
        assert_eq!(got.iter().map(|(_, n)| *n).collect::<Vec<_>>(), top, "{}: counts", pie.title);
        for (key, n) in &got {
            assert_eq!(expected.get(key.as_str()), Some(n), "{}: {key}", pie.title);
        }
        if field == "eventName" {
            assert_eq!(got[0], ("DescribeEventAggregates".to_string(), 1032), "{}", pie.title);
        }
    }
    cluster.clean(&p);
}

#[test]
fn pie_charts_show_the_top_console_operations_in_elasticsearch() {
    pies_show_the_top_console_operations(&Cluster::es(), "kibana-8.ndjson");
}

#[test]
fn pie_charts_show_the_top_console_operations_in_opensearch() {
    pies_show_the_top_console_operations(&Cluster::os(), "opensearch-dashboards.ndjson");
}

fn imports_once(cluster: &Cluster, app: &str, objects: usize) {
    let (kibana, seen) = fake_kibana();
    let p = prefix("kibana");
    let dir = tempfile::tempdir().unwrap();
    let args = ["setup", "--es", &cluster.url, "--index-prefix", &p, "--kibana", &kibana];
    let first = run_in(dir.path(), &args, &[]);
    first.expect_code(0);
    let line = format!("{app} saved objects ({objects} objects) at {kibana}: created");
    assert!(first.stdout.contains(&line), "missing {line:?} in\n{}", first.stdout);
    let second = run_in(dir.path(), &args, &[]);
    second.expect_code(0);
    assert!(
        second.stdout.contains(&format!("{app} saved objects ({objects} objects) at {kibana}: unchanged")),
        "{}",
        second.stdout
    );
    assert!(second.stdout.contains("nothing to change"), "{}", second.stdout);
    let seen = seen.lock().unwrap();
    let lines: Vec<&str> = seen.iter().map(|s| s.line.as_str()).collect();
    assert_eq!(
        lines,
        [
            "POST /api/saved_objects/_bulk_get HTTP/1.1",
            "POST /api/saved_objects/_import?overwrite=true HTTP/1.1",
            "POST /api/saved_objects/_bulk_get HTTP/1.1",
        ]
    );
    for s in seen.iter() {
        assert!(s.headers.contains(&"kbn-xsrf: true".to_string()), "{s:?}");
        assert!(s.headers.contains(&"osd-xsrf: true".to_string()), "{s:?}");
    }
    assert!(
        seen[1].headers.iter().any(|h| h.starts_with("content-type: multipart/form-data; boundary=")),
        "{:?}",
        seen[1]
    );
    cluster.clean(&p);
}

#[test]
fn setup_imports_into_kibana_once() {
    imports_once(&Cluster::es(), "Kibana", 8);
}

#[test]
fn setup_imports_into_opensearch_dashboards_once() {
    imports_once(&Cluster::os(), "OpenSearch Dashboards", 8);
}
