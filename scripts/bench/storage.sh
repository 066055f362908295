#!/usr/bin/env bash
# Storage and indexing speed of our index template against plain dynamic mapping, on the same data:
# the real corpus (tests/corpus/real) plus STORAGE_EVENTS generated events.
#
#   scripts/bench/storage.sh                 # Elasticsearch of the dev stack
#   ELASTICSEARCH_URL=http://127.0.0.1:9201 scripts/bench/storage.sh   # or OpenSearch
#
# For each variant it backfills everything into fresh indices under a unique prefix, force-merges
# them to one segment, and reports from `_stats` (primaries): documents, store bytes, bytes per
# event, the number of mapped fields (largest daily index), events the cluster rejected (dead
# letters) and the backfill's events/s.
#   template  `cloudtrail-es setup` (component templates from mappings/), then backfill --no-setup
#   dynamic   an index template with the same settings (codec, ignore_malformed) but no mappings, so
#             every field is mapped by the cluster's defaults, as without cloudtrail-es' template
#             (and without index sorting, which needs mapped fields)
# Everything it creates (bench-storage-*) is deleted at the end unless STORAGE_KEEP=1.
#
# Environment: ELASTICSEARCH_URL, STORAGE_EVENTS (default 100000), STORAGE_SEED (default 5),
# STORAGE_VARIANTS (default "template dynamic"), BENCH_BIN (binary instead of a cargo build).
set -euo pipefail
# shellcheck source=../common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
# shellcheck source=corpus.sh source-path=SCRIPTDIR
source "$REPO_ROOT/scripts/bench/corpus.sh"

ES="${ELASTICSEARCH_URL:-http://127.0.0.1:9200}"
EVENTS="${STORAGE_EVENTS:-100000}"
SEED="${STORAGE_SEED:-5}"
VARIANTS="${STORAGE_VARIANTS:-template dynamic}"
CORPUS="$REPO_ROOT/tests/corpus/real"
WORK="$CACHE_DIR/bench-storage"
RUN="bench-storage-$$"

log() { echo "bench-storage: $*" >&2; }
curl_json() { curl -sS -f -H 'content-type: application/json' "$@"; }

BIN="${BENCH_BIN:-$(cloudtrail_es_bin)}"
mkdir -p "$WORK"
GEN_DIR=$(bench_generated_corpus "$EVENTS" "$SEED")
SOURCES=("$GEN_DIR")
if [[ -d $CORPUS ]]; then SOURCES+=("$CORPUS"); else log "no corpus at $CORPUS: generated events only"; fi

cleanup() {
  [[ ${STORAGE_KEEP:-0} == 1 ]] && return
  for v in $VARIANTS; do
    local p="$RUN-$v"
    curl -s -X DELETE "$ES/$p-*" >/dev/null || true
    curl -s -X DELETE "$ES/_index_template/$p" >/dev/null || true
    for c in settings mappings lifecycle; do curl -s -X DELETE "$ES/_component_template/$p@$c" >/dev/null || true; done
  done
}
trap cleanup EXIT

printf '%-9s %9s %12s %10s %7s %9s %9s\n' variant docs store_bytes bytes/ev fields rejected events/s
for v in $VARIANTS; do
  p="$RUN-$v"
  case $v in
    template) "$BIN" setup --es "$ES" --index-prefix "$p" >&2 ;;
    dynamic)
      settings=$(python3 -c 'import json, sys
t = json.load(open(sys.argv[1]))["template"]
t["settings"] = {k: v for k, v in t["settings"].items() if not k.startswith("index.sort.")}
print(json.dumps(t))' "$REPO_ROOT/mappings/settings.json")
      curl_json -X PUT "$ES/_index_template/$p" \
        -d "{\"index_patterns\":[\"$p-*\"],\"priority\":500,\"template\":$settings}" >/dev/null ;;
    *) log "unknown variant $v"; exit 1 ;;
  esac
  out="$WORK/$v.out"
  "$BIN" backfill "${SOURCES[@]}" --es "$ES" --index-prefix "$p" --no-setup -q \
    --dead-letter "$WORK/$v-dead-letters.ndjson" 2>"$out" || true
  curl_json -X POST "$ES/$p-*/_refresh" >/dev/null
  curl_json -X POST "$ES/$p-*/_forcemerge?max_num_segments=1" >/dev/null
  curl_json -X POST "$ES/$p-*/_refresh" >/dev/null
  curl_json "$ES/$p-*/_stats/store,docs" >"$WORK/$v.stats.json"
  curl_json "$ES/$p-*/_mapping" >"$WORK/$v.mapping.json"
  python3 - "$v" "$out" "$WORK/$v.stats.json" "$WORK/$v.mapping.json" <<'PY'
import json, re, sys
variant, out = sys.argv[1], sys.argv[2]
stats, mapping = (json.load(open(f)) for f in sys.argv[3:5])
prim = stats["_all"]["primaries"]
docs, store = prim["docs"]["count"], prim["store"]["size_in_bytes"]
def count(props):
    return sum(1 + count(v.get("properties", {})) + len(v.get("fields", {})) for v in props.values())
fields = max(count(m["mappings"].get("properties", {})) for m in mapping.values())
summary = open(out).read()
dead = re.search(r"(\d+) dead-lettered", summary)
rate = re.search(r"\(([\d.]+) events/s\)", summary)
print(f"{variant:<9} {docs:>9} {store:>12} {store / max(docs, 1):>10.0f} {fields:>7} "
      f"{dead.group(1) if dead else '?':>9} {rate.group(1) if rate else '?':>9}")
PY
done
