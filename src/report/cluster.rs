//! The report from a cluster: the same numbers as from files, by aggregations on what `backfill`
//! or `follow` indexed in `PREFIX-YYYY.MM.DD`, plus one search for the launch rows (with
//! `--rules`, `findings.rs` reads the findings in `PREFIX-findings-*` the same way).
//!
//! Each count is a `filter` aggregation on its scope's query (`spec::scope_query`). Each table is
//! a `composite` aggregation on a search of its scope, paged through to the end ([`PAGE`] keys a
//! request, four tables at a time), whose buckets are
//! counted into the same [`Tally`] the files use: so the rows are chosen and ordered by the same
//! code, and the counts are exact (a `terms` aggregation's are not across indices, and
//! `multi_terms` needs X-Pack). Memory stays bounded by the tally; time grows with the number of
//! distinct keys (at most [`MAX_ROUNDS`] pages, beyond which a table is cut short and says so).
//! Distinct counts are the number of keys paged through.

use super::model::{self, Distinct, Launch, Report, Span, LAUNCH_ROWS};
use super::spec::{scope_query, Order, Scope, DISTINCT, F, RESOURCES, SCOPES, TABLES};
use super::tally::{key, Tally};
use crate::cluster::{ClientError, EsClient};
use bytes::Bytes;
use elasticsearch::http::Method;
use futures::StreamExt;
use serde_json::{json, Map, Value};

/// What to report on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    /// The indices are `PREFIX-YYYY.MM.DD`.
    pub prefix: String,
    /// Only console operations.
    pub console_only: bool,
    /// Only events on or after this UTC day (`YYYY-MM-DD`).
    pub start: Option<String>,
    /// Only events on or before this UTC day.
    pub end: Option<String>,
}

/// Keys per request.
pub const PAGE: usize = 10_000;
/// Requests per table at most: a table with more keys than `PAGE` × this (ten million) is cut
/// short, its counts then lower bounds (`error_bound` = `u64::MAX`).
pub const MAX_ROUNDS: usize = 1000;

/// Computes the report (without `about`) of the indexed events `query` selects.
pub async fn report(
    client: &EsClient,
    query: &Query,
    options: &super::Options,
) -> Result<Report, ClientError> {
    let console = crate::transform::console_query();
    let base = base_query(query, &console);
    let scope = |s: Scope| scope_query(s, options.with_reads, &options.launch_events, &console);
    // The daily indices, as the dashboards' data view names them (not those of a longer prefix).
    let path = format!("/{}-2*/_search?ignore_unavailable=true&allow_no_indices=true", query.prefix);
    let mut aggs = Map::new();
    aggs.insert("first".into(), json!({"min": {"field": "@timestamp"}}));
    aggs.insert("last".into(), json!({"max": {"field": "@timestamp"}}));
    for (s, name) in SCOPES.iter().filter(|(s, _)| *s != Scope::All) {
        aggs.insert(format!("count_{name}"), json!({"filter": scope(*s)}));
    }
    let body = json!({"size": 0, "track_total_hits": true, "query": base, "aggs": aggs});
    let answer = search(client, &path, &body).await?;
    let mut report = Report::default();
    totals(&answer["aggregations"], answer["hits"]["total"]["value"].as_u64().unwrap_or(0), &mut report);
    // One table at a time, its scope in the query: OpenSearch 2 ignores a `filter` aggregation
    // around a `composite` one (it counted every document).
    let tables = futures::stream::iter(TABLES.iter().enumerate())
        .map(|(i, spec)| {
            let query = json!({"bool": {"filter": [base.clone(), scope(spec.scope)]}});
            let path = &path;
            async move { table(client, path, i, query).await }
        })
        .buffered(4)
        .collect::<Vec<_>>()
        .await;
    let mut keys = Vec::new();
    for (spec, paged) in TABLES.iter().zip(tables) {
        let (table, n) = paged?;
        keys.push((spec.id, n, table.error_bound != u64::MAX));
        report.tables.insert(spec.id.to_string(), table);
    }
    for (name, _, table) in DISTINCT {
        if let Some((_, n, exact)) = keys.iter().find(|(id, _, _)| id == table) {
            report.distinct.insert(name.to_string(), Distinct { count: *n, exact: *exact });
        }
    }
    let launches = json!({
        "size": LAUNCH_ROWS,
        "query": {"bool": {"filter": [base, scope(Scope::Launch)]}},
        "sort": [{"@timestamp": {"order": "desc"}}],
        "_source": ["eventName", "userIdentity", "sourceIPAddress", "userAgent", "awsRegion", "recipientAccountId", "errorCode", "requestParameters", "responseElements"],
    });
    let answer = search(client, &path, &launches).await?;
    report.launches =
        answer["hits"]["hits"].as_array().map(|h| h.iter().map(launch).collect()).unwrap_or_default();
    Launch::sort(&mut report.launches);
    Ok(report)
}

/// Table `i`, paged through with `query`; and how many keys it has.
async fn table(
    client: &EsClient,
    path: &str,
    i: usize,
    query: Value,
) -> Result<(super::model::Table, u64), ClientError> {
    let spec = &TABLES[i];
    let (mut tally, mut keys, mut after) = (Tally::default(), 0u64, None);
    for _ in 0..MAX_ROUNDS {
        let body = json!({"size": 0, "query": query, "aggs": {"t": composite(i, &after)}});
        let answer = search(client, path, &body).await?;
        let t = &answer["aggregations"]["t"];
        let buckets = t["buckets"].as_array().map(Vec::as_slice).unwrap_or_default();
        for b in buckets {
            let (key, n, first) = bucket(i, b);
            tally.add_n(&key, n, first);
            keys += 1;
        }
        if buckets.len() < PAGE || t["after_key"].is_null() {
            return Ok((tally.table(spec.rows, spec.order), keys));
        }
        after = Some(t["after_key"].clone());
    }
    // Cut short: the counts seen are lower bounds of unknown error.
    let mut table = tally.table(spec.rows, spec.order);
    table.error_bound = u64::MAX;
    Ok((table, keys))
}

/// The event count, span and scope counts of the first answer.
fn totals(aggs: &Value, events: u64, report: &mut Report) {
    report.events = events;
    if let (Some(first), Some(last)) = (aggs["first"]["value"].as_f64(), aggs["last"]["value"].as_f64()) {
        report.span = Some(Span { first: model::time_text(secs(first)), last: model::time_text(secs(last)) });
    }
    for (scope, name) in SCOPES {
        let n = match scope {
            Scope::All => events,
            _ => aggs[format!("count_{name}")]["doc_count"].as_u64().unwrap_or(0),
        };
        report.counts.insert(name.to_string(), n);
    }
}

/// Milliseconds (as aggregations give them) to whole seconds.
fn secs(millis: f64) -> i64 {
    (millis / 1000.0).floor() as i64
}

/// Table `i`'s composite aggregation, from `after`.
fn composite(i: usize, after: &Option<Value>) -> Value {
    let spec = &TABLES[i];
    let sources: Vec<Value> = spec
        .dims
        .iter()
        .enumerate()
        .map(|(j, f): (usize, &F)| {
            json!({format!("d{j}"): {"terms": {"field": f.name(), "missing_bucket": spec.missing.is_some()}}})
        })
        .collect();
    let mut agg = json!({"composite": {"size": PAGE, "sources": sources}});
    if let Some(after) = after {
        agg["composite"]["after"] = after.clone();
    }
    if spec.order == Order::FirstSeen {
        agg["aggs"] = json!({"first": {"min": {"field": "@timestamp"}}});
    }
    agg
}

/// A composite bucket of table `i`: its tally key, count and first time.
fn bucket(i: usize, b: &Value) -> (String, u64, i64) {
    let spec = &TABLES[i];
    let parts: Vec<String> = (0..spec.dims.len())
        .map(|j| match &b["key"][format!("d{j}")] {
            Value::Null => spec.missing.unwrap_or_default().to_string(),
            v => text(v),
        })
        .collect();
    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
    let mut k = String::new();
    key(&refs, &mut k);
    let first = b["first"]["value"].as_f64().map_or(0, secs);
    (k, b["doc_count"].as_u64().unwrap_or(0), first)
}

/// One search; its answer, or the cluster's refusal.
pub(super) async fn search(client: &EsClient, path: &str, body: &Value) -> Result<Value, ClientError> {
    let bytes = Bytes::from(body.to_string());
    let reply = client.send(Method::Post, path, Some((bytes, "application/json"))).await?;
    if reply.status != 200 {
        return Err(client.unexpected("the report's search", reply.status, &reply));
    }
    serde_json::from_slice(&reply.body)
        .map_err(|_| client.unexpected("the report's search", reply.status, &reply))
}

/// The events the report is about: every indexed one, or those the flags select.
pub(super) fn base_query(query: &Query, console: &Value) -> Value {
    let mut filter = Vec::new();
    if query.console_only {
        filter.push(console.clone());
    }
    let mut range = Map::new();
    if let Some(start) = &query.start {
        range.insert("gte".into(), json!(format!("{start}T00:00:00Z")));
    }
    if let Some(end) = &query.end {
        range.insert("lte".into(), json!(format!("{end}T23:59:59.999Z")));
    }
    if !range.is_empty() {
        filter.push(json!({"range": {"@timestamp": range}}));
    }
    json!({"bool": {"filter": filter}})
}

/// A value as the report shows it: a string's text, other scalars' JSON text, else empty.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null | Value::Object(_) | Value::Array(_) => String::new(),
        other => other.to_string(),
    }
}

/// A field of a `_source`, nested or written with a dotted key; `*` is an array's first element
/// that has the rest.
fn field<'a>(source: &'a Value, path: &str) -> &'a Value {
    if let Some(v) = source.get(path) {
        return v;
    }
    match path.split_once('.') {
        Some(("*", rest)) => source
            .as_array()
            .and_then(|items| items.iter().map(|i| field(i, rest)).find(|v| !v.is_null()))
            .unwrap_or(&Value::Null),
        Some((head, rest)) => field(&source[head], rest),
        None => &Value::Null,
    }
}

/// One launch row from a hit (its time from the sort value, in milliseconds).
fn launch(hit: &Value) -> Launch {
    let source = &hit["_source"];
    let get = |f: F| text(field(source, f.name()));
    let millis = hit["sort"][0].as_i64().unwrap_or(0);
    Launch {
        time: model::time_text(millis.div_euclid(1000)),
        action: get(F::EventName),
        resource: RESOURCES
            .iter()
            .map(|r| text(field(source, r)))
            .find(|v| !v.is_empty())
            .unwrap_or_default(),
        principal: get(F::Arn),
        source_ip: get(F::SourceIp),
        user_agent: get(F::UserAgent),
        region: get(F::Region),
        account: get(F::Account),
        error: get(F::ErrorCode),
    }
}
