#!/usr/bin/env bash
# Peak memory of a backfill into a cluster, and what the flags cost in memory (docs/design/memory.md).
#
#   scripts/bench/memory.sh                       # 100k events into the dev Elasticsearch
#   BENCH_MEM_CASES="default c8" scripts/bench/memory.sh
#
# Generates BENCH_MEM_EVENTS events with scripts/gen/cloudtrail.py once (cached in
# $CACHE_DIR/bench-memory, see common.sh), then backfills them with each case's flags into fresh
# indices (prefix bench-mem-PID-CASE, deleted afterwards) and reports the peak RSS of the process
# (`/usr/bin/time -v`, "Maximum resident set size") and its wall time; the `file` case writes the
# NDJSON to a file instead, for the floor of reading and framing. Figures are reported, never
# enforced (the target is ≤ 64 MB for the default flags); the exit status is non-zero only when a
# run fails or indexes another number of events than it read.
#
# Cases (BENCH_MEM_CASES, default "file default c1 c8 b1m e1k"):
#   file     --output FILE                     default    no flag
#   c1       --bulk-concurrency 1              c8         --bulk-concurrency 8
#   b1m      --batch-bytes 1048576             e1k        --batch-events 1000
#   r1       --readers 1
# Environment: BENCH_MEM_EVENTS (100000), BENCH_MEM_SEED (7), BENCH_MEM_ES (http://127.0.0.1:9200),
# BENCH_MEM_RUNS (runs per case, the highest peak kept; 1), BENCH_BIN (binary instead of a cargo build).
set -euo pipefail
# shellcheck source=../common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"

EVENTS=${BENCH_MEM_EVENTS:-100000}
SEED=${BENCH_MEM_SEED:-7}
ES=${BENCH_MEM_ES:-http://127.0.0.1:9200}
RUNS=${BENCH_MEM_RUNS:-1}
read -r -a CASES <<<"${BENCH_MEM_CASES:-file default c1 c8 b1m e1k}"
DIR="$CACHE_DIR/bench-memory"
GEN="$REPO_ROOT/scripts/gen/cloudtrail.py"
BIN=${BENCH_BIN:-$(cloudtrail_es_bin)}
FAILED=0

log() { echo "bench-memory: $*" >&2; }

flags() {
  case $1 in
    file | default) ;;
    c1) echo --bulk-concurrency 1 ;;
    c8) echo --bulk-concurrency 8 ;;
    b1m) echo --batch-bytes 1048576 ;;
    e1k) echo --batch-events 1000 ;;
    r1) echo --readers 1 ;;
    *) log "unknown case $1"; return 1 ;;
  esac
}

mkdir -p "$DIR"
sum=$(sha256sum "$GEN" | cut -d' ' -f1)
corpus="$DIR/events-$EVENTS-$SEED"
if [[ ! -d $corpus || $(cat "$corpus.gen" 2>/dev/null) != "$sum" ]]; then
  log "generating $EVENTS events into $corpus"
  rm -rf "$corpus" "$corpus.partial"
  python3 "$GEN" --out "$corpus.partial" --events "$EVENTS" --seed "$SEED" --no-digests >/dev/null
  mv "$corpus.partial" "$corpus"
  echo "$sum" >"$corpus.gen"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

report="$DIR/last.txt"
{
  echo "peak RSS of cloudtrail-es backfill, $EVENTS events ($(du -sh "$corpus" | cut -f1) gzip), into $ES"
  printf '%-8s %-32s %10s %8s  %s\n' case flags "peak RSS" wall events
} | tee "$report"
for case in "${CASES[@]}"; do
  read -r -a extra <<<"$(flags "$case")"
  best_rss=0 wall=0 result=""
  for ((run = 1; run <= RUNS; run++)); do
    prefix="bench-mem-$$-$case-$run"
    if [[ $case == file ]]; then
      target=(--output "$work/out.ndjson")
    else
      target=(--es "$ES" --index-prefix "$prefix")
    fi
    rm -f "$work/dl.ndjson" "$work/out.ndjson"
    if ! /usr/bin/time -v -o "$work/time" "$BIN" backfill "$corpus" "${target[@]}" \
      --dead-letter "$work/dl.ndjson" "${extra[@]}" 2>"$work/stderr"; then
      log "$case: the backfill failed:"; tail -5 "$work/stderr" >&2; FAILED=1
    fi
    rss=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$work/time")
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$work/time")
    ((rss > best_rss)) && best_rss=$rss
    result=$(grep '^events:' "$work/stderr" || true)
    read_n=$(sed -n 's/^events: *\([0-9]*\) read.*/\1/p' <<<"$result")
    done_n=$(sed -n 's/.* read: \([0-9]*\) indexed, \([0-9]*\) already present.*/\1 \2/p' <<<"$result")
    if [[ -n $done_n ]]; then
      read -r indexed present <<<"$done_n"
      if ((indexed + present != read_n)); then
        log "$case: $read_n events read, $((indexed + present)) delivered"; FAILED=1
      fi
    fi
    if [[ $case != file ]]; then curl -s -X DELETE "$ES/$prefix-*" >/dev/null || true; fi
    curl -s -X DELETE "$ES/_index_template/$prefix" >/dev/null || true
    for part in settings mappings ecs lifecycle; do
      curl -s -X DELETE "$ES/_component_template/$prefix@$part" >/dev/null || true
    done
  done
  printf '%-8s %-32s %7d MB %8s  %s\n' "$case" "${extra[*]:-(defaults)}" $((best_rss / 1024)) "$wall" \
    "${result#events:  }" | tee -a "$report"
done
log "report in $report"
exit $FAILED
