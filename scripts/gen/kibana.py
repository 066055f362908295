#!/usr/bin/env python3
"""Write the saved objects in kibana/ from the panel list below and mappings/console-query.json.

  kibana/kibana-8.ndjson                Kibana 8.8+ (and 9.x): two data views, Lens charts, a
                                        saved search, the dashboard
  kibana/opensearch-dashboards.ndjson   OpenSearch Dashboards (Kibana 7.10 shapes): two index
                                        patterns, legacy visualizations, a saved search, the dashboard

Both are for the default index prefix `cloudtrail` and import as they are (Stack Management →
Saved objects → Import); `cloudtrail-es setup --kibana URL` imports them for any prefix by
rewriting the ids (`cloudtrail-es_<prefix>_<name>`), the data views' patterns and the dashboard's
time range (from the data it finds).

Shapes follow what current exports write, so that the apps never have to guess:
- the console filter names its data view through a reference (Kibana 8.1+: `meta.index` holds the
  reference's name; OpenSearch Dashboards: `meta.indexRefName`), so that
  `courier:ignoreFilterIfFieldNotInIndex` keeps it;
- dashboard panel references are `N:panel_N` (Kibana 8) and `panel_I` from 0 (OpenSearch
  Dashboards, whose panels carry no type);
- the data view is `cloudtrail-2*`: the daily indices `cloudtrail-YYYY.MM.DD` (the name goes on
  with the year), not another prefix's (`cloudtrail-prod-YYYY.MM.DD`) nor the findings
  (`cloudtrail-findings-YYYY.MM.DD`); one wildcard and no exclusion, because the apps list its
  fields with `_field_caps?allow_no_indices=false`, which answers 404 when any wildcard of the
  pattern, an exclusion's too, matches nothing (src/setup/kibana.rs, `index_pattern`);
- the findings (`--rules`) have a data view of their own, `cloudtrail-findings-*` (the documents
  of src/detect/finding.rs, mapped by mappings/findings-template.json), and two panels on it: by
  rule.level and by rule (rule.title with its rule.level). Until a run with `--rules` has written
  a finding, that pattern matches no index and those two panels say so.

Every chart of events is scoped to console operations by the one console rule, mappings/console-query.json
(the same rule as --console-only, tested against it); this script copies it into every chart.
Charts on a field some events lack show those events as a "missing" slice, so every chart of
console operations adds up to the same total. After changing the rule or the panels, run

  scripts/gen/kibana.py            # rewrite both files
  scripts/gen/kibana.py --check    # exit 1 if the files are not what this script writes (tests run this)

Python 3 standard library only; the output is deterministic.
"""
import argparse
import json
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
KIBANA = ROOT / "kibana"
PREFIX = "cloudtrail"
PATTERN = f"{PREFIX}-2*"
FINDINGS_PATTERN = f"{PREFIX}-findings-*"
DASHBOARD_TITLE = "CloudTrail — console activity"
DUMPS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def oid(name):
    return f"cloudtrail-es_{PREFIX}_{name}"


DATA_VIEW = oid("data-view")
FINDINGS_VIEW = oid("findings-data-view")
CONSOLE = json.loads((KIBANA.parent / "mappings" / "console-query.json").read_text())
CONSOLE_LABEL = "console operations (mappings/console-query.json)"
SIGN_INS = "eventType:AwsConsoleSignIn OR eventName:ConsoleLogin"
# Lens's accuracy mode: shard_size max(1000, 1.5 × size + 10) instead of 1.5 × size + 10, so that
# counts over many daily indices are exact; the legacy visualizations say the same in JSON input.
SHARD_SIZE = 1000

# The dashboard: (id, title, kind, details, grid x, y, w, h). Kinds: pie (terms on a field), time
# (count over time split by a field), bars (top terms), table (top terms, then the top terms of
# `then` within each), search (a saved search). Every chart of events carries the console filter;
# `missing` names the slice of events without the field. `"findings": True`: a chart of the
# findings (their data view, no console filter: a finding is not an operation).
PANELS = [
    ("console-by-event-name", "Console operations by eventName", "pie",
     {"field": "eventName", "size": 10}, 0, 0, 24, 15),
    ("console-by-user", "Console operations by user (userIdentity.arn)", "pie",
     {"field": "userIdentity.arn", "size": 10, "missing": "(no userIdentity.arn)"}, 24, 0, 24, 15),
    ("events-over-time", "Console operations over time by eventSource", "time",
     {"field": "eventSource", "size": 10}, 0, 15, 48, 15),
    ("top-error-codes", "Top error codes of console operations", "bars",
     {"field": "errorCode", "size": 10}, 0, 30, 24, 15),
    ("top-source-ips", "Top source IPs of console operations", "table",
     {"field": "sourceIPAddress", "size": 10, "missing": "(no sourceIPAddress)"}, 24, 30, 24, 15),
    ("console-sign-ins", "Recent console sign-ins", "search",
     {"columns": ["eventName", "userIdentity.arn", "userIdentity.type", "sourceIPAddress", "awsRegion",
                  "recipientAccountName", "errorMessage", "userAgent"], "query": SIGN_INS}, 0, 45, 48, 15),
    ("findings-by-level", "Sigma findings by rule.level", "pie",
     {"field": "rule.level", "size": 5, "findings": True}, 0, 60, 16, 15),
    ("findings-by-rule", "Sigma findings by rule (rule.title, rule.level)", "table",
     {"field": "rule.title", "size": 20, "then": {"field": "rule.level", "size": 5}, "findings": True},
     16, 60, 32, 15),
]


def console_filter(**index):
    """A query-DSL filter pill holding the console rule; `index` names its data view reference."""
    meta = {"alias": CONSOLE_LABEL, "disabled": False, "negate": False, "key": "query", "type": "custom",
            "value": DUMPS(CONSOLE), **index}
    return {"$state": {"store": "appState"}, "meta": meta, "query": CONSOLE}


def view_ref(name, d=None):
    return {"type": "index-pattern", "id": FINDINGS_VIEW if (d or {}).get("findings") else DATA_VIEW, "name": name}


# ---------------------------------------------------------------------------------------------
# Kibana 8 (Lens)

def count_column():
    return {"label": "Count of records", "dataType": "number", "operationType": "count", "isBucketed": False,
            "scale": "ratio", "sourceField": "___records___", "params": {"emptyAsNull": True}}


def terms_column(d):
    field, size = d["field"], d["size"]
    return {"label": f"Top {size} values of {field}", "dataType": "string", "operationType": "terms",
            "isBucketed": True, "scale": "ordinal", "sourceField": field,
            "params": {"size": size, "orderBy": {"type": "column", "columnId": "count"}, "orderDirection": "desc",
                       "otherBucket": True, "missingBucket": "missing" in d, "accuracyMode": True,
                       "parentFormat": {"id": "terms"}}}


def lens(pid, title, kind, d):
    layer = "layer1"
    columns = {"count": count_column(), "group": terms_column(d)}
    order = ["group", "count"]
    if "then" in d:
        columns["then"] = terms_column(d["then"])
        order = ["group", "then", "count"]
    if kind == "time":
        columns["time"] = {"label": "@timestamp", "dataType": "date", "operationType": "date_histogram",
                           "isBucketed": True, "scale": "interval", "sourceField": "@timestamp",
                           "params": {"interval": "auto", "includeEmptyRows": True, "dropPartials": False}}
        order = ["group", "time", "count"]
    if kind == "pie":
        vis_type = "lnsPie"
        visualization = {"shape": "donut", "layers": [{
            "layerId": layer, "layerType": "data", "primaryGroups": ["group"], "metrics": ["count"],
            "numberDisplay": "percent", "categoryDisplay": "default", "legendDisplay": "default",
            "nestedLegend": False}]}
    elif kind == "table":
        vis_type = "lnsDatatable"
        visualization = {"layerId": layer, "layerType": "data", "columns": [{"columnId": c} for c in order]}
    else:
        vis_type = "lnsXY"
        series = "bar_stacked" if kind == "time" else "bar_horizontal"
        xy_layer = {"layerId": layer, "layerType": "data", "seriesType": series, "accessors": ["count"],
                    "xAccessor": "time" if kind == "time" else "group"}
        if kind == "time":
            xy_layer["splitAccessor"] = "group"
        visualization = {"legend": {"isVisible": kind == "time", "position": "right"}, "valueLabels": "hide",
                         "preferredSeriesType": series, "layers": [xy_layer]}
    references = [view_ref(f"indexpattern-datasource-layer-{layer}", d)]
    filters = []
    if not d.get("findings"):
        # As Kibana's filter extraction names it (a UUID), made deterministic.
        filter_ref = str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://cloudtrail-es/{pid}/filter/0"))
        filters.append(console_filter(index=filter_ref))
        references.append(view_ref(filter_ref))
    state = {"datasourceStates": {"formBased": {"layers": {layer: {
                 "columns": columns, "columnOrder": order, "incompleteColumns": {}}}}},
             "visualization": visualization, "query": {"query": "", "language": "kuery"},
             "filters": filters}
    return {"id": oid(pid), "type": "lens", "attributes": {"title": title, "description": "",
            "visualizationType": vis_type, "state": state},
            "references": references, "coreMigrationVersion": "8.8.0", "typeMigrationVersion": "8.6.0"}


SOURCE_INDEX = "kibanaSavedObjectMeta.searchSourceJSON.index"


def search_source(query, language, filters):
    return DUMPS({"query": {"query": query, "language": language}, "filter": filters, "indexRefName": SOURCE_INDEX})


def saved_search(pid, title, d, versions):
    attrs = {"title": title, "description": "", "columns": d["columns"], "sort": [["@timestamp", "desc"]],
             "kibanaSavedObjectMeta": {"searchSourceJSON": search_source(d["query"], "lucene", [])}}
    obj = {"id": oid(pid), "type": "search", "attributes": attrs, "references": [view_ref(SOURCE_INDEX)]}
    obj.update(versions)
    return obj


def dashboard(panels, references, versions):
    attrs = {"title": DASHBOARD_TITLE,
             "description": "Console operations (rule: mappings/console-query.json): what, who, when, errors, "
                            "source IPs and sign-ins, and the Sigma findings by rule and level (--rules), "
                            "from CloudTrail, by cloudtrail-es.",
             "timeRestore": True, "timeFrom": "now-7d", "timeTo": "now", "refreshInterval": {"pause": True, "value": 0},
             "optionsJSON": DUMPS({"useMargins": True, "hidePanelTitles": False}),
             "panelsJSON": DUMPS(panels),
             "kibanaSavedObjectMeta": {"searchSourceJSON": DUMPS({"query": {"query": "", "language": "kuery"}, "filter": []})}}
    obj = {"id": oid("dashboard"), "type": "dashboard", "attributes": attrs, "references": references}
    obj.update(versions)
    return obj


def grid(i, x, y, w, h):
    return {"gridData": {"x": x, "y": y, "w": w, "h": h, "i": str(i)}, "panelIndex": str(i), "embeddableConfig": {}}


def kibana8():
    # Migration versions as a Kibana 8.8 export writes them (index-pattern 8.0.0, dashboard 8.7.0), or
    # the last migration that defines the shape used (lens 8.6.0: formBased; search 7.9.3): Kibana
    # 8.8+ runs the later migrations on import and refuses versions newer than it knows.
    objects = [{"id": view, "type": "index-pattern",
                "attributes": {"title": pattern, "timeFieldName": "@timestamp", "name": name},
                "references": [], "coreMigrationVersion": "8.8.0", "typeMigrationVersion": "8.0.0"}
               for view, pattern, name in [
                   (DATA_VIEW, PATTERN, f"CloudTrail ({PREFIX}-YYYY.MM.DD)"),
                   (FINDINGS_VIEW, FINDINGS_PATTERN, f"CloudTrail findings ({PREFIX}-findings-YYYY.MM.DD)")]]
    panels, references = [], []
    for i, (pid, title, kind, d, *xywh) in enumerate(PANELS, 1):
        objects.append(saved_search(pid, title, d, {"coreMigrationVersion": "8.8.0", "typeMigrationVersion": "7.9.3"})
                       if kind == "search" else lens(pid, title, kind, d))
        kind_of = "search" if kind == "search" else "lens"
        panels.append({"version": "8.8.0", "type": kind_of, **grid(i, *xywh), "panelRefName": f"panel_{i}"})
        references.append({"name": f"{i}:panel_{i}", "type": kind_of, "id": oid(pid)})
    objects.append(dashboard(panels, references, {"coreMigrationVersion": "8.8.0", "typeMigrationVersion": "8.7.0"}))
    return objects


# ---------------------------------------------------------------------------------------------
# OpenSearch Dashboards (legacy visualizations, Kibana 7.10 shapes)

def terms_agg(agg_id, schema, d):
    return {"id": agg_id, "enabled": True, "type": "terms", "schema": schema,
            "params": {"field": d["field"], "orderBy": "1", "order": "desc", "size": d["size"], "otherBucket": True,
                       "otherBucketLabel": "Other", "missingBucket": "missing" in d,
                       "missingBucketLabel": d.get("missing", "Missing"), "json": DUMPS({"shard_size": SHARD_SIZE})}}


def visualization(pid, title, kind, d):
    count = {"id": "1", "enabled": True, "type": "count", "schema": "metric", "params": {}}
    if kind == "pie":
        params = {"type": "pie", "addTooltip": True, "addLegend": True, "legendPosition": "right", "isDonut": True,
                  "labels": {"show": False, "values": True, "last_level": True, "truncate": 100}}
        aggs = [count, terms_agg("2", "segment", d)]
    elif kind == "time":
        # The split series before the x-axis: the top eventSources overall, each drawn over time.
        params = {"type": "histogram", "addTooltip": True, "addLegend": True, "legendPosition": "right"}
        aggs = [count, terms_agg("2", "group", d),
                {"id": "3", "enabled": True, "type": "date_histogram", "schema": "segment",
                 "params": {"field": "@timestamp", "interval": "auto", "min_doc_count": 1, "extended_bounds": {}}}]
        kind = "histogram"
    elif kind == "bars":
        params = {"type": "horizontal_bar", "addTooltip": True, "addLegend": False, "legendPosition": "right"}
        aggs = [count, terms_agg("2", "segment", d)]
        kind = "horizontal_bar"
    else:
        params = {"perPage": 10, "showPartialRows": False, "showMetricsAtAllLevels": False, "showTotal": True,
                  "totalFunc": "sum"}
        aggs = [count, terms_agg("2", "bucket", d)]
        if "then" in d:
            aggs.append(terms_agg("3", "bucket", d["then"]))
    vis_state = {"title": title, "type": kind, "params": params, "aggs": aggs}
    references, filters = [view_ref(SOURCE_INDEX, d)], []
    if not d.get("findings"):
        filter_ref = "kibanaSavedObjectMeta.searchSourceJSON.filter[0].meta.index"
        filters.append(console_filter(indexRefName=filter_ref))
        references.append(view_ref(filter_ref))
    attrs = {"title": title, "description": "", "version": 1, "visState": DUMPS(vis_state), "uiStateJSON": "{}",
             "kibanaSavedObjectMeta": {"searchSourceJSON": search_source("", "kuery", filters)}}
    return {"id": oid(pid), "type": "visualization", "attributes": attrs, "references": references,
            "migrationVersion": {"visualization": "7.10.0"}}


def opensearch_dashboards():
    objects = [{"id": view, "type": "index-pattern", "attributes": {"title": pattern, "timeFieldName": "@timestamp"},
                "references": [], "migrationVersion": {"index-pattern": "7.6.0"}}
               for view, pattern in [(DATA_VIEW, PATTERN), (FINDINGS_VIEW, FINDINGS_PATTERN)]]
    panels, references = [], []
    for i, (pid, title, kind, d, *xywh) in enumerate(PANELS):
        objects.append(saved_search(pid, title, d, {"migrationVersion": {"search": "7.9.3"}})
                       if kind == "search" else visualization(pid, title, kind, d))
        panels.append({"version": "7.10.2", **grid(i + 1, *xywh), "panelRefName": f"panel_{i}"})
        references.append({"name": f"panel_{i}", "type": "search" if kind == "search" else "visualization",
                           "id": oid(pid)})
    objects.append(dashboard(panels, references, {"migrationVersion": {"dashboard": "7.9.3"}}))
    return objects


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--check", action="store_true", help="compare instead of writing; exit 1 on a difference")
    args = p.parse_args()
    stale = []
    for name, objects in [("kibana-8.ndjson", kibana8()), ("opensearch-dashboards.ndjson", opensearch_dashboards())]:
        text = "".join(DUMPS(o) + "\n" for o in objects)
        path = KIBANA / name
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path))
        else:
            path.write_text(text)
    if stale:
        print("out of date (run scripts/gen/kibana.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
