#!/usr/bin/env bash
# The reader against a minimal floor program, files -> bulk NDJSON, as a speed ratio over pairs.
# `cloudtrail-es backfill --output /dev/null` against examples/floor.rs, the least a program must do
# for the same output (decompress whole with flate2/zlib-rs, split Records with serde_json RawValue,
# read eventID/eventTime, write the action line and the raw event; one thread per CPU over files).
#
#   scripts/bench/run.sh floor
#
# Runs BENCH_FLOOR_PAIRS pairs, each pair one run of each, back to back, the order alternating from
# one pair to the next, so that both see the same machine load; reports, over the pairs, the
# median and range of the ours-vs-floor speed (floor time / our time: 1 is as fast as the floor)
# by wall time and by CPU time (user + sys), the peak RSS of each, and the load average before and
# after (read the figures with it: on a shared machine the wall ratio is noisy, the CPU one less).
# The corpus is the one scripts/bench/throughput.sh generates (cached in $CACHE_DIR/bench/).
#
# Environment: BENCH_EVENTS (120000), BENCH_SEED (1), BENCH_FLOOR_PAIRS (15), BENCH_FLAGS (extra
# flags for cloudtrail-es, split on spaces), BENCH_BIN (a cloudtrail-es binary to measure instead of
# this tree's release build, e.g. an older one kept aside).
set -euo pipefail
# shellcheck source=../common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"

EVENTS=${BENCH_EVENTS:-120000}
SEED=${BENCH_SEED:-1}
PAIRS=${BENCH_FLOOR_PAIRS:-15}
read -r -a FLAGS <<<"${BENCH_FLAGS:-}"
GEN="$REPO_ROOT/scripts/gen/cloudtrail.py"
CORPUS="$CACHE_DIR/bench/corpus-$EVENTS-$SEED"

log() { echo "bench-floor: $*" >&2; }

# The same corpus as throughput.sh's, made once and reused until the generator changes.
generate() {
  local sum
  sum=$(sha256sum "$GEN" | cut -d' ' -f1)
  [[ -d $CORPUS && $(cat "$CORPUS.gen" 2>/dev/null) == "$sum" ]] && return 0
  log "generating $EVENTS events into $CORPUS"
  mkdir -p "$(dirname "$CORPUS")"
  rm -rf "$CORPUS" "$CORPUS.partial" "$CORPUS.bytes"
  python3 "$GEN" --out "$CORPUS.partial" --events "$EVENTS" --seed "$SEED"
  mv "$CORPUS.partial" "$CORPUS"
  echo "$sum" >"$CORPUS.gen"
}

# run NAME CMD...: one run to /dev/null; appends "wall cpu rss_mb" to $TMP/NAME.
run() {
  local name=$1 wall kb user sys
  shift
  /usr/bin/time -f '%e %M %U %S' -o "$TMP/time" "$@" >/dev/null 2>"$TMP/stderr" || {
    log "$name failed:"
    tail -n 5 "$TMP/stderr" >&2
    exit 1
  }
  read -r wall kb user sys <"$TMP/time"
  awk -v w="$wall" -v u="$user" -v s="$sys" -v k="$kb" 'BEGIN { printf "%s %.2f %.1f\n", w, u + s, k / 1024 }' >>"$TMP/$name"
}

main() {
  (cd "$REPO_ROOT" && cargo build --release --quiet --bin cloudtrail-es --example floor) >&2
  local ours=${BENCH_BIN:-$CARGO_TARGET_DIR/release/cloudtrail-es} floor="$CARGO_TARGET_DIR/release/examples/floor"
  generate
  TMP=$(mktemp -d "${TMPDIR:-/tmp}/cloudtrail-floor.XXXXXX")
  trap 'rm -rf "$TMP"' EXIT
  local ours_cmd=("$ours" backfill "$CORPUS" --output /dev/null "${FLAGS[@]}") floor_cmd=("$floor" "$CORPUS")
  # Same output: 2 lines per event from both.
  local lines_ours lines_floor
  lines_ours=$("$ours" backfill "$CORPUS" --output - "${FLAGS[@]}" 2>/dev/null | wc -l)
  lines_floor=$("${floor_cmd[@]}" | wc -l)
  if [[ $lines_ours -ne $((2 * EVENTS)) || $lines_floor -ne $((2 * EVENTS)) ]]; then
    log "output lines: ours $lines_ours, floor $lines_floor, expected $((2 * EVENTS))"
    exit 1
  fi
  local load_before i
  load_before=$(cut -d' ' -f1-3 /proc/loadavg)
  log "$PAIRS pairs, load average $load_before"
  for ((i = 1; i <= PAIRS; i++)); do
    if ((i % 2)); then
      run ours "${ours_cmd[@]}"
      run floor "${floor_cmd[@]}"
    else
      run floor "${floor_cmd[@]}"
      run ours "${ours_cmd[@]}"
    fi
  done
  echo "cloudtrail-es vs the floor program, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs"
  echo "corpus: $EVENTS events in $(find "$CORPUS" -name '*.json.gz' -not -path '*Digest*' | wc -l) files ($CORPUS)"
  echo "load average before: $load_before, after: $(cut -d' ' -f1-3 /proc/loadavg)"
  paste -d' ' "$TMP/ours" "$TMP/floor" | awk -v pairs="$PAIRS" '
    function median(a, n,   i, j, t) {
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
      return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    {
      n++; wall[n] = $4 / $1; cpu[n] = $5 / $2; w[n] = wall[n]; c[n] = cpu[n]
      if ($3 > rss_ours) rss_ours = $3; if ($6 > rss_floor) rss_floor = $6
      ours_wall[n] = $1; floor_wall[n] = $4
    }
    END {
      mw = median(w, n); mc = median(c, n)
      printf "speed vs the floor (floor time / ours, %d pairs): wall %.2f [%.2f-%.2f], CPU %.2f [%.2f-%.2f]\n", n, mw, w[1], w[n], mc, c[1], c[n]
      printf "median wall s: ours %.2f, floor %.2f; peak RSS MB: ours %.1f, floor %.1f\n", median(ours_wall, n), median(floor_wall, n), rss_ours, rss_floor
    }'
}

main "$@"
