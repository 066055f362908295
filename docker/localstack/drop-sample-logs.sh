#!/bin/bash
# Drops freshly generated CloudTrail log files into the trail bucket, as CloudTrail would: run it in
# the LocalStack container (docker-compose.yml mounts it and the generator there):
#
#   docker compose exec localstack /opt/cloudtrail-es/drop-sample-logs.sh [EVENTS]
#
# EVENTS (default 2000) events over the last day (new event IDs on every run), in the trail's S3
# layout with digest files; each new object is announced on the queue that cloudtrail-es follows.
# Env: BUCKET, GEN (the generator), AWS_CLI (as in init-aws.sh).
set -euo pipefail
EVENTS="${1:-2000}"
BUCKET="${BUCKET:-cloudtrail-logs}"
GEN="${GEN:-/opt/cloudtrail-es/gen-cloudtrail.py}"
read -r -a AWS <<<"${AWS_CLI:-awslocal}"

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
python3 "$GEN" --out "$dir" --events "$EVENTS" --days 1 --start "$(date -u -d yesterday +%F)" \
  --seed "$(date +%s)" >&2
"${AWS[@]}" s3 cp --recursive --only-show-errors "$dir" "s3://$BUCKET/"
echo "dropped $EVENTS events into s3://$BUCKET/ ($(find "$dir" -name '*.json.gz' | wc -l) objects)"
