# shellcheck shell=bash
# The generated corpus the cluster benchmarks share (e2e.sh and storage.sh measure the same events):
# one cache, $CACHE_DIR/bench/gen-EVENTS-SEED, made once with scripts/gen/cloudtrail.py (3 accounts,
# 7 days, no digest files). Source it after common.sh; it defines a function and runs nothing.

# bench_generated_corpus EVENTS SEED: makes the corpus if needed (progress on stderr), prints its path.
bench_generated_corpus() {
  local events=$1 seed=$2 dir
  dir="$CACHE_DIR/bench/gen-$events-$seed"
  if [[ ! -d $dir ]]; then
    echo "bench: generating $events events into $dir" >&2
    mkdir -p "$CACHE_DIR/bench"
    rm -rf "$dir.partial"
    python3 "$REPO_ROOT/scripts/gen/cloudtrail.py" --out "$dir.partial" --events "$events" --seed "$seed" \
      --accounts 3 --days 7 --no-digests >&2
    mv "$dir.partial" "$dir"
  fi
  echo "$dir"
}
