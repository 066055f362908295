#!/usr/bin/env bash
# The one entry point of the benchmarks: `scripts/bench/run.sh NAME [ARGS...]` runs scripts/bench/NAME.sh;
# without NAME it lists them. Each bench's header says what it measures and which environment it reads.
# Generated corpora are cached under $CACHE_DIR/bench/ (common.sh; e2e and storage share theirs: corpus.sh).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
benches="throughput floor s3 storage e2e node-profile memory bombs report-page sigma lambda"

if [[ $# -eq 0 || $1 == -h || $1 == --help ]]; then
  echo "usage: scripts/bench/run.sh NAME [ARGS...]"
  for name in $benches; do
    printf '  %-11s %s\n' "$name" "$(sed -n '2s/^# //p' "$here/$name.sh")"
  done
  exit 0
fi
name=$1
shift
case " $benches " in
  *" $name "*) exec "$here/$name.sh" "$@" ;;
  *) echo "unknown bench: $name (one of: $benches)" >&2; exit 2 ;;
esac
