#!/usr/bin/env bash
# What `report` costs: its speed against backfill --output /dev/null, and its memory on a million distinct principals.
#
# Release build, two modes (BENCH_REPORT_MODE, default both):
#
#   speed   `report` against `backfill --output /dev/null` on the same files, each run
#           BENCH_REPORT_ROUNDS times (default 3), best events/s of each; prints the ratio (the goal
#           is at least 0.7: a report reads like a backfill that writes nothing), on two inputs:
#           real   the repository's real events (tests/corpus/real, 11,799 events from public
#                  sources) copied BENCH_REPORT_COPIES times (default 25): real shapes and real
#                  numbers of distinct principals, keys and addresses;
#           worst  BENCH_REPORT_EVENTS generated events (scripts/gen/cloudtrail.py), where every
#                  call with temporary credentials has a key and session of its own (159,000
#                  access keys in 300,000 events, against 179 in the real 11,799): nearly every
#                  event adds new keys to the tables, the counting's worst case.
#   memory  peak RSS (/usr/bin/time -v) of `report` on a generated input where every event has its
#           own principal, source IP and access key (BENCH_REPORT_DISTINCT, default 1,000,000),
#           against the bound of 200 MB.
#
# Env: BENCH_REPORT_EVENTS (worst-case input, default 300000), BENCH_REPORT_INPUTS (default
# "real worst"), BENCH_DIR (default under the cache), BENCH_BIN (a binary to measure instead of
# building one).
set -euo pipefail
# shellcheck source=../common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
# shellcheck source=corpus.sh source-path=SCRIPTDIR
source "$REPO_ROOT/scripts/bench/corpus.sh"
MODE="${BENCH_REPORT_MODE:-both}"
EVENTS="${BENCH_REPORT_EVENTS:-300000}"
DISTINCT="${BENCH_REPORT_DISTINCT:-1000000}"
ROUNDS="${BENCH_REPORT_ROUNDS:-3}"
COPIES="${BENCH_REPORT_COPIES:-25}"
INPUTS="${BENCH_REPORT_INPUTS:-real worst}"
DIR="${BENCH_DIR:-$CACHE_DIR/bench/report-page}"
BIN="${BENCH_BIN:-$(cloudtrail_es_bin)}"
mkdir -p "$DIR"

# The events/s of a run's summary line (`elapsed: 1.30 s (9111 events/s)`).
rate() { sed -n 's/^elapsed: .*(\([0-9]*\) events\/s)$/\1/p' | tail -n 1; }

# Prints the ratio of report's events/s to backfill's on `$1`, described as `$2`.
speed() {
  local input=$1 what=$2 best_backfill=0 best_report=0 b r round
  for round in $(seq "$ROUNDS"); do
    b=$("$BIN" -q backfill "$input" --output /dev/null --dead-letter "$DIR/dl.ndjson" 2>&1 | rate)
    r=$("$BIN" -q report "$input" --html "$DIR/speed.html" 2>&1 | rate)
    echo "round $round ($what): backfill --output /dev/null $b events/s, report $r events/s"
    (( b > best_backfill )) && best_backfill=$b
    (( r > best_report )) && best_report=$r
  done
  python3 -c 'import sys; w, b, r = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]); print(f"speed ({w}): report {r} events/s, backfill --output /dev/null {b} events/s: ratio {r / b:.2f} (goal >= 0.70)")' \
    "$what" "$best_backfill" "$best_report"
}

if [[ $MODE == speed || $MODE == both ]]; then
  for which in $INPUTS; do
    case $which in
      real)
        speed "$(bench_real_corpus "$COPIES")" "real events, tests/corpus/real x $COPIES"
        ;;
      worst)
        input="$DIR/speed-$EVENTS"
        if [[ ! -d $input ]]; then
          echo "==> generating $EVENTS events in $input"
          python3 "$REPO_ROOT/scripts/gen/cloudtrail.py" --out "$input" --events "$EVENTS" --events-per-file 500 >/dev/null
        fi
        speed "$input" "generated, a key per call: the worst case"
        ;;
      *) echo "BENCH_REPORT_INPUTS: unknown input '$which' (real, worst)" >&2; exit 2 ;;
    esac
  done
fi

if [[ $MODE == memory || $MODE == both ]]; then
  input="$DIR/distinct-$DISTINCT"
  if [[ ! -d $input ]]; then
    echo "==> generating $DISTINCT events, each with its own principal, source IP and access key, in $input"
    python3 "$REPO_ROOT/scripts/gen/distinct.py" "$input" "$DISTINCT"
  fi
  /usr/bin/time -v "$BIN" report "$input" --html "$DIR/distinct.html" --json "$DIR/distinct.json" 2>"$DIR/time.txt" >/dev/null
  kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$DIR/time.txt")
  grep -E '^(events|elapsed):' "$DIR/time.txt" || true
  python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); print("distinct:", {k: v["count"] for k, v in r["distinct"].items()})' "$DIR/distinct.json"
  echo "memory: peak RSS $((kb / 1024)) MB on $DISTINCT distinct principals, IPs and access keys (bound: 200 MB)"
fi
