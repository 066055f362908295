#!/usr/bin/env bash
# The README's first command: the main job on a local default, end to end.
#  1. starts a real Elasticsearch on 127.0.0.1:9200 (dev-stack.sh; downloads cached after the first run),
#  2. writes a sample trail bucket (AWSLogs/…, gzip'd log files plus digest files) with scripts/gen/cloudtrail.py,
#  3. backfills it with cloudtrail-es into cloudtrail-demo-YYYY.MM.DD indices,
#  4. prints what landed: documents per daily index, top operations, top users.
# Env: DEMO_EVENTS (default 5000), ELASTICSEARCH_URL (default the dev stack's).
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

ES="${ELASTICSEARCH_URL:-http://127.0.0.1:9200}"
EVENTS="${DEMO_EVENTS:-5000}"
DEMO_DIR="$CACHE_DIR/demo"
PREFIX=cloudtrail-demo

if [[ -z "${ELASTICSEARCH_URL:-}" ]]; then
  "$REPO_ROOT/scripts/dev/dev-stack.sh" up elasticsearch
fi
echo "==> building cloudtrail-es (release)"
BIN="$(cloudtrail_es_bin)"

echo "==> writing a sample bucket of $EVENTS events to $DEMO_DIR/bucket"
rm -rf "$DEMO_DIR" && mkdir -p "$DEMO_DIR"
python3 "$REPO_ROOT/scripts/gen/cloudtrail.py" --out "$DEMO_DIR/bucket" --events "$EVENTS" --accounts 2 --days 3

echo "==> cloudtrail-es backfill $DEMO_DIR/bucket --es $ES --index-prefix $PREFIX"
status=0
"$BIN" backfill "$DEMO_DIR/bucket" --es "$ES" --index-prefix "$PREFIX" \
  --dead-letter "$DEMO_DIR/dead-letters.ndjson" || status=$?

echo "==> what landed"
curl -fsS -X POST "$ES/$PREFIX-*/_refresh" >/dev/null
curl -fsS "$ES/_cat/indices/$PREFIX-*?v&h=index,docs.count,store.size&s=index"
query='{"size":0,"aggs":{
  "operations":{"terms":{"field":"eventName","size":5}},
  "users":{"terms":{"field":"userIdentity.arn","size":5}}}}'
curl -fsS -H 'content-type: application/json' "$ES/$PREFIX-*/_search" -d "$query" | python3 -c '
import json, sys
r = json.load(sys.stdin)
print("%d documents in %s-*" % (r["hits"]["total"]["value"], sys.argv[1]))
for name in ("operations", "users"):
    print("top %s:" % name)
    for b in r["aggregations"][name]["buckets"]:
        print("  %6d  %s" % (b["doc_count"], b["key"]))
' "$PREFIX"

echo "==> cloudtrail-es report $DEMO_DIR/bucket --html $DEMO_DIR/report.html"
"$BIN" report "$DEMO_DIR/bucket" --html "$DEMO_DIR/report.html" --json "$DEMO_DIR/report.json" || status=$?
echo "the report of the demo bucket (open it in a browser): $DEMO_DIR/report.html"
exit "$status"
