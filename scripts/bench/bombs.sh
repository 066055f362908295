#!/usr/bin/env bash
# Benchmark: peak memory and time of cloudtrail-es on hostile files, each a small .gz with one
# huge part: a 1 GiB and a 5 GiB record, 5 GiB of whitespace, 1 GiB of newlines inside a record, a
# 1 GiB top-level key, a 1 GiB non-Records value, a 1 GiB CloudWatch Logs message
# (scripts/bench/bombs.py writes them, streamed: a few MB each on disk, cached in
# $CACHE_DIR/bench-bombs/). Each is run as `cloudtrail-es backfill FILE --output FILE` under
# /usr/bin/time -v; the report gives peak RSS, wall time, the exit status and the stderr line that
# names the file. With BOMBS_MODE=follow (or both), each bomb is instead uploaded to moto (the dev
# stack's, scripts/bench/follow_bomb.py) and announced on a fresh SQS queue, and `cloudtrail-es
# follow --queue URL --output FILE` runs under time -v until the message is deleted, then gets
# SIGTERM. Targets (docs/design/reliability.md): peak RSS under 150 MB for every bomb in both modes; whitespace
# skipped in bulk. Targets are reported, never enforced: the exit status is non-zero only if a run
# could not be measured.
#
#   scripts/bench/bombs.sh                 # the binary built from this tree
#   BOMBS_BASELINE=/path/to/old/cloudtrail-es scripts/bench/bombs.sh   # and a before/after table
#
# Environment:
#   BOMBS             which bombs (default: all, see bombs.py)
#   BOMBS_BIN         cloudtrail-es binary to measure instead of building it with cargo
#   BOMBS_BASELINE    another binary to measure on BOMBS_BASELINE_ONLY (before/after)
#   BOMBS_BASELINE_ONLY  bombs for the baseline (default "spaces-5g record-1g value-1g": an old
#                     binary buffers a whole record, so the 5 GiB ones would take >10 GB or abort)
#   BOMBS_TIMEOUT     seconds allowed per run (default 600)
#   BOMBS_MODE        backfill (default), follow, or both (follow needs `scripts/dev/dev-stack.sh up moto`)
set -euo pipefail
# shellcheck source=../common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"

ALL="record-1g record-5g spaces-5g newlines-in-record-1g key-1g value-1g cloudwatch-message-1g"
read -r -a NAMES <<<"${BOMBS:-$ALL}"
read -r -a BASE_NAMES <<<"${BOMBS_BASELINE_ONLY:-spaces-5g record-1g value-1g}"
TIMEOUT=${BOMBS_TIMEOUT:-600}
DIR="$CACHE_DIR/bench-bombs"
TIME=/usr/bin/time
[[ -x $TIME ]] || { echo "needs GNU time at $TIME (apt-get install time)" >&2; exit 1; }

BIN=${BOMBS_BIN:-$(cloudtrail_es_bin)}
echo "building the bombs in $DIR (once)..." >&2
python3 "$REPO_ROOT/scripts/bench/bombs.py" "$DIR" "${NAMES[@]}" >/dev/null

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

MODE=${BOMBS_MODE:-backfill}
MOTO_PY="$CACHE_DIR/venv/bin/python"
export AWS_ENDPOINT_URL=${AWS_ENDPOINT_URL:-http://127.0.0.1:5000} AWS_REGION=us-east-1 \
  AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_EC2_METADATA_DISABLED=true

# follow_one BIN FILE: follows a fresh queue announcing FILE until its message is deleted, then
# stops the follower with SIGTERM (time -v measures it); returns the follower's exit status.
follow_one() {
  local bin=$1 file=$2 queue waited=0
  queue=$("$MOTO_PY" "$REPO_ROOT/scripts/bench/follow_bomb.py" setup "$file")
  (cd "$WORK" && exec "$TIME" -v -o "$WORK/time" "$bin" follow --queue "$queue" --output "$WORK/out.ndjson" \
    --dead-letter "$WORK/dead.ndjson" -q 2>"$WORK/err") &
  local timer=$!
  sleep 2
  while kill -0 "$timer" 2>/dev/null &&
    [[ $("$MOTO_PY" "$REPO_ROOT/scripts/bench/follow_bomb.py" pending "$queue") != 0 ]]; do
    sleep 1
    waited=$((waited + 1))
    ((waited < TIMEOUT)) || break
  done
  pkill -TERM -P "$timer" || true
  wait "$timer"
}

# measure BIN NAME: prints "NAME  RSS_MB  SECONDS  EXIT  what stderr said about the file"
measure() {
  local bin=$1 name=$2 file="$DIR/$2.json.gz" code=0
  if [[ $MODE == follow ]]; then
    follow_one "$bin" "$file" || code=$?
  else
    (cd "$WORK" && timeout "$TIMEOUT" "$TIME" -v -o "$WORK/time" "$bin" backfill "$file" --output "$WORK/out.ndjson" \
      --dead-letter "$WORK/dead.ndjson" -q 2>"$WORK/err") || code=$?
  fi
  local rss secs said
  rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2 / 1024}' "$WORK/time")
  secs=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.1f", s}' "$WORK/time")
  local named=$name
  [[ $MODE == follow ]] && named=_bomb.json.gz
  said=$(grep -F "$named" "$WORK/err" | head -1 | sed -e 's/.*json.gz: //' | cut -c1-110 || true)
  [[ -n $rss ]] || { echo "$name: not measured (exit $code): $(head -3 "$WORK/err")" >&2; return 1; }
  printf '%-24s %9s %8s %5s  %s\n' "$name" "$rss" "$secs" "$code" "${said:-(nothing)}"
  rm -f "$WORK/dead.ndjson" "$WORK/out.ndjson"
}

report() {
  local bin=$1
  shift
  printf '%-24s %9s %8s %5s  %s\n' bomb "RSS MB" seconds exit "what it said"
  for name in "$@"; do measure "$bin" "$name"; done
}

if [[ $MODE == both ]]; then
  for MODE in backfill follow; do
    echo "== $BIN ($MODE)"
    report "$BIN" "${NAMES[@]}"
  done
else
  echo "== $BIN ($MODE)"
  report "$BIN" "${NAMES[@]}"
fi
if [[ -n ${BOMBS_BASELINE:-} ]]; then
  python3 "$REPO_ROOT/scripts/bench/bombs.py" "$DIR" "${BASE_NAMES[@]}" >/dev/null
  echo
  echo "== baseline $BOMBS_BASELINE"
  report "$BOMBS_BASELINE" "${BASE_NAMES[@]}"
fi
