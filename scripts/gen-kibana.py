#!/usr/bin/env python3
"""Write the saved objects in kibana/ from the panel list below and mappings/console-query.json.

  kibana/kibana-8.ndjson                Kibana 8.8+ (and 9.x): data view, Lens charts, a saved
                                        search, the dashboard
  kibana/opensearch-dashboards.ndjson   OpenSearch Dashboards (Kibana 7.10 shapes): index pattern,
                                        legacy visualizations, a saved search, the dashboard

Both are for the default index prefix `cloudtrail` and import as they are (Stack Management →
Saved objects → Import); `cloudtrail-es setup --kibana URL` imports them for any prefix by
rewriting the ids (`cloudtrail-es_<prefix>_<name>`) and the data view's pattern.

The console rule ("is this event a console operation?") lives only in mappings/console-query.json (the same rule as --console-only, tested against it);
this script copies it into every console chart. After changing it, run

  scripts/gen-kibana.py            # rewrite both files
  scripts/gen-kibana.py --check    # exit 1 if the files are not what this script writes (tests run this)

Python 3 standard library only; the output is deterministic.
"""
import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KIBANA = ROOT / "kibana"
PREFIX = "cloudtrail"
DASHBOARD_TITLE = "CloudTrail — console activity"
DUMPS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def oid(name):
    return f"cloudtrail-es_{PREFIX}_{name}"


DATA_VIEW = oid("data-view")
CONSOLE = json.loads((KIBANA.parent / "mappings" / "console-query.json").read_text())
CONSOLE_LABEL = "console operations (mappings/console-query.json)"
SIGN_INS = "eventType:AwsConsoleSignIn or eventName:ConsoleLogin"

# The dashboard: (id, title, kind, details, grid x, y, w, h). Kinds: pie (terms on a field, console
# filter), time (count over time split by a field), bars (top terms), table (top terms), search.
PANELS = [
    ("console-by-event-name", "Console operations by eventName", "pie",
     {"field": "eventName", "size": 10, "console": True}, 0, 0, 24, 15),
    ("console-by-user", "Console operations by user", "pie",
     {"field": "userIdentity.arn", "size": 10, "console": True}, 24, 0, 24, 15),
    ("events-over-time", "Events over time by eventSource", "time",
     {"field": "eventSource", "size": 10}, 0, 15, 48, 15),
    ("top-error-codes", "Top error codes", "bars", {"field": "errorCode", "size": 10}, 0, 30, 24, 15),
    ("top-source-ips", "Top source IPs", "table", {"field": "sourceIPAddress", "size": 10}, 24, 30, 24, 15),
    ("console-sign-ins", "Recent console sign-ins", "search",
     {"columns": ["eventName", "userIdentity.arn", "userIdentity.type", "sourceIPAddress", "awsRegion",
                  "errorMessage", "userAgent"], "query": SIGN_INS}, 0, 45, 48, 15),
]


def custom_filter(index_ref=None):
    """A query-DSL filter pill holding the console rule."""
    meta = {"alias": CONSOLE_LABEL, "disabled": False, "negate": False, "key": "query", "type": "custom",
            "value": DUMPS(CONSOLE)}
    if index_ref:
        meta["indexRefName"] = index_ref
    return {"$state": {"store": "appState"}, "meta": meta, "query": CONSOLE}


# ---------------------------------------------------------------------------------------------
# Kibana 8 (Lens)

def count_column():
    return {"label": "Count of records", "dataType": "number", "operationType": "count", "isBucketed": False,
            "scale": "ratio", "sourceField": "___records___", "params": {"emptyAsNull": True}}


def terms_column(field, size):
    return {"label": f"Top {size} values of {field}", "dataType": "ip" if field.endswith(".ip") else "string",
            "operationType": "terms", "isBucketed": True, "scale": "ordinal", "sourceField": field,
            "params": {"size": size, "orderBy": {"type": "column", "columnId": "count"}, "orderDirection": "desc",
                       "otherBucket": True, "missingBucket": False, "parentFormat": {"id": "terms"}}}


def lens(pid, title, kind, d):
    layer = "layer1"
    columns, order = {"count": count_column()}, []
    if kind == "time":
        columns["split"] = terms_column(d["field"], d["size"])
        columns["time"] = {"label": "@timestamp", "dataType": "date", "operationType": "date_histogram",
                           "isBucketed": True, "scale": "interval", "sourceField": "@timestamp",
                           "params": {"interval": "auto", "includeEmptyRows": True, "dropPartials": False}}
        order = ["split", "time", "count"]
    else:
        columns["group"] = terms_column(d["field"], d["size"])
        order = ["group", "count"]
    if kind == "pie":
        vis_type = "lnsPie"
        visualization = {"shape": "donut", "layers": [{
            "layerId": layer, "layerType": "data", "primaryGroups": ["group"], "metrics": ["count"],
            "numberDisplay": "percent", "categoryDisplay": "default", "legendDisplay": "default",
            "nestedLegend": False}]}
    elif kind == "table":
        vis_type = "lnsDatatable"
        visualization = {"layerId": layer, "layerType": "data", "columns": [{"columnId": "group"}, {"columnId": "count"}]}
    else:
        vis_type = "lnsXY"
        series = "bar_stacked" if kind == "time" else "bar_horizontal"
        xy_layer = {"layerId": layer, "layerType": "data", "seriesType": series, "accessors": ["count"],
                    "xAccessor": "time" if kind == "time" else "group"}
        if kind == "time":
            xy_layer["splitAccessor"] = "split"
        visualization = {"legend": {"isVisible": kind == "time", "position": "right"}, "valueLabels": "hide",
                         "preferredSeriesType": series, "layers": [xy_layer]}
    references = [{"type": "index-pattern", "id": DATA_VIEW, "name": f"indexpattern-datasource-layer-{layer}"}]
    filters = []
    if d.get("console"):
        filters.append(custom_filter("filter-index-pattern-0"))
        references.append({"type": "index-pattern", "id": DATA_VIEW, "name": "filter-index-pattern-0"})
    state = {"datasourceStates": {"formBased": {"layers": {layer: {
                 "columns": columns, "columnOrder": order, "incompleteColumns": {}}}}},
             "visualization": visualization, "query": {"query": "", "language": "kuery"}, "filters": filters}
    return {"id": oid(pid), "type": "lens", "attributes": {"title": title, "description": "",
            "visualizationType": vis_type, "state": state}, "references": references,
            "coreMigrationVersion": "8.8.0", "typeMigrationVersion": "8.6.0"}


def search_source(query, filters, index_ref="kibanaSavedObjectMeta.searchSourceJSON.index"):
    return DUMPS({"query": {"query": query, "language": "kuery"}, "filter": filters, "indexRefName": index_ref})


def saved_search(pid, title, d, versions):
    attrs = {"title": title, "description": "", "columns": d["columns"], "sort": [["@timestamp", "desc"]],
             "kibanaSavedObjectMeta": {"searchSourceJSON": search_source(d["query"], [])}}
    obj = {"id": oid(pid), "type": "search", "attributes": attrs,
           "references": [{"type": "index-pattern", "id": DATA_VIEW,
                           "name": "kibanaSavedObjectMeta.searchSourceJSON.index"}]}
    obj.update(versions)
    return obj


def dashboard(panel_type_of, panel_version, versions):
    panels, references = [], []
    for i, (pid, _title, kind, _d, x, y, w, h) in enumerate(PANELS, 1):
        index = str(i)
        panels.append({"version": panel_version, "type": panel_type_of(kind),
                       "gridData": {"x": x, "y": y, "w": w, "h": h, "i": index}, "panelIndex": index,
                       "embeddableConfig": {}, "panelRefName": f"panel_{index}"})
        references.append({"name": f"panel_{index}", "type": panel_type_of(kind), "id": oid(pid)})
    attrs = {"title": DASHBOARD_TITLE,
             "description": "Console operations (rule: mappings/console-query.json), activity, errors and "
                            "sign-ins from CloudTrail, by cloudtrail-es.",
             "timeRestore": True, "timeFrom": "now-7d", "timeTo": "now", "refreshInterval": {"pause": True, "value": 0},
             "optionsJSON": DUMPS({"useMargins": True, "hidePanelTitles": False}),
             "panelsJSON": DUMPS(panels),
             "kibanaSavedObjectMeta": {"searchSourceJSON": DUMPS({"query": {"query": "", "language": "kuery"}, "filter": []})}}
    obj = {"id": oid("dashboard"), "type": "dashboard", "attributes": attrs, "references": references}
    obj.update(versions)
    return obj


def kibana8():
    # Migration versions as a Kibana 8.8 export writes them (index-pattern 8.0.0, dashboard 8.7.0), or
    # the last migration that defines the shape used (lens 8.6.0: formBased; search 7.9.3): Kibana
    # 8.8+ runs the later migrations on import and refuses versions newer than it knows.
    objects = [{"id": DATA_VIEW, "type": "index-pattern",
                "attributes": {"title": f"{PREFIX}-*", "timeFieldName": "@timestamp", "name": f"CloudTrail ({PREFIX}-*)"},
                "references": [], "coreMigrationVersion": "8.8.0", "typeMigrationVersion": "8.0.0"}]
    for pid, title, kind, d, *_ in PANELS:
        if kind == "search":
            objects.append(saved_search(pid, title, d, {"coreMigrationVersion": "8.8.0", "typeMigrationVersion": "7.9.3"}))
        else:
            objects.append(lens(pid, title, kind, d))
    objects.append(dashboard(lambda k: "search" if k == "search" else "lens", "8.8.0",
                             {"coreMigrationVersion": "8.8.0", "typeMigrationVersion": "8.7.0"}))
    return objects


# ---------------------------------------------------------------------------------------------
# OpenSearch Dashboards (legacy visualizations, Kibana 7.10 shapes)

def terms_agg(agg_id, schema, field, size):
    return {"id": agg_id, "enabled": True, "type": "terms", "schema": schema,
            "params": {"field": field, "orderBy": "1", "order": "desc", "size": size, "otherBucket": True,
                       "otherBucketLabel": "Other", "missingBucket": False, "missingBucketLabel": "Missing"}}


def visualization(pid, title, kind, d):
    count = {"id": "1", "enabled": True, "type": "count", "schema": "metric", "params": {}}
    if kind == "pie":
        params = {"type": "pie", "addTooltip": True, "addLegend": True, "legendPosition": "right", "isDonut": True,
                  "labels": {"show": False, "values": True, "last_level": True, "truncate": 100}}
        aggs = [count, terms_agg("2", "segment", d["field"], d["size"])]
    elif kind == "time":
        params = {"type": "histogram", "addTooltip": True, "addLegend": True, "legendPosition": "right"}
        aggs = [count,
                {"id": "2", "enabled": True, "type": "date_histogram", "schema": "segment",
                 "params": {"field": "@timestamp", "interval": "auto", "min_doc_count": 1, "extended_bounds": {}}},
                terms_agg("3", "group", d["field"], d["size"])]
        kind = "histogram"
    elif kind == "bars":
        params = {"type": "horizontal_bar", "addTooltip": True, "addLegend": False, "legendPosition": "right"}
        aggs = [count, terms_agg("2", "segment", d["field"], d["size"])]
        kind = "horizontal_bar"
    else:
        params = {"perPage": 10, "showPartialRows": False, "showMetricsAtAllLevels": False, "showTotal": False}
        aggs = [count, terms_agg("2", "bucket", d["field"], d["size"])]
    vis_state = {"title": title, "type": kind, "params": params, "aggs": aggs}
    filters = [custom_filter()] if d.get("console") else []
    attrs = {"title": title, "description": "", "version": 1, "visState": DUMPS(vis_state), "uiStateJSON": "{}",
             "kibanaSavedObjectMeta": {"searchSourceJSON": search_source("", filters)}}
    return {"id": oid(pid), "type": "visualization", "attributes": attrs,
            "references": [{"type": "index-pattern", "id": DATA_VIEW,
                            "name": "kibanaSavedObjectMeta.searchSourceJSON.index"}],
            "migrationVersion": {"visualization": "7.10.0"}}


def opensearch_dashboards():
    objects = [{"id": DATA_VIEW, "type": "index-pattern",
                "attributes": {"title": f"{PREFIX}-*", "timeFieldName": "@timestamp"},
                "references": [], "migrationVersion": {"index-pattern": "7.6.0"}}]
    for pid, title, kind, d, *_ in PANELS:
        if kind == "search":
            objects.append(saved_search(pid, title, d, {"migrationVersion": {"search": "7.9.3"}}))
        else:
            objects.append(visualization(pid, title, kind, d))
    objects.append(dashboard(lambda k: "search" if k == "search" else "visualization", "7.10.2",
                             {"migrationVersion": {"dashboard": "7.9.3"}}))
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
        print("out of date (run scripts/gen-kibana.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
