# shellcheck shell=bash
# The corpora benchmarks share. The generated one (e2e.sh and storage.sh measure the same events):
# one cache, $CACHE_DIR/bench/gen-EVENTS-SEED, made once with scripts/gen/cloudtrail.py (3 accounts,
# 7 days, no digest files). The real one (report-page.sh and sigma.sh): the repository's real events,
# tests/corpus/real, copied COPIES times into $CACHE_DIR/bench/real-xCOPIES. Source it after
# common.sh; it defines functions and runs nothing.

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

# bench_real_corpus COPIES: makes the copies of tests/corpus/real if needed, prints their path. Real
# events (11,799 from public sources) with their real shapes and their few distinct principals and
# keys, where the generator gives every temporary-credential call a key of its own.
bench_real_corpus() {
  local copies=$1 dir i
  dir="$CACHE_DIR/bench/real-x$copies"
  if [[ ! -d $dir ]]; then
    echo "bench: copying tests/corpus/real $copies times into $dir" >&2
    rm -rf "$dir.partial"
    for i in $(seq "$copies"); do
      mkdir -p "$dir.partial/copy-$i"
      cp -R "$REPO_ROOT/tests/corpus/real/." "$dir.partial/copy-$i/"
    done
    mv "$dir.partial" "$dir"
  fi
  echo "$dir"
}
