#!/usr/bin/env python3
"""The plain Python script a user would write to turn CloudTrail log files into Elasticsearch bulk NDJSON.

It is the baseline that scripts/bench/throughput.sh measures cloudtrail-es against, so it is meant to be simple
and honest: neither slowed down nor tuned. Each .json / .json.gz file under the given paths is
loaded whole with json.load; each event in its Records gives two lines, the bulk action
{"index":{"_index":"cloudtrail-YYYY.MM.DD","_id":eventID}} and the event plus "@timestamp".
Files without Records (CloudTrail-Digest files) yield nothing. Python 3 standard library only.

Usage:
  scripts/bench/baseline.py DIR_OR_FILE... [-o OUT.ndjson]     # default output: stdout
"""
import argparse
import gzip
import json
import os
import sys


def log_files(paths):
    for path in paths:
        if os.path.isfile(path):
            yield path
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for name in sorted(files):
                if name.endswith((".json", ".json.gz")):
                    yield os.path.join(root, name)


def load(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return json.load(f)


def write_bulk(path, out):
    for event in load(path).get("Records", []):
        index = "cloudtrail-" + event["eventTime"][:10].replace("-", ".")
        action = {"index": {"_index": index, "_id": event["eventID"]}}
        event["@timestamp"] = event["eventTime"]
        out.write(json.dumps(action, separators=(",", ":")) + "\n")
        out.write(json.dumps(event, separators=(",", ":")) + "\n")


def main():
    p = argparse.ArgumentParser(description="CloudTrail log files -> Elasticsearch bulk NDJSON (baseline).")
    p.add_argument("paths", nargs="+", help="log files or directories (searched recursively)")
    p.add_argument("-o", "--output", help="output file (default: stdout)")
    args = p.parse_args()
    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout
    with out:
        for path in log_files(args.paths):
            write_bulk(path, out)


if __name__ == "__main__":
    main()
