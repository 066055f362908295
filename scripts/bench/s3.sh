#!/usr/bin/env bash
# S3 backfill throughput against moto, next to a local-folder backfill of the same files.
#   scripts/bench/s3.sh            (env: BENCH_EVENTS, default 20000)
# Starts moto (dev-stack.sh), generates a trail bucket with scripts/gen/cloudtrail.py, uploads it with the
# moto venv's boto3, then times `backfill s3://… --output FILE` and `backfill DIR --output FILE`.
# moto serves GetObject at roughly 100 requests/s on one core, so this measures our crawler and
# downloader against a slow server, not S3 itself. Numbers are reported, never asserted.
set -euo pipefail
# shellcheck source=../common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"

EVENTS=${BENCH_EVENTS:-20000}
MOTO=${MOTO_URL:-http://127.0.0.1:5000}
"$REPO_ROOT/scripts/dev/dev-stack.sh" up moto
BIN=$(cloudtrail_es_bin)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/cloudtrail-bench-s3.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
BUCKET="bench-s3-$$"

python3 "$REPO_ROOT/scripts/gen/cloudtrail.py" --out "$TMP/data" --events "$EVENTS" --seed 5
"$CACHE_DIR/venv/bin/python" - "$MOTO" "$BUCKET" "$TMP/data" <<'PY'
import os, sys, boto3
endpoint, bucket, root = sys.argv[1:]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id="testing", aws_secret_access_key="testing")
s3.create_bucket(Bucket=bucket)
for dirpath, _, files in os.walk(root):
    for f in files:
        path = os.path.join(dirpath, f)
        s3.upload_file(path, bucket, os.path.relpath(path, root))
PY

export AWS_ENDPOINT_URL="$MOTO" AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
run() { # NAME SOURCE
  local t0 t1
  t0=$(date +%s.%N)
  "$BIN" backfill "$2" --output "$TMP/out.ndjson" -q 2>"$TMP/err" || { cat "$TMP/err"; exit 1; }
  t1=$(date +%s.%N)
  awk -v n="$1" -v a="$t0" -v b="$t1" -v e="$EVENTS" -v l="$(wc -l <"$TMP/out.ndjson")" \
    'BEGIN { printf "%-28s %7.2f s %9.0f events/s  (%d output lines)\n", n, b - a, e / (b - a), l }'
}
echo "backfill of $EVENTS events ($(find "$TMP/data" -path '*CloudTrail/*' -type f | wc -l) log files)"
run "local folder" "$TMP/data"
run "s3:// (moto, loopback)" "s3://$BUCKET/"
