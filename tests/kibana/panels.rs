//! Every panel of the dashboard shows what it says, on the real clusters with the corpus
//! backfilled: `setup --kibana` imports the objects for the test's prefix into the stand-in
//! Kibana, and for each panel the dashboard references, the request the app would send is built
//! from the stored objects themselves (the data view's pattern, the dashboard's time range, the
//! panel's query, filters, fields, sizes, missing and other buckets, shard size) and run; the
//! answer must equal counts computed here from the corpus files, with the console rule written
//! again from its definition. Two things the apps choose at display time are fixed here: the
//! date histogram's interval ("auto": one month) and the time zone (UTC).
//!
//! A daily index of another prefix (`P-prod-…`) holding one console sign-in lies beside the
//! corpus: a data view that saw it would count one more. The aggregated events of
//! `tests/corpus/kinds/` (5-minute summaries of data events, in the dashboard's range) are
//! backfilled too: the charts count API calls, so their numbers must not move.
//!
//! The corpus is backfilled with `--rules builtin`: the findings panels, on the findings' data
//! view, must count the findings that a `backfill --rules builtin --output FILE` of the same files
//! writes (351 from 26 rules, so the rule table has an "Other").
// The tests that need a server (and what only they use) exist with the feature `servers`.
#![cfg_attr(not(feature = "servers"), allow(dead_code, unused_imports))]

use super::{console_filter, inner, FINDINGS_VIEW};
use crate::util::fake_kibana::fake_kibana;
use crate::util::{corpus, events, prefix, run_in, Cluster};
use chrono::{DateTime, Days, Utc};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// One bucket level of a chart, outermost first.
#[derive(Debug)]
pub enum Level {
    Terms { field: String, size: usize, missing: bool, other: bool, shard_size: Option<u64> },
    Dates { field: String },
}

impl Level {
    pub fn field(&self) -> &str {
        match self {
            Level::Terms { field, .. } | Level::Dates { field } => field,
        }
    }
}

/// What a chart asks of the cluster.
#[derive(Debug)]
pub struct Chart {
    pub title: String,
    /// The id of the data view it reads.
    pub view: String,
    pub levels: Vec<Level>,
    /// The filter pills' query DSL.
    pub filters: Vec<Value>,
    /// The query bar as DSL, if not empty.
    pub query: Option<Value>,
}

/// A Lens chart or legacy visualization as the request it makes; `None` for other objects.
pub fn chart(o: &Value) -> Option<Chart> {
    let a = &o["attributes"];
    let title = a["title"].as_str().unwrap().to_string();
    // The data view its data comes from: Lens's layer, a visualization's search source.
    let source = ["indexpattern-datasource-layer-layer1", "kibanaSavedObjectMeta.searchSourceJSON.index"];
    let view = o["references"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| source.contains(&r["name"].as_str().unwrap()))
        .map(|r| r["id"].as_str().unwrap().to_string());
    let (levels, filters, query) = match o["type"].as_str().unwrap() {
        "lens" => {
            let layers = a["state"]["datasourceStates"]["formBased"]["layers"].as_object().unwrap();
            assert_eq!(layers.len(), 1, "{title}");
            let layer = layers.values().next().unwrap();
            let mut levels = Vec::new();
            for id in layer["columnOrder"].as_array().unwrap() {
                let c = &layer["columns"][id.as_str().unwrap()];
                let (field, params) = (c["sourceField"].as_str().unwrap().to_string(), &c["params"]);
                match c["operationType"].as_str().unwrap() {
                    "terms" => {
                        let size = params["size"].as_u64().unwrap();
                        assert_eq!(params["orderBy"]["type"], "column", "{title}: ranked by count");
                        levels.push(Level::Terms {
                            field,
                            size: size as usize,
                            // Lens asks for a missing bucket only together with "Other".
                            missing: params["otherBucket"] == true && params["missingBucket"] == true,
                            other: params["otherBucket"] == true,
                            // Lens's accuracy mode: max(1000, size × 1.5 + 10).
                            shard_size: (params["accuracyMode"] == true).then(|| 1000.max(size * 3 / 2 + 10)),
                        })
                    }
                    "date_histogram" => levels.push(Level::Dates { field }),
                    "count" => assert_eq!(field, "___records___"),
                    other => panic!("{title}: unexpected operation {other}"),
                }
            }
            (levels, pills(&a["state"]["filters"]), query_dsl(&a["state"]["query"]))
        }
        "visualization" => {
            let vis = inner(&a["visState"]);
            let mut levels = Vec::new();
            for agg in vis["aggs"].as_array().unwrap() {
                let (params, field) = (&agg["params"], agg["params"]["field"].as_str().map(String::from));
                match agg["type"].as_str().unwrap() {
                    "terms" => {
                        assert_eq!(params["orderBy"], "1", "{title}: ranked by the count metric");
                        let json: Value =
                            params["json"].as_str().map_or(json!({}), |j| serde_json::from_str(j).unwrap());
                        levels.push(Level::Terms {
                            field: field.unwrap(),
                            size: params["size"].as_u64().unwrap() as usize,
                            missing: params["missingBucket"] == true,
                            other: params["otherBucket"] == true,
                            shard_size: json["shard_size"].as_u64(),
                        })
                    }
                    "date_histogram" => levels.push(Level::Dates { field: field.unwrap() }),
                    "count" => {}
                    other => panic!("{title}: unexpected aggregation {other}"),
                }
            }
            let source = inner(&a["kibanaSavedObjectMeta"]["searchSourceJSON"]);
            (levels, pills(&source["filter"]), query_dsl(&source["query"]))
        }
        _ => return None,
    };
    let view = view.unwrap_or_else(|| panic!("{title}: no data view"));
    Some(Chart { title, view, levels, filters, query })
}

/// The query DSL of enabled filter pills.
fn pills(filters: &Value) -> Vec<Value> {
    let filters = filters.as_array().unwrap();
    assert!(filters.iter().all(|f| f["meta"]["disabled"] == false && f["meta"]["negate"] == false));
    filters.iter().map(|f| f["query"].clone()).collect()
}

/// A query bar as the apps send it: Lucene as `query_string` (with their default
/// `analyze_wildcard`); an empty query is none. KQL cannot be translated here.
fn query_dsl(query: &Value) -> Option<Value> {
    let text = query["query"].as_str().unwrap();
    match query["language"].as_str().unwrap() {
        _ if text.is_empty() => None,
        "lucene" => Some(json!({"query_string": {"query": text, "analyze_wildcard": true}})),
        other => panic!("a {other} query cannot be run by this test: {text}"),
    }
}

/// The console rule, written again from its definition (not from console-query.json).
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

/// A console sign-in, as the saved search means it.
fn is_sign_in(e: &Value) -> bool {
    e["eventType"] == "AwsConsoleSignIn" || e["eventName"] == "ConsoleLogin"
}

/// The string at a dotted path; absent and `null` are missing.
fn value_at<'a>(e: &'a Value, path: &str) -> Option<&'a str> {
    let v = path.split('.').try_fold(e, |v, k| v.get(k)).filter(|v| !v.is_null())?;
    Some(v.as_str().unwrap_or_else(|| panic!("{path} is not a string: {v}")))
}

/// The document's `@timestamp`: the event's own, else its `eventTime`, else (an aggregated event)
/// the start of its window.
fn time_of(e: &Value) -> DateTime<Utc> {
    let text = e["@timestamp"]
        .as_str()
        .or(e["eventTime"].as_str())
        .or(e["timeWindow"]["windowStart"].as_str())
        .unwrap();
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

fn absolute(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|_| panic!("{text}: the corpus is older than a week, the range should be absolute"))
        .with_timezone(&Utc)
}

/// The aggregation for `levels`, each level nested under the name "1" of the one above.
fn request(levels: &[Level]) -> Value {
    let mut agg = match &levels[0] {
        Level::Terms { field, size, missing, shard_size, .. } => {
            let mut terms = json!({"field": field, "size": size, "order": {"_count": "desc"}});
            if *missing {
                terms["missing"] = json!("__missing__");
            }
            if let Some(n) = shard_size {
                terms["shard_size"] = json!(n);
            }
            json!({ "terms": terms })
        }
        Level::Dates { field } => {
            json!({"date_histogram": {"field": field, "calendar_interval": "1M", "min_doc_count": 1}})
        }
    };
    if levels.len() > 1 {
        agg["aggs"] = json!({"1": request(&levels[1..])});
    }
    agg
}

/// Checks the buckets of `levels[0]` (and below) against `events`; the events they show.
fn compare(title: &str, levels: &[Level], answer: &Value, events: &[&Value]) -> usize {
    let mut groups: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for e in events {
        let key = match &levels[0] {
            Level::Terms { field, missing, .. } => match value_at(e, field) {
                Some(v) => v.to_string(),
                None if *missing => "__missing__".into(),
                None => continue,
            },
            Level::Dates { .. } => time_of(e).format("%Y-%m").to_string(),
        };
        groups.entry(key).or_default().push(e);
    }
    let mut expected: Vec<(String, usize)> = groups.iter().map(|(k, v)| (k.clone(), v.len())).collect();
    if let Level::Terms { size, .. } = &levels[0] {
        // The cluster's order: count, then key.
        expected.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        expected.truncate(*size);
    }
    let buckets = answer["buckets"].as_array().unwrap_or_else(|| panic!("{title}: {answer}"));
    let key = |b: &Value| match &levels[0] {
        Level::Terms { .. } => b["key"].as_str().unwrap().to_string(),
        Level::Dates { .. } => {
            DateTime::from_timestamp_millis(b["key"].as_i64().unwrap()).unwrap().format("%Y-%m").to_string()
        }
    };
    let got: Vec<(String, usize)> =
        buckets.iter().map(|b| (key(b), b["doc_count"].as_u64().unwrap() as usize)).collect();
    assert_eq!(got, expected, "{title}: {} buckets", levels[0].field());
    if levels.len() > 1 {
        for (b, (k, _)) in buckets.iter().zip(&got) {
            compare(title, &levels[1..], &b["1"], &groups[k]);
        }
    }
    got.iter().map(|(_, n)| n).sum()
}

/// Runs one chart; its total (shown buckets plus "Other"). `counted`: the documents it must count.
fn check_chart(cluster: &Cluster, pattern: &str, chart: &Chart, base: &[Value], counted: &[&Value]) -> usize {
    let mut filter = base.to_vec();
    filter.extend(chart.filters.iter().cloned());
    filter.extend(chart.query.clone());
    let body =
        json!({"size": 0, "query": {"bool": {"filter": filter}}, "aggs": {"1": request(&chart.levels)}});
    let answer = cluster.post(&format!("/{pattern}/_search"), &body.to_string());
    let in_buckets = compare(&chart.title, &chart.levels, &answer["aggregations"]["1"], counted);
    let Level::Terms { field, missing, other, .. } = &chart.levels[0] else { panic!("{}", chart.title) };
    assert!(other, "{}: an Other bucket", chart.title);
    // "Other" as the apps ask for it: what is not in the shown keys (nor missing, unless missing
    // values are shown and did not make the top).
    let keys: Vec<&str> = answer["aggregations"]["1"]["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["key"].as_str().unwrap())
        .collect();
    let mut other_filter = filter.clone();
    if !missing || keys.contains(&"__missing__") {
        other_filter.push(json!({"exists": {"field": field}}));
    }
    let named: Vec<&str> = keys.iter().copied().filter(|k| *k != "__missing__").collect();
    let other_query = json!({"size": 0, "track_total_hits": true, "query": {"bool": {
        "filter": other_filter, "must_not": [{"terms": {field.as_str(): named}}]}}});
    let answer = cluster.post(&format!("/{pattern}/_search"), &other_query.to_string());
    let in_other = answer["hits"]["total"]["value"].as_u64().unwrap() as usize;
    let with_value = counted.iter().filter(|e| *missing || value_at(e, field).is_some()).count();
    assert_eq!(in_other, with_value - in_buckets, "{}: Other", chart.title);
    let total = in_buckets + in_other;
    if *missing || with_value == counted.len() {
        assert_eq!(total, counted.len(), "{}: every console operation is counted once", chart.title);
    }
    println!("{}: {total} = {in_buckets} in the top {} + {in_other} other", chart.title, keys.len());
    total
}

/// Runs a saved search; the number of events it lists.
fn check_search(cluster: &Cluster, pattern: &str, search: &Value, base: &[Value], shown: &[&Value]) -> usize {
    let title = search["attributes"]["title"].as_str().unwrap();
    let source = inner(&search["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"]);
    let mut filter = base.to_vec();
    filter.extend(pills(&source["filter"]));
    filter.extend(query_dsl(&source["query"]));
    let body = json!({"size": 0, "track_total_hits": true, "query": {"bool": {"filter": filter}}});
    let answer = cluster.post(&format!("/{pattern}/_search"), &body.to_string());
    let hits = answer["hits"]["total"]["value"].as_u64().unwrap() as usize;
    let expected = shown.iter().filter(|e| is_sign_in(e)).count();
    assert_eq!(hits, expected, "{title}");
    println!("{title}: {hits}");
    hits
}

/// The findings `backfill --rules builtin` writes for `source`, read from its `--output` file.
fn findings_of(dir: &std::path::Path, source: &std::path::Path) -> Vec<Value> {
    let out = dir.join("findings.ndjson");
    let args =
        ["backfill", source.to_str().unwrap(), "--rules", "builtin", "--output", out.to_str().unwrap()];
    run_in(dir, &args, &[]).expect_code(0);
    let text = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let findings = lines.chunks(2).filter(|pair| {
        let index = pair[0].as_object().unwrap().values().next().unwrap()["_index"].as_str().unwrap();
        index.starts_with("cloudtrail-findings-")
    });
    findings.map(|pair| pair[1].clone()).collect()
}

fn panels_show_what_they_say(cluster: &Cluster) {
    let p = prefix("panels");
    let dir = tempfile::tempdir().unwrap();
    let real = corpus();
    run_in(dir.path(), &["setup", "--es", &cluster.url, "--index-prefix", &p], &[]).expect_code(0);
    let backfill = [
        "backfill",
        real.to_str().unwrap(),
        "--es",
        &cluster.url,
        "--index-prefix",
        &p,
        "--no-setup",
        "--rules",
        "builtin",
    ];
    run_in(dir.path(), &backfill, &[]).expect_code(0);
    let findings = findings_of(dir.path(), &real);
    let aggregated = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus/kinds/AWSLogs/111122223333/CloudTrail-Aggregated");
    let backfill =
        ["backfill", aggregated.to_str().unwrap(), "--es", &cluster.url, "--index-prefix", &p, "--no-setup"];
    run_in(dir.path(), &backfill, &[]).expect_code(0);
    let other = json!({"@timestamp": "2020-01-01T00:00:00Z", "eventName": "ConsoleLogin",
                       "eventType": "AwsConsoleSignIn", "userAgent": "Mozilla/5.0", "eventSource": "signin.amazonaws.com"});
    cluster.put(&format!("/{p}-prod-2020.01.01/_doc/other"), &other.to_string());
    let mut events = events(&real);
    events.extend(crate::util::events(&aggregated));
    assert_eq!(
        cluster.count(&p),
        events.len() as u64 + 1 + findings.len() as u64,
        "{p}-* holds the corpus, its findings and the other prefix's event"
    );
    assert_eq!(cluster.count(&format!("{p}-findings")), findings.len() as u64);

    let kibana = fake_kibana();
    let run = run_in(
        dir.path(),
        &["setup", "--es", &cluster.url, "--index-prefix", &p, "--kibana", &kibana.url],
        &[],
    );
    run.expect_code(0);
    let objects = kibana.objects();
    let find = |r: &Value| objects.iter().find(|o| o["type"] == r["type"] && o["id"] == r["id"]).unwrap();
    let view = objects.iter().find(|o| o["type"] == "index-pattern").unwrap();
    let pattern = view["attributes"]["title"].as_str().unwrap();
    let findings_view =
        objects.iter().find(|o| o["type"] == "index-pattern" && o["id"] != view["id"]).unwrap();
    let findings_pattern = findings_view["attributes"]["title"].as_str().unwrap();
    assert_eq!(findings_pattern, format!("{p}-findings-*"));
    let dash = objects.iter().find(|o| o["type"] == "dashboard").unwrap();

    // The stored range shows every event, and no more than their first and last days.
    let (from, to) =
        (dash["attributes"]["timeFrom"].as_str().unwrap(), dash["attributes"]["timeTo"].as_str().unwrap());
    let first = events.iter().map(time_of).min().unwrap();
    let last = events.iter().map(time_of).max().unwrap();
    assert!(absolute(from) <= first && first < absolute(from) + Days::new(1), "{from} for {first}");
    assert!(absolute(to) > last && absolute(to) <= last + Days::new(1), "{to} for {last}");
    assert!(run.stdout.contains(&format!("time range {from} to {to}")), "{}", run.stdout);
    let shown: Vec<&Value> =
        events.iter().filter(|e| (absolute(from)..=absolute(to)).contains(&time_of(e))).collect();
    assert_eq!(shown.len(), events.len());
    assert_eq!(shown.iter().filter(|e| e["eventCategory"] == "Aggregated").count(), 4, "summaries shown");
    assert_eq!(shown.iter().filter(|e| is_console(e)).count(), 7434, "the documented console count");

    let source = inner(&dash["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"]);
    let mut base = vec![
        json!({"range": {"@timestamp": {"gte": from, "lte": to, "format": "strict_date_optional_time"}}}),
    ];
    base.extend(pills(&source["filter"]));
    base.extend(query_dsl(&source["query"]));
    cluster.post(&format!("/{p}-*/_refresh"), "");
    let console: Vec<&Value> = shown.iter().copied().filter(|e| is_console(e)).collect();
    let findings: Vec<&Value> =
        findings.iter().filter(|f| (absolute(from)..=absolute(to)).contains(&time_of(f))).collect();
    assert_eq!(findings.len(), 351, "the corpus's findings, all in the range");
    let mut checked = Vec::new();
    for r in dash["references"].as_array().unwrap() {
        let o = find(r);
        let n = match chart(o) {
            Some(c) if c.view.ends_with("_findings-data-view") => {
                assert_eq!(c.view.replace(&p, "cloudtrail"), FINDINGS_VIEW);
                assert!(c.filters.is_empty(), "{}: no console rule on findings", c.title);
                check_chart(cluster, findings_pattern, &c, &base, &findings)
            }
            Some(c) => {
                assert_eq!(c.filters, vec![console_filter()], "{}: the console rule", c.title);
                check_chart(cluster, pattern, &c, &base, &console)
            }
            None => check_search(cluster, pattern, o, &base, &shown),
        };
        checked.push((o["attributes"]["title"].as_str().unwrap().to_string(), n));
    }
    assert_eq!(checked.len(), 8, "{checked:?}");
    // Both pies add up to every console operation; both findings panels to every finding.
    assert_eq!(checked[0].1, 7434, "{checked:?}");
    assert_eq!(checked[1].1, 7434, "{checked:?}");
    assert_eq!((checked[6].1, checked[7].1), (351, 351), "{checked:?}");
    cluster.clean(&p);
}

#[cfg(feature = "servers")]
#[test]
fn every_panel_shows_what_it_says_in_elasticsearch() {
    panels_show_what_they_say(&Cluster::es());
}

#[cfg(feature = "servers")]
#[test]
fn every_panel_shows_what_it_says_in_opensearch() {
    panels_show_what_they_say(&Cluster::os());
}
