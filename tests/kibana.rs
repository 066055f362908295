//! The saved objects in `kibana/`, checked without Kibana (which cannot run here): every object
//! parses, every reference resolves and is named as current exports name it, every filter names
//! its data view, every field a chart uses exists in its data view's template (events' or
//! findings') with an aggregatable type, every chart of events carries the console rule, the
//! findings are charted by rule and level on their own data view; and `setup --kibana` imports
//! them once (a second run changes nothing) into a stand-in Kibana that records requests.
//! `panels.rs` runs each panel's own aggregation on the real clusters over the corpus (with
//! `--rules builtin`); `field_caps.rs` makes the field-list call both apps make before they open a
//! data view, on the four engines.
// The tests that need a server (and what only they use) exist with the feature `servers`.
#![cfg_attr(not(feature = "servers"), allow(dead_code, unused_imports))]

#[cfg(feature = "servers")]
mod field_caps;
mod panels;

use crate::util::fake_kibana::fake_kibana;
use crate::util::{prefix, run_in, Cluster};
use cloudtrail_es::cluster::Flavor;
use cloudtrail_es::setup::templates::field_types;
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;

/// The ids of the two data views in `kibana/` (prefix `cloudtrail`).
const EVENTS_VIEW: &str = "cloudtrail-es_cloudtrail_data-view";
const FINDINGS_VIEW: &str = "cloudtrail-es_cloudtrail_findings-data-view";

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

/// The charts (Lens or legacy visualizations) among `objects`.
fn charts(objects: &[Value]) -> Vec<panels::Chart> {
    objects.iter().filter_map(panels::chart).collect()
}

#[test]
fn the_files_are_what_the_generator_writes() {
    let out = std::process::Command::new("python3")
        .arg(repo("scripts/gen/kibana.py"))
        .arg("--check")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn every_reference_resolves() {
    for (file, flavor) in FILES {
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
            for name in used_names(o, flavor) {
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
        let views: Vec<(&Value, &Value)> = objects
            .iter()
            .filter(|o| o["type"] == "index-pattern")
            .map(|o| (&o["id"], &o["attributes"]["title"]))
            .collect();
        assert_eq!(
            views,
            [
                (&EVENTS_VIEW.into(), &"cloudtrail-2*".into()),
                (&FINDINGS_VIEW.into(), &"cloudtrail-findings-*".into())
            ],
            "{file}"
        );
        for view in objects.iter().filter(|o| o["type"] == "index-pattern") {
            assert_eq!(view["attributes"]["timeFieldName"], "@timestamp");
        }
    }
}

/// The reference names an object uses, checked against how each app's own extraction names
/// them, so that nothing is left for an import migration to guess.
fn used_names(o: &Value, flavor: Flavor) -> Vec<String> {
    let a = &o["attributes"];
    let mut used = Vec::new();
    // Every filter names its data view through a reference, or the apps drop it when
    // `courier:ignoreFilterIfFieldNotInIndex` is on: Kibana 8.1+ (Lens) keeps the name in
    // `meta.index`, OpenSearch Dashboards (search sources) in `meta.indexRefName`.
    let filter_name = |f: &Value, at: &str| -> String {
        let meta = &f["meta"];
        match (flavor, o["type"].as_str().unwrap()) {
            (Flavor::Elasticsearch, "lens") => {
                assert!(meta.get("indexRefName").is_none(), "{}: pre-8.1 filter shape", o["id"]);
                meta["index"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{}: filter without data view", o["id"]))
                    .into()
            }
            _ => {
                assert!(meta.get("index").is_none(), "{}: an id where a reference name belongs", o["id"]);
                let name = meta["indexRefName"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{}: filter without data view", o["id"]));
                assert_eq!(name, at, "{}", o["id"]);
                name.into()
            }
        }
    };
    if let Some(source) = a["kibanaSavedObjectMeta"]["searchSourceJSON"].as_str() {
        let source: Value = serde_json::from_str(source).unwrap();
        used.extend(source["indexRefName"].as_str().map(String::from));
        for (i, f) in source["filter"].as_array().unwrap().iter().enumerate() {
            used.push(filter_name(
                f,
                &format!("kibanaSavedObjectMeta.searchSourceJSON.filter[{i}].meta.index"),
            ));
        }
    }
    if o["type"] == "lens" {
        for layer in a["state"]["datasourceStates"]["formBased"]["layers"].as_object().unwrap().keys() {
            used.push(format!("indexpattern-datasource-layer-{layer}"));
        }
        used.extend(a["state"]["filters"].as_array().unwrap().iter().map(|f| filter_name(f, "")));
    }
    if let Some(panels) = a["panelsJSON"].as_str() {
        let panels: Vec<Value> = serde_json::from_str(panels).unwrap();
        assert_eq!(panels.len(), o["references"].as_array().unwrap().len(), "one reference per panel");
        for (i, p) in panels.iter().enumerate() {
            let (index, name) = (p["panelIndex"].as_str().unwrap(), p["panelRefName"].as_str().unwrap());
            match flavor {
                // Kibana 8: `panel_N` in the panel, `N:panel_N` in the references, N its panelIndex.
                Flavor::Elasticsearch => {
                    assert_eq!(name, format!("panel_{index}"));
                    used.push(format!("{index}:{name}"));
                }
                // OpenSearch Dashboards: `panel_I`, I its position from 0; the type is the reference's.
                Flavor::OpenSearch => {
                    assert_eq!(name, format!("panel_{i}"));
                    assert!(p.get("type").is_none() && p.get("id").is_none(), "{p}");
                    used.push(name.into());
                }
            }
        }
    }
    used
}

#[test]
fn every_field_used_is_aggregatable_in_the_template() {
    const AGGREGATABLE: [&str; 9] =
        ["keyword", "date", "ip", "boolean", "long", "integer", "short", "double", "float"];
    let findings_types = findings_field_types();
    for (file, flavor) in FILES {
        let types: HashMap<String, String> = field_types(flavor).into_iter().collect();
        let objects = objects(file);
        let mut fields: Vec<(String, String)> = Vec::new();
        for chart in charts(&objects) {
            if chart.view == FINDINGS_VIEW {
                for field in chart.levels.iter().map(|l| l.field()) {
                    let ty = findings_types.get(field);
                    let ty = ty.unwrap_or_else(|| {
                        panic!("{file}: {}: {field} is not a finding's field", chart.title)
                    });
                    assert!(AGGREGATABLE.contains(&ty.as_str()), "{file}: {}: {field} is {ty}", chart.title);
                }
                continue;
            }
            fields.extend(chart.levels.iter().map(|l| (chart.title.clone(), l.field().to_string())));
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

/// The findings' template (`mappings/findings-template.json`): field paths and their types.
fn findings_field_types() -> HashMap<String, String> {
    fn walk(prefix: &str, props: &Value, out: &mut HashMap<String, String>) {
        for (name, def) in props.as_object().into_iter().flatten() {
            let path = if prefix.is_empty() { name.clone() } else { format!("{prefix}.{name}") };
            if let Some(t) = def["type"].as_str() {
                out.insert(path.clone(), t.to_string());
            }
            walk(&path, &def["properties"], out);
        }
    }
    let text = std::fs::read_to_string(repo("mappings/findings-template.json")).unwrap();
    let template: Value = serde_json::from_str(&text).unwrap();
    let mut out = HashMap::new();
    walk("", &template["template"]["mappings"]["properties"], &mut out);
    out
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
fn every_chart_of_events_carries_the_one_console_rule() {
    let rule = console_filter();
    for (file, _) in FILES {
        let charts = charts(&objects(file));
        let events: Vec<_> = charts.iter().filter(|c| c.view == EVENTS_VIEW).collect();
        assert_eq!(events.len(), 5, "{file}");
        for chart in events {
            assert_eq!(chart.filters, vec![rule.clone()], "{file}: {}", chart.title);
            assert!(chart.title.to_lowercase().contains("console operations"), "{file}: {}", chart.title);
        }
    }
}

/// The findings (`--rules`) have their panels on the dashboard, on their own data view, by
/// `rule.level` and by `rule.title` with its `rule.level`, and no console rule (a finding is not
/// an operation).
#[test]
fn the_dashboard_charts_the_findings_by_rule_and_level() {
    for (file, _) in FILES {
        let objects = objects(file);
        let dash = objects.iter().find(|o| o["type"] == "dashboard").unwrap();
        let on_dashboard: Vec<&Value> =
            dash["references"].as_array().unwrap().iter().map(|r| &r["id"]).collect();
        let findings: Vec<panels::Chart> = objects
            .iter()
            .filter(|o| on_dashboard.contains(&&o["id"]))
            .filter_map(panels::chart)
            .filter(|c| c.view == FINDINGS_VIEW)
            .collect();
        let levels: Vec<Vec<&str>> =
            findings.iter().map(|c| c.levels.iter().map(|l| l.field()).collect()).collect();
        assert_eq!(levels, [vec!["rule.level"], vec!["rule.title", "rule.level"]], "{file}");
        for chart in &findings {
            assert!(chart.filters.is_empty() && chart.query.is_none(), "{file}: {}", chart.title);
            assert!(chart.title.contains("findings"), "{file}: {}", chart.title);
        }
    }
}

fn imports_once(cluster: &Cluster, app: &str, objects: usize) {
    let kibana = fake_kibana();
    let p = prefix("kibana");
    let dir = tempfile::tempdir().unwrap();
    let args = ["setup", "--es", &cluster.url, "--index-prefix", &p, "--kibana", &kibana.url];
    // No data yet: the dashboard opens on the last 7 days.
    let what = format!("{app} saved objects ({objects} objects, time range now-7d to now) at {}", kibana.url);
    let first = run_in(dir.path(), &args, &[]);
    first.expect_code(0);
    assert!(first.stdout.contains(&format!("{what}: created")), "missing {what:?} in\n{}", first.stdout);
    let second = run_in(dir.path(), &args, &[]);
    second.expect_code(0);
    assert!(second.stdout.contains(&format!("{what}: unchanged")), "{}", second.stdout);
    assert!(second.stdout.contains("nothing to change"), "{}", second.stdout);
    assert_eq!(kibana.objects().len(), objects);
    let seen = kibana.seen.lock().unwrap();
    let lines: Vec<&str> = seen.iter().map(|s| s.line.as_str()).collect();
    assert_eq!(
        lines,
        [
            "POST /api/saved_objects/_export HTTP/1.1",
            "POST /api/saved_objects/_import?overwrite=true HTTP/1.1",
            "POST /api/saved_objects/_export HTTP/1.1",
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

#[cfg(feature = "servers")]
#[test]
fn setup_imports_into_kibana_once() {
    imports_once(&Cluster::es(), "Kibana", 11);
}

#[cfg(feature = "servers")]
#[test]
fn setup_imports_into_opensearch_dashboards_once() {
    imports_once(&Cluster::os(), "OpenSearch Dashboards", 11);
}
