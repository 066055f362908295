#!/usr/bin/env python3
"""Index templates for the variants scripts/bench/e2e.sh compares, and what it reads back from `_stats`.

The `template` variant is installed by `cloudtrail-es setup` itself; the others are rendered here, as one
index template (priority 900) with the settings and mappings inline:
  floor    the store-only floor: cluster defaults, `dynamic: false`, nothing mapped but `@timestamp`,
           so the node stores `_source` and `_id` and indexes one date
  dynamic  no template at all: what a cluster does with CloudTrail events on its own (see `none`)
  exp:A+B  mappings/settings.json + mappings.json as `setup` renders them (flattened -> flat_object on
           OpenSearch), with the named changes A, B... (PATCHES below) applied: one price at a time.
           `exp:base` applies none and must cost what `template` costs.
Python 3 standard library only.

Usage:
  variants.py body VARIANT FLAVOR PREFIX      # JSON for PUT _index_template/PREFIX, or `none`
  variants.py stats STATS.json MAPPING.json   # "docs store_bytes fields" of primaries after a force-merge
  variants.py patches                         # the names exp: accepts, one a line, with what each does
"""
import json
import os
import sys

MAPPINGS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "mappings")
DATE_FORMAT = "strict_date_optional_time||yyyy-MM-dd HH:mm:ss.SSSSSSSSS||yyyy-MM-dd HH:mm:ss.SSS||yyyy-MM-dd HH:mm:ss||epoch_millis"
# What the dashboards (kibana/*.ndjson) aggregate on: these keep their doc values in `dvmin`.
CHARTED = {"@timestamp", "errorCode", "eventName", "eventSource", "sourceIPAddress", "userIdentity.arn",
           "userIdentity.invokedBy"}


def free_form(props, path=""):
    """(path, parent dict, name) of every flattened field."""
    for name, d in props.items():
        p = f"{path}{name}"
        if d.get("type") == "flattened":
            yield p, props, name
        yield from free_form(d.get("properties", {}), p + ".")


def keywords(props, path=""):
    for name, d in props.items():
        p = f"{path}{name}"
        if d.get("type") == "keyword":
            yield p, d
        yield from keywords(d.get("properties", {}), p + ".")


def unindex(props, name):
    props[name] = {"type": "object", "enabled": False}


# Keywords nobody aggregates on (long, near-unique or rare values); `dvsome` drops their doc values.
UNCHARTED = {"userAgent", "eventVersion", "apiVersion", "vpcEndpointId", "vpcEndpointAccountId",
             "tlsDetails.clientProvidedHostHeader", "resources.ARN", "resources.ARNPrefix", "addendum.reason",
             "addendum.updatedFields", "addendum.originalRequestID", "addendum.originalEventID"}


def patch_dvsome(s, m):
    for p, d in keywords(m["properties"]):
        if p in UNCHARTED:
            d["doc_values"] = False


def patch_dvmin(s, m):
    for p, d in keywords(m["properties"]):
        if p not in CHARTED:
            d["doc_values"] = False


# What `report --es` and responders' usual breakdowns aggregate on besides the dashboards' fields:
# these keep their doc values in `dvused` too.
AGGREGATED = CHARTED | {"userIdentity.type", "userIdentity.accessKeyId", "userIdentity.userName",
                        "userIdentity.accountId", "recipientAccountId", "recipientAccountName", "eventType",
                        "eventCategory", "awsRegion", "userIdentity.sessionContext.sessionIssuer.arn",
                        "userIdentity.sessionContext.sessionIssuer.userName",
                        "userIdentity.sessionContext.attributes.mfaAuthenticated"}


def patch_dvused(s, m):
    for p, d in keywords(m["properties"]):
        if p not in AGGREGATED:
            d["doc_values"] = False
    m["properties"]["userIdentity"]["properties"]["sessionContext"]["properties"]["attributes"][
        "properties"]["creationDate"]["doc_values"] = False


def patch_free(keep):
    def f(s, m):
        for p, parent, name in list(free_form(m["properties"])):
            if p not in keep:
                unindex(parent, name)
    return f


def patch_field(path, change):
    def f(s, m):
        *parents, leaf = path.split(".")
        props = m["properties"]
        for p in parents:
            props = props[p]["properties"]
        change(props, leaf)
    return f


def setting(key, value):
    def f(s, m):
        if value is None:
            s.pop(key, None)
        else:
            s[key] = value
    return f


def drop_sort(s, m):
    for k in [k for k in s if k.startswith("index.sort.")]:
        del s[k]


PATCHES = {
    "base": ("nothing changed (must match `template`)", lambda s, m: None),
    "nosort": ("no index sorting", drop_sort),
    "lz4": ("default codec (LZ4) instead of best_compression", setting("index.codec", None)),
    "refresh30": ("index.refresh_interval 30s", setting("index.refresh_interval", "30s")),
    "refreshoff": ("index.refresh_interval -1 (what a backfill could set while it runs)",
                   setting("index.refresh_interval", "-1")),
    "replicas0": ("index.number_of_replicas 0", setting("index.number_of_replicas", 0)),
    "noip": ("no sourceIPAddress.ip sub-field", patch_field("sourceIPAddress", lambda p, k: p[k].pop("fields"))),
    "notext": ("no errorMessage.text sub-field", patch_field("errorMessage", lambda p, k: p[k].pop("fields"))),
    "noresp": ("responseElements kept in _source only", patch_field("responseElements", unindex)),
    "reqonly": ("every free-form object but requestParameters in _source only", patch_free({"requestParameters"})),
    "reqadd": ("free-form objects but requestParameters and additionalEventData in _source only",
               patch_free({"requestParameters", "additionalEventData"})),
    "noflat": ("every free-form object in _source only", patch_free(set())),
    "dvmin": ("doc values only on the fields the dashboards chart", patch_dvmin),
    "dvsome": ("no doc values on userAgent, eventVersion, apiVersion, vpcEndpoint*, the TLS host header, "
               "resources.ARN*, addendum.*", patch_dvsome),
    "dvused": ("doc values only on what the dashboards, `report --es` and usual breakdowns aggregate",
               patch_dvused),
    "notime": ("eventTime in _source only (@timestamp holds the same instant)",
               patch_field("eventTime", unindex)),
}


def rendered(flavor):
    s = json.load(open(os.path.join(MAPPINGS_DIR, "settings.json")))["template"]["settings"]
    m = json.load(open(os.path.join(MAPPINGS_DIR, "mappings.json")))["template"]["mappings"]
    return s, m


def to_flat_object(v):
    """The OpenSearch form, as `setup` renders it (src/setup/templates.rs `opensearch_form`)."""
    if isinstance(v, dict):
        if v.get("type") == "flattened":
            return {"type": "flat_object"}
        v = {k: to_flat_object(x) for k, x in v.items()}
        if isinstance(v.get("format"), str) and v["format"].startswith("strict_date_optional_time"):
            v["format"] = "strict_date_time_no_millis||" + v["format"]
        return v
    return v


def body(variant, flavor, prefix):
    if variant == "dynamic":
        return None
    if variant == "floor":
        s, m = {}, {"dynamic": False, "properties": {"@timestamp": {"type": "date", "format": DATE_FORMAT}}}
    elif variant.startswith("exp:"):
        s, m = rendered(flavor)
        for name in variant[4:].split("+"):
            if name not in PATCHES:
                sys.exit(f"variants.py: unknown patch {name!r}; known: {', '.join(PATCHES)}")
            PATCHES[name][1](s, m)
        if flavor == "opensearch":
            m = to_flat_object(m)
    else:
        sys.exit(f"variants.py: unknown variant {variant!r}")
    return {"index_patterns": [f"{prefix}-*"], "priority": 900, "template": {"settings": s, "mappings": m}}


def count_fields(props):
    return sum(1 + count_fields(v.get("properties", {})) + len(v.get("fields", {})) for v in props.values())


def stats(stats_file, mapping_file):
    prim = json.load(open(stats_file))["_all"]["primaries"]
    mapping = json.load(open(mapping_file))
    fields = max((count_fields(m["mappings"].get("properties", {})) for m in mapping.values()), default=0)
    return f'{prim["docs"]["count"]} {prim["store"]["size_in_bytes"]} {fields}'


def main(argv):
    if argv[:1] == ["body"] and len(argv) == 4:
        b = body(argv[1], argv[2], argv[3])
        print("none" if b is None else json.dumps(b))
    elif argv[:1] == ["stats"] and len(argv) == 3:
        print(stats(argv[1], argv[2]))
    elif argv[:1] == ["patches"]:
        for name, (what, _) in PATCHES.items():
            print(f"{name:<11} {what}")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
