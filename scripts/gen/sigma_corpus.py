#!/usr/bin/env python3
"""Writes tests/corpus/sigma/events.json: for every bundled Sigma rule (rules/sigma/rules/), one
CloudTrail record written from the rule's text that fires it (eventID `fire:RULE_ID`) and a near
miss that does not (`miss:RULE_ID`): the same record with one selected value changed, or, for a rule
with a `not` filter, with the filter's condition made true.

    python3 scripts/gen/sigma_corpus.py

The records are synthetic (no real account). The Rust tests check that each fires exactly as named
(detect::corpus_tests, and through backfill into Elasticsearch and OpenSearch: tests/sigma.rs).
"""
import copy
import glob
import json
import os
import re

import yaml

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
RULES = os.path.join(ROOT, "rules", "sigma", "rules")
OUT = os.path.join(ROOT, "tests", "corpus", "sigma", "events.json")

BASE = {
    "eventVersion": "1.09",
    "eventTime": "2024-05-01T10:00:00Z",
    "awsRegion": "us-east-1",
    "sourceIPAddress": "203.0.113.7",
    "userAgent": "aws-cli/2.15.0",
    "eventType": "AwsApiCall",
    "recipientAccountId": "111122223333",
    "userIdentity": {
        "type": "IAMUser",
        "principalId": "AIDAEXAMPLE",
        "arn": "arn:aws:iam::111122223333:user/alice",
        "accountId": "111122223333",
        "userName": "alice",
    },
}
# `|re` samples, by pattern.
RE_SAMPLES = {".+:assumed-role/aws:.+": "arn:aws:sts::111122223333:assumed-role/aws:ec2-instance/i-0abc"}


def put(event, path, value):
    keys = path.split(".")
    for k in keys[:-1]:
        if not isinstance(event.get(k), dict):
            event[k] = {}
        event = event[k]
    event[keys[-1]] = value


def get(event, path):
    for k in path.split("."):
        if not isinstance(event, dict) or k not in event:
            return None
        event = event[k]
    return event


def sample(mods, value):
    """A value the field|mods: value item accepts."""
    if isinstance(value, list):
        if "all" in mods:
            return ",".join(str(v) for v in value)
        value = value[0]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if "re" in mods:
        return RE_SAMPLES[value]
    v = str(value).replace("*", "x")
    if "contains" in mods:
        return "x" + v + "x"
    if "startswith" in mods:
        return v + "x"
    if "endswith" in mods:
        return "x" + v
    return v


def apply(event, selection):
    """Makes the selection (a map, or a list of maps: the first) true on the event."""
    if isinstance(selection, list):
        selection = selection[0]
    for key, value in selection.items():
        field, *mods = key.split("|")
        if "fieldref" in mods:
            ref = get(event, value) or "arn:aws:iam::111122223333:user/bob"
            put(event, value, ref)
            put(event, field, ref)
            continue
        v = sample(mods, value)
        if field in ("requestParameters", "responseElements") and not isinstance(get(event, field), dict):
            put(event, field, {"text": v})  # a whole object matched as text: CloudTrail writes objects
        elif v is not None:
            put(event, field, v)


def miss(event, selection):
    """Changes the last value of the selection so that it no longer matches."""
    if isinstance(selection, list):
        selection = selection[0]
    key = list(selection)[-1]
    field, *mods = key.split("|")
    if selection[key] == "*":
        parent, _, leaf = field.rpartition(".")
        (get(event, parent) if parent else event).pop(leaf, None)  # "any value": the field absent
    elif field in ("requestParameters", "responseElements"):
        put(event, field, {"text": "benign"})
    elif "re" in mods:
        put(event, field, "arn:aws:iam::111122223333:user/alice")
    elif mods:
        put(event, field, "benign")
    else:
        put(event, field, str(get(event, field)) + "Probe")


def positives(detection, condition):
    """The selections the condition needs true, and the first `not` filter if any."""
    names = [k for k in detection if k != "condition"]
    pos, neg = [], None
    for part in re.split(r"\s+and\s+", condition):
        part = part.strip()
        if part.startswith("not "):
            target = part[4:].strip()
            if target.startswith("1 of "):
                prefix = target[5:].rstrip("*")
                neg = next(n for n in names if n.startswith(prefix))
            else:
                neg = target
        elif part.startswith("1 of "):
            prefix = part[5:].rstrip("*")
            pos.append(next(n for n in names if n.startswith(prefix)))
        else:
            pos.append(part)
    return pos, neg


def main():
    records = []
    for path in sorted(glob.glob(os.path.join(RULES, "*.yml"))):
        rule = yaml.safe_load(open(path, encoding="utf-8"))
        detection = rule["detection"]
        pos, neg = positives(detection, detection["condition"])
        fire = copy.deepcopy(BASE)
        for name in pos:
            apply(fire, detection[name])
        fire["eventID"] = "fire:" + rule["id"]
        near = copy.deepcopy(fire)
        if neg is not None:
            apply(near, detection[neg])
        else:
            miss(near, detection[pos[-1]])
        near["eventID"] = "miss:" + rule["id"]
        records += [fire, near]
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump({"Records": records}, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"gen-sigma-corpus: {len(records)} records for {len(records) // 2} rules in {OUT}")


if __name__ == "__main__":
    main()
