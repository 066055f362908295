#!/usr/bin/env python3
"""The Python loader a user would write to put CloudTrail log files into Elasticsearch or OpenSearch:
the official client's `helpers.parallel_bulk` with its defaults (4 threads, 500 actions a request).

scripts/bench/e2e.sh runs it against cloudtrail-es on the same events, into the same index template
(installed by `cloudtrail-es setup`), with the same `_id`s (eventID), the same daily index names
(PREFIX-YYYY.MM.DD from the UTC eventTime, or the event's @timestamp) and the same `create` action.
It is meant to be plain, neither slowed down nor tuned: files are loaded whole with json.load.
Needs elasticsearch-py (8.x) or opensearch-py, which scripts/bench/e2e.sh installs into a venv.

Usage:
  pyload.py --url http://127.0.0.1:9290 --flavor elasticsearch|opensearch --prefix P DIR_OR_FILE...
Prints one line, `indexed N failed M`.
"""
import argparse
import gzip
import json

# The same file walk as the plain-script baseline beside it (the script's folder is on sys.path).
from baseline import log_files


def actions(paths, prefix):
    for path in log_files(paths):
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as f:
            records = json.load(f).get("Records", [])
        for event in records:
            when = event.get("eventTime") or event["@timestamp"]
            event.setdefault("@timestamp", when)
            yield {"_op_type": "create", "_index": f"{prefix}-{when[:10].replace('-', '.')}",
                   "_id": event["eventID"], "_source": event}


def main():
    p = argparse.ArgumentParser(description="CloudTrail log files -> cluster with helpers.parallel_bulk")
    p.add_argument("--url", required=True)
    p.add_argument("--flavor", choices=["elasticsearch", "opensearch"], required=True)
    p.add_argument("--prefix", required=True)
    p.add_argument("paths", nargs="+")
    args = p.parse_args()
    if args.flavor == "elasticsearch":
        from elasticsearch import Elasticsearch, helpers
        client = Elasticsearch(args.url, request_timeout=120)
    else:
        from opensearchpy import OpenSearch, helpers
        client = OpenSearch(hosts=[args.url], timeout=120)
    ok = failed = 0
    for success, _ in helpers.parallel_bulk(client, actions(args.paths, args.prefix),
                                            raise_on_error=False, raise_on_exception=False):
        ok += success
        failed += not success
    print(f"indexed {ok} failed {failed}")


if __name__ == "__main__":
    main()
