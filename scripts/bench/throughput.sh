#!/usr/bin/env bash
# Benchmark: how fast and how lean cloudtrail-es turns CloudTrail log files into Elasticsearch bulk
# NDJSON, next to what a user would otherwise write: the plain Python script scripts/bench/baseline.py
# and a jq pipeline. Each tool writes its output to a file in a temp dir, so all do the same I/O.
#
#   scripts/bench/throughput.sh
#
# It generates a corpus with scripts/gen/cloudtrail.py once (cached in $CACHE_DIR/bench/, see
# common.sh), then reports for each tool the best wall time of BENCH_RUNS runs, the peak RSS (the
# largest process; the highest over the runs), events/s and MB/s of uncompressed input JSON, and the
# ratios to cloudtrail-es. It also runs cloudtrail-es once on one big single-file log to show that
# memory does not grow with file size. Then it measures what redaction and filtering cost: the same
# run to /dev/null with BENCH_RULES added, against the run without them (wall and CPU time).
# The report is also written to $CACHE_DIR/bench/last.txt.
# Speed and memory targets are reported, never enforced; the exit status is non-zero only when an
# output has the wrong number of lines (cloudtrail-es and Python: 2 per event; jq: 1 per event).
#
# Environment:
#   BENCH_EVENTS      events in the multi-file corpus (default 120000)
#   BENCH_BIG_EVENTS  events in the single-file corpus (default 4 x BENCH_EVENTS)
#   BENCH_RUNS        runs per tool, best kept (default 3)
#   BENCH_SEED        generator seed (default 1)
#   BENCH_TIMEOUT     seconds allowed per run (default 900)
#   BENCH_BIN         cloudtrail-es binary to use instead of building it with cargo (e.g. a stub)
#   BENCH_FLAGS       extra flags for every cloudtrail-es run (split on spaces, no globbing)
#   BENCH_RULES       the rules whose cost is measured (default: the credentials preset and two
#                     excludes, "--redact-preset credentials --exclude eventName=Describe* --exclude eventName=Get*")
set -euo pipefail
# shellcheck source=../common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"

EVENTS=${BENCH_EVENTS:-120000}
BIG_EVENTS=${BENCH_BIG_EVENTS:-$((4 * EVENTS))}
RUNS=${BENCH_RUNS:-3}
SEED=${BENCH_SEED:-1}
TIMEOUT=${BENCH_TIMEOUT:-900}
read -r -a FLAGS <<<"${BENCH_FLAGS:-}"
read -r -a RULES <<<"${BENCH_RULES:-"--redact-preset credentials --exclude eventName=Describe* --exclude eventName=Get*"}"
BENCH_DIR="$CACHE_DIR/bench"
GEN="$REPO_ROOT/scripts/gen/cloudtrail.py"
BASELINE="$REPO_ROOT/scripts/bench/baseline.py"

declare -A WALL RSS CPU CHECK
FAILED=0

log() { echo "bench: $*" >&2; }

# generate DIR EVENTS [generator flags...]: makes the corpus once and reuses it until the
# generator changes (DIR.gen holds the generator's checksum).
generate() {
  local dir=$1 events=$2 sum
  shift 2
  sum=$(sha256sum "$GEN" | cut -d' ' -f1)
  [[ -d $dir && $(cat "$dir.gen" 2>/dev/null) == "$sum" ]] && return 0
  log "generating $events events into $dir"
  rm -rf "$dir" "$dir.partial" "$dir.bytes"
  python3 "$GEN" --out "$dir.partial" --events "$events" --seed "$SEED" "$@"
  mv "$dir.partial" "$dir"
  echo "$sum" >"$dir.gen"
}

# json_bytes DIR: total uncompressed size of the corpus' log files (digests excluded), cached.
json_bytes() {
  local dir=$1
  if [[ ! -s $dir.bytes ]]; then
    find "$dir" -name '*.json.gz' -not -path '*Digest*' -print0 | xargs -0 zcat | wc -c >"$dir.bytes"
  fi
  cat "$dir.bytes"
}

# measure NAME RUNS STDOUT CMD...: runs CMD RUNS times under GNU time, with stdout to STDOUT
# (removed before each run, so that no tool pays for truncating the previous run's output);
# keeps the best wall time, the best CPU time (user + system) and the highest peak RSS in
# WALL[NAME], CPU[NAME] and RSS[NAME] (MB).
measure() {
  local name=$1 runs=$2 stdout=$3 i wall kb user sys
  shift 3
  WALL[$name]="" CPU[$name]="" RSS[$name]=0
  for ((i = 1; i <= runs; i++)); do
    [[ $stdout == /dev/null ]] || rm -f "$stdout"
    if ! /usr/bin/time -f '%e %M %U %S' -o "$TMP/time" timeout "$TIMEOUT" "$@" >"$stdout" 2>"$TMP/stderr"; then
      log "$name failed (run $i):"
      tail -n 5 "$TMP/stderr" >&2
      WALL[$name]="" CPU[$name]="" RSS[$name]=""
      return 1
    fi
    read -r wall kb user sys <"$TMP/time"
    if [[ -z ${WALL[$name]} ]] || awk -v a="$wall" -v b="${WALL[$name]}" 'BEGIN { exit !(a < b) }'; then
      WALL[$name]=$wall
    fi
    local cpu
    cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
    if [[ -z ${CPU[$name]} ]] || awk -v a="$cpu" -v b="${CPU[$name]}" 'BEGIN { exit !(a < b) }'; then
      CPU[$name]=$cpu
    fi
    RSS[$name]=$(awk -v kb="$kb" -v m="${RSS[$name]}" 'BEGIN { mb = kb / 1024; printf "%.1f", (mb > m ? mb : m) }')
  done
}

# check NAME FILE EXPECTED_LINES: records the output check of NAME; a mismatch fails the bench.
check() {
  local name=$1 file=$2 expected=$3 lines
  lines=$(wc -l <"$file")
  if [[ $lines -eq $expected ]]; then
    CHECK[$name]="ok ($lines lines)"
  else
    CHECK[$name]="FAIL: $lines lines, expected $expected"
    FAILED=1
  fi
  rm -f "$file"
}

# best_of NAME RUN: folds the single run RUN into NAME's best wall/CPU and highest RSS.
best_of() {
  local name=$1 run=$2
  [[ -n ${WALL[$run]:-} ]] || return 0
  if [[ -z ${WALL[$name]:-} ]] || awk -v a="${WALL[$run]}" -v b="${WALL[$name]}" 'BEGIN { exit !(a < b) }'; then
    WALL[$name]=${WALL[$run]}
  fi
  if [[ -z ${CPU[$name]:-} ]] || awk -v a="${CPU[$run]}" -v b="${CPU[$name]}" 'BEGIN { exit !(a < b) }'; then
    CPU[$name]=${CPU[$run]}
  fi
  RSS[$name]=$(awk -v a="${RSS[$run]}" -v b="${RSS[$name]:-0}" 'BEGIN { print (a > b ? a : b) }')
}

# run_tool NAME RUNS EXPECTED_LINES OUTPUT STDOUT CMD...: measure, then check the output.
run_tool() {
  local name=$1 runs=$2 expected=$3 output=$4 stdout=$5
  shift 5
  log "running $name, $runs run(s)"
  if measure "$name" "$runs" "$stdout" "$@"; then
    check "$name" "$output" "$expected"
  else
    CHECK[$name]="FAIL: the command failed"
    FAILED=1
  fi
}

# The jq pipeline a user would write; run as bash -c, with the corpus as $1.
# shellcheck disable=SC2016  # $1 is expanded by that inner bash
JQ_PIPELINE='find "$1" -name "*.json.gz" -not -path "*Digest*" -print0 | xargs -0 zcat | jq -c ".Records[]"'

have_jq() {
  command -v jq >/dev/null && return 0
  if [[ $(id -u) -eq 0 ]]; then
    log "jq is missing; installing it with apt-get"
    timeout 300 apt-get install -y -qq jq >/dev/null 2>&1 || true
  fi
  command -v jq >/dev/null
}

# ratio A B: "A/Bx" to one decimal, or n/a.
ratio() {
  awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "n/a"; else printf "%.1fx", a / b }'
}

# cost A B: how much more A takes than B, as "+N.N%" (negative when A is faster), or n/a.
cost() {
  awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "n/a"; else printf "%+.1f%%", (a / b - 1) * 100 }'
}

# rss NAME: the peak RSS of NAME in MB, or n/a.
rss() {
  if [[ -n ${RSS[$1]:-} ]]; then echo "${RSS[$1]} MB"; else echo n/a; fi
}

row() {
  local name=$1 label=$2 events=$3 bytes=$4
  if [[ -z ${WALL[$name]:-} ]]; then
    printf '%-26s %8s %12s %11s %8s  %s\n' "$label" - - - - "${CHECK[$name]:-skipped}"
    return
  fi
  awk -v l="$label" -v w="${WALL[$name]}" -v r="${RSS[$name]}" -v e="$events" -v b="$bytes" -v c="${CHECK[$name]}" \
    'BEGIN { t = (w > 0 ? w : 0.01); printf "%-26s %8.2f %12.1f %11.0f %8.1f  %s\n", l, w, r, e / t, b / 1048576 / t, c }'
}

report() {
  local files bytes gz_bytes big_bytes
  files=$(find "$CORPUS" -name '*.json.gz' -not -path '*Digest*' | wc -l)
  bytes=$(json_bytes "$CORPUS")
  gz_bytes=$(find "$CORPUS" -name '*.json.gz' -not -path '*Digest*' -printf '%s\n' | awk '{ s += $1 } END { print s }')
  big_bytes=$(json_bytes "$BIG")
  echo "cloudtrail-es bench, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, binary $BIN"
  awk -v e="$EVENTS" -v f="$files" -v b="$bytes" -v g="$gz_bytes" -v r="$RUNS" 'BEGIN {
    printf "corpus: %d events in %d log files (+ digests), %.1f MB JSON, %.1f MB gzip; best of %d run(s)\n", e, f, b / 1048576, g / 1048576, r }'
  echo
  printf '%-26s %8s %12s %11s %8s  %s\n' tool "wall s" "peak RSS MB" "events/s" "MB/s" "output check"
  row ours "cloudtrail-es backfill" "$EVENTS" "$bytes"
  row python "python baseline.py" "$EVENTS" "$bytes"
  row jq "jq -c '.Records[]'" "$EVENTS" "$bytes"
  row ours_null "cloudtrail-es > /dev/null" "$EVENTS" "$bytes"
  row python_null "python > /dev/null" "$EVENTS" "$bytes"
  row big "cloudtrail-es, 1 big file" "$BIG_EVENTS" "$big_bytes"
  row ours_rules "cloudtrail-es + rules" "$EVENTS" "$bytes"
  echo
  echo "jq only flattens Records to one event per line: no bulk action lines, no @timestamp."
  echo "python/ours wall = $(ratio "${WALL[python]:-}" "${WALL[ours]:-}") writing files," \
    "$(ratio "${WALL[python_null]:-}" "${WALL[ours_null]:-}") to /dev/null (target >= 10x)"
  echo "jq/ours wall = $(ratio "${WALL[jq]:-}" "${WALL[ours]:-}")"
  echo "ours peak RSS = $(rss ours) (target < 150 MB)"
  echo "memory vs file size: ours peak RSS $(rss ours) on $files files of ~100 events," \
    "$(rss big) on one file of $BIG_EVENTS events ($(awk -v b="$big_bytes" 'BEGIN { printf "%.0f", b / 1048576 }') MB JSON, 1 run)"
  echo "rules: ${RULES[*]}${FLAGS[*]:+ (every run also: ${FLAGS[*]})}"
  echo "rules cost, to /dev/null, best of $RUNS interleaved runs each: wall $(cost "${WALL[ours_rules]:-}" "${WALL[ours_plain]:-}")" \
    "(${WALL[ours_rules]:-?} vs ${WALL[ours_plain]:-?} s), CPU $(cost "${CPU[ours_rules]:-}" "${CPU[ours_plain]:-}")" \
    "(${CPU[ours_rules]:-?} vs ${CPU[ours_plain]:-?} s user+sys) (target < +15%)"
}

main() {
  local bin_note=""
  if [[ -n ${BENCH_BIN:-} ]]; then
    BIN=$BENCH_BIN
    bin_note=" (BENCH_BIN)"
  else
    BIN=$(cloudtrail_es_bin) || { log "cannot build cloudtrail-es; set BENCH_BIN to use another binary"; exit 1; }
  fi
  log "binary: $BIN$bin_note"
  mkdir -p "$BENCH_DIR"
  CORPUS="$BENCH_DIR/corpus-$EVENTS-$SEED"
  BIG="$BENCH_DIR/corpus-single-$BIG_EVENTS-$SEED"
  generate "$CORPUS" "$EVENTS"
  generate "$BIG" "$BIG_EVENTS" --single-file --no-digests
  TMP=$(mktemp -d "${TMPDIR:-/tmp}/cloudtrail-bench.XXXXXX")
  trap 'rm -rf "$TMP"' EXIT

  # Every tool writes to its stdout, redirected to a file the same way for all.
  run_tool ours "$RUNS" $((2 * EVENTS)) "$TMP/ours.ndjson" "$TMP/ours.ndjson" "$BIN" backfill "$CORPUS" --output - "${FLAGS[@]}"
  run_tool python "$RUNS" $((2 * EVENTS)) "$TMP/py.ndjson" "$TMP/py.ndjson" python3 "$BASELINE" "$CORPUS"
  if have_jq; then
    run_tool jq "$RUNS" "$EVENTS" "$TMP/jq.ndjson" "$TMP/jq.ndjson" bash -c "$JQ_PIPELINE" jq "$CORPUS"
  else
    CHECK[jq]="skipped: jq is not installed"
  fi
  # The same two again with output to /dev/null: the transformation alone, without the page-cache
  # copy of ~2x the corpus that writing a file costs every tool (outputs were checked above).
  log "running ours and python with output to /dev/null"
  measure ours_null "$RUNS" /dev/null "$BIN" backfill "$CORPUS" --output - "${FLAGS[@]}" && CHECK[ours_null]="(to /dev/null)"
  measure python_null "$RUNS" /dev/null python3 "$BASELINE" "$CORPUS" && CHECK[python_null]="(to /dev/null)"
  run_tool big 1 $((2 * BIG_EVENTS)) "$TMP/big.ndjson" "$TMP/big.ndjson" "$BIN" backfill "$BIG" --output - "${FLAGS[@]}"
  # The cost of redaction and filters: the /dev/null run again with the rules, runs interleaved
  # with plain ones so that both see the same machine load.
  log "running ours with and without the rules, to /dev/null"
  local i
  for ((i = 1; i <= RUNS; i++)); do
    measure plain_1 1 /dev/null "$BIN" backfill "$CORPUS" --output /dev/null "${FLAGS[@]}"
    measure rules_1 1 /dev/null "$BIN" backfill "$CORPUS" --output /dev/null "${FLAGS[@]}" "${RULES[@]}"
    best_of ours_plain plain_1
    best_of ours_rules rules_1
  done
  CHECK[ours_rules]="(to /dev/null)"

  report | tee "$BENCH_DIR/last.txt"
  exit "$FAILED"
}

main "$@"
