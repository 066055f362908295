#!/usr/bin/env bash
# What Sigma detections cost: backfill --output with --rules builtin against the same run without.
#
#   scripts/bench/run.sh sigma
#
# Runs `backfill CORPUS --output FILE` (the synthetic bench corpus of throughput.sh, generated once by
# scripts/gen/cloudtrail.py and cached in $CACHE_DIR/bench/) without rules and with `--rules builtin`
# (SigmaHQ's 57 CloudTrail rules), interleaved so that both see the same machine load, and reports the
# best wall and CPU (user + system) time of each and their ratio (budget: 1.15x), plus the findings
# the rules made. Written to $CACHE_DIR/bench/sigma.txt too.
#
# Environment: BENCH_EVENTS (default 120000), BENCH_RUNS (default 5), BENCH_SEED (default 1),
# BENCH_BIN (a binary to use instead of building one).
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"

EVENTS=${BENCH_EVENTS:-120000}
RUNS=${BENCH_RUNS:-5}
SEED=${BENCH_SEED:-1}
BENCH_DIR="$CACHE_DIR/bench"
GEN="$REPO_ROOT/scripts/gen/cloudtrail.py"
CORPUS="$BENCH_DIR/corpus-$EVENTS-$SEED"

log() { echo "bench sigma: $*" >&2; }

BIN=${BENCH_BIN:-$(cloudtrail_es_bin)}
mkdir -p "$BENCH_DIR"
sum=$(sha256sum "$GEN" | cut -d' ' -f1)
if [[ ! -d $CORPUS || $(cat "$CORPUS.gen" 2>/dev/null) != "$sum" ]]; then
  log "generating $EVENTS events into $CORPUS"
  rm -rf "$CORPUS" "$CORPUS.partial" "$CORPUS.bytes"
  python3 "$GEN" --out "$CORPUS.partial" --events "$EVENTS" --seed "$SEED"
  mv "$CORPUS.partial" "$CORPUS"
  echo "$sum" >"$CORPUS.gen"
fi
TMP=$(mktemp -d "${TMPDIR:-/tmp}/cloudtrail-bench-sigma.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

declare -A WALL CPU
# one NAME ARGS...: one run of backfill --output; keeps NAME's best wall and CPU seconds.
one() {
  local name=$1 wall user sys cpu
  shift
  rm -f "$TMP/out.ndjson"
  /usr/bin/time -f '%e %U %S' -o "$TMP/time" "$BIN" backfill "$CORPUS" --output "$TMP/out.ndjson" \
    --dead-letter "$TMP/dead.ndjson" "$@" 2>"$TMP/$name.stderr"
  read -r wall user sys <"$TMP/time"
  cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
  if [[ -z ${WALL[$name]:-} ]] || awk -v a="$wall" -v b="${WALL[$name]}" 'BEGIN { exit !(a < b) }'; then WALL[$name]=$wall; fi
  if [[ -z ${CPU[$name]:-} ]] || awk -v a="$cpu" -v b="${CPU[$name]}" 'BEGIN { exit !(a < b) }'; then CPU[$name]=$cpu; fi
}

log "binary $BIN; $RUNS interleaved runs each"
for ((i = 1; i <= RUNS; i++)); do
  one plain
  one sigma --rules builtin
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
{
  echo "cloudtrail-es sigma bench, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "corpus: $EVENTS events ($CORPUS); backfill --output FILE; best of $RUNS interleaved runs"
  echo "without rules:      wall ${WALL[plain]} s, CPU ${CPU[plain]} s"
  echo "--rules builtin:    wall ${WALL[sigma]} s, CPU ${CPU[sigma]} s"
  echo "ratio (budget 1.15): wall $(ratio "${WALL[sigma]}" "${WALL[plain]}")x, CPU $(ratio "${CPU[sigma]}" "${CPU[plain]}")x"
  grep '^findings:' "$TMP/sigma.stderr" || true
} | tee "$BENCH_DIR/sigma.txt"
