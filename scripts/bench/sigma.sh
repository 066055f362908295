#!/usr/bin/env bash
# What Sigma detections cost: backfill --output with --rules builtin against the same run without.
#
#   scripts/bench/run.sh sigma
#
# Runs `backfill CORPUS --output FILE` (the synthetic bench corpus of throughput.sh, generated once by
# scripts/gen/cloudtrail.py and cached in $CACHE_DIR/bench/) without rules and with `--rules builtin`
# (SigmaHQ's 57 CloudTrail rules), interleaved so that both see the same machine load, and reports the
# best wall and CPU (user + system) time of each and their ratio (budget: 1.15x), the median and range
# of the ratios of the pairs (run i with rules over run i without: on a shared machine the best times
# may come from different moments), plus the findings the rules made. Written to
# $CACHE_DIR/bench/sigma.txt too.
#
# BENCH_SIGMA_CORPUS=real runs the same on real events instead: the repository's corpus
# (tests/corpus/real, 11,799 events) copied BENCH_COPIES times (default 25; corpus.sh). The generated
# corpus fires far more (one rule, AWS STS AssumeRole Misuse, matches most of its AssumeRole calls).
#
# Environment: BENCH_EVENTS (default 120000), BENCH_RUNS (default 5), BENCH_SEED (default 1),
# BENCH_SIGMA_CORPUS (generated or real, default generated), BENCH_COPIES (default 25), BENCH_BIN (a
# binary to use instead of building one).
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
case ${BENCH_SIGMA_CORPUS:-generated} in
  generated)
    sum=$(sha256sum "$GEN" | cut -d' ' -f1)
    if [[ ! -d $CORPUS || $(cat "$CORPUS.gen" 2>/dev/null) != "$sum" ]]; then
      log "generating $EVENTS events into $CORPUS"
      rm -rf "$CORPUS" "$CORPUS.partial" "$CORPUS.bytes"
      python3 "$GEN" --out "$CORPUS.partial" --events "$EVENTS" --seed "$SEED"
      mv "$CORPUS.partial" "$CORPUS"
      echo "$sum" >"$CORPUS.gen"
    fi
    WHAT="$EVENTS generated events"
    ;;
  real)
    # shellcheck source=corpus.sh source-path=SCRIPTDIR
    source "$REPO_ROOT/scripts/bench/corpus.sh"
    CORPUS=$(bench_real_corpus "${BENCH_COPIES:-25}")
    WHAT="real events, tests/corpus/real x ${BENCH_COPIES:-25}"
    ;;
  *) log "BENCH_SIGMA_CORPUS: generated or real, not '$BENCH_SIGMA_CORPUS'"; exit 2 ;;
esac
TMP=$(mktemp -d "${TMPDIR:-/tmp}/cloudtrail-bench-sigma.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

declare -A WALL CPU LAST_WALL LAST_CPU
PAIR_WALL=() PAIR_CPU=()
# one NAME ARGS...: one run of backfill --output; keeps NAME's best and last wall and CPU seconds.
one() {
  local name=$1 wall user sys cpu
  shift
  rm -f "$TMP/out.ndjson"
  /usr/bin/time -f '%e %U %S' -o "$TMP/time" "$BIN" backfill "$CORPUS" --output "$TMP/out.ndjson" \
    --dead-letter "$TMP/dead.ndjson" "$@" 2>"$TMP/$name.stderr"
  read -r wall user sys <"$TMP/time"
  cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
  LAST_WALL[$name]=$wall
  LAST_CPU[$name]=$cpu
  if [[ -z ${WALL[$name]:-} ]] || awk -v a="$wall" -v b="${WALL[$name]}" 'BEGIN { exit !(a < b) }'; then WALL[$name]=$wall; fi
  if [[ -z ${CPU[$name]:-} ]] || awk -v a="$cpu" -v b="${CPU[$name]}" 'BEGIN { exit !(a < b) }'; then CPU[$name]=$cpu; fi
}

log "binary $BIN; $RUNS interleaved runs each"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
for ((i = 1; i <= RUNS; i++)); do
  one plain
  one sigma --rules builtin
  PAIR_WALL+=("$(awk -v a="${LAST_WALL[sigma]}" -v b="${LAST_WALL[plain]}" 'BEGIN { printf "%.3f", a / b }')")
  PAIR_CPU+=("$(awk -v a="${LAST_CPU[sigma]}" -v b="${LAST_CPU[plain]}" 'BEGIN { printf "%.3f", a / b }')")
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
# spread RATIO...: "median M, range MIN-MAX" of the pairs' ratios.
spread() {
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "median %.3fx, range %.3f-%.3fx", m, v[1], v[NR] }'
}
{
  echo "cloudtrail-es sigma bench, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, load $LOAD_START at start, $(cut -d' ' -f1-3 /proc/loadavg) at end"
  echo "corpus: $WHAT ($CORPUS); backfill --output FILE; best of $RUNS interleaved runs"
  echo "without rules:      wall ${WALL[plain]} s, CPU ${CPU[plain]} s"
  echo "--rules builtin:    wall ${WALL[sigma]} s, CPU ${CPU[sigma]} s"
  echo "ratio (budget 1.15): wall $(ratio "${WALL[sigma]}" "${WALL[plain]}")x, CPU $(ratio "${CPU[sigma]}" "${CPU[plain]}")x"
  echo "$RUNS pairs: CPU $(spread "${PAIR_CPU[@]}"); wall $(spread "${PAIR_WALL[@]}")"
  grep '^findings:' "$TMP/sigma.stderr" || true
} | tee "$BENCH_DIR/sigma.txt"
