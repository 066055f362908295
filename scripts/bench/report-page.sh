#!/usr/bin/env bash
# What `report` costs: its speed against backfill --output /dev/null, and its memory on a million distinct principals.
#
# Release build, two modes (BENCH_REPORT_MODE, default both):
#
#   speed   `report` against `backfill --output /dev/null` on the same generated files, each run
#           BENCH_REPORT_ROUNDS times (default 3), best events/s of each; prints the ratio (the goal
#           is at least 0.7: a report reads like a backfill that writes nothing).
#   memory  peak RSS (/usr/bin/time -v) of `report` on a generated input where every event has its
#           own principal, source IP and access key (BENCH_REPORT_DISTINCT, default 1,000,000),
#           against the bound of 200 MB.
#
# Env: BENCH_REPORT_EVENTS (speed input, default 300000), BENCH_DIR (default under the cache),
# BENCH_BIN (a binary to measure instead of building one).
set -euo pipefail
# shellcheck source=../common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
MODE="${BENCH_REPORT_MODE:-both}"
EVENTS="${BENCH_REPORT_EVENTS:-300000}"
DISTINCT="${BENCH_REPORT_DISTINCT:-1000000}"
ROUNDS="${BENCH_REPORT_ROUNDS:-3}"
DIR="${BENCH_DIR:-$CACHE_DIR/bench/report-page}"
BIN="${BENCH_BIN:-$(cloudtrail_es_bin)}"
mkdir -p "$DIR"

# The events/s of a run's summary line (`elapsed: 1.30 s (9111 events/s)`).
rate() { sed -n 's/^elapsed: .*(\([0-9]*\) events\/s)$/\1/p' | tail -n 1; }

if [[ $MODE == speed || $MODE == both ]]; then
  input="$DIR/speed-$EVENTS"
  if [[ ! -d $input ]]; then
    echo "==> generating $EVENTS events in $input"
    python3 "$REPO_ROOT/scripts/gen/cloudtrail.py" --out "$input" --events "$EVENTS" --events-per-file 500 >/dev/null
  fi
  best_backfill=0 best_report=0
  for round in $(seq "$ROUNDS"); do
    b=$("$BIN" -q backfill "$input" --output /dev/null --dead-letter "$DIR/dl.ndjson" 2>&1 | rate)
    r=$("$BIN" -q report "$input" --html "$DIR/speed.html" 2>&1 | rate)
    echo "round $round: backfill --output /dev/null $b events/s, report $r events/s"
    (( b > best_backfill )) && best_backfill=$b
    (( r > best_report )) && best_report=$r
  done
  python3 -c 'import sys; b, r = map(int, sys.argv[1:]); print(f"speed: report {r} events/s, backfill --output /dev/null {b} events/s: ratio {r / b:.2f} (goal >= 0.70)")' \
    "$best_backfill" "$best_report"
fi

if [[ $MODE == memory || $MODE == both ]]; then
  input="$DIR/distinct-$DISTINCT"
  if [[ ! -d $input ]]; then
    echo "==> generating $DISTINCT events, each with its own principal, source IP and access key, in $input"
    python3 - "$input" "$DISTINCT" <<'PY'
import gzip, json, os, sys
out, n = sys.argv[1], int(sys.argv[2])
per_file = 10000
folder = os.path.join(out, "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01")
os.makedirs(folder, exist_ok=True)
for f in range(0, n, per_file):
    records = []
    for i in range(f, min(n, f + per_file)):
        records.append({
            "eventVersion": "1.08", "eventTime": "2024-05-01T%02d:%02d:%02dZ" % (i // 3600 % 24, i // 60 % 60, i % 60),
            "eventSource": "s3.amazonaws.com", "eventName": "PutObject" if i % 3 else "GetObject",
            "awsRegion": "us-east-1", "sourceIPAddress": "10.%d.%d.%d" % (i >> 16 & 255, i >> 8 & 255, i & 255),
            "userAgent": "aws-cli/2.15.0", "eventID": "ev-%09d" % i, "readOnly": i % 3 == 0,
            "recipientAccountId": "111122223333", "eventType": "AwsApiCall",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/user-%09d" % i,
                             "accessKeyId": "AKIA%016d" % i, "userName": "user-%09d" % i},
        })
    name = "111122223333_CloudTrail_us-east-1_20240501T0000Z_%06d.json.gz" % (f // per_file)
    with gzip.open(os.path.join(folder, name), "wt") as fh:
        json.dump({"Records": records}, fh)
PY
  fi
  /usr/bin/time -v "$BIN" report "$input" --html "$DIR/distinct.html" --json "$DIR/distinct.json" 2>"$DIR/time.txt" >/dev/null
  kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$DIR/time.txt")
  grep -E '^(events|elapsed):' "$DIR/time.txt" || true
  python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); print("distinct:", {k: v["count"] for k, v in r["distinct"].items()})' "$DIR/distinct.json"
  echo "memory: peak RSS $((kb / 1024)) MB on $DISTINCT distinct principals, IPs and access keys (bound: 200 MB)"
fi
