#!/usr/bin/env bash
# Where a node's CPU goes while it indexes a backfill: a JFR profile per variant, summed up by stage.
#
#   scripts/bench/node-profile.sh                       # Elasticsearch 8.19: template, then floor
#   NODE_PROFILE_ENGINE=opensearch NODE_PROFILE_VERSION=3.6.0 scripts/bench/node-profile.sh template floor
#
# It starts one dedicated node (as e2e.sh does: scripts/bench/nodes.sh), gives it BENCH_E2E_WARMUPS
# (3) unmeasured backfills, then per variant (e2e.sh's names: template, floor, exp:...) records a JFR
# profile (`jcmd JFR.start settings=profile`) of one backfill of the same events as e2e.sh, refreshed
# and flushed, and prints the node's CPU and scripts/bench/jfr_summary.py of the recording: the
# share of the JIT compiler, then the samples by stage (parsing, indexing the fields, writing
# segments, cluster-state updates, merges...) and the costs looked for by name (date parsing,
# flat_object / flattened, index sorting). Compare counts between variants of one run, not runs.
# The recordings stay in $BENCH_STACK_DIR/node-profile/ (where the node's user, not only ours, can write).
#
# Environment: NODE_PROFILE_ENGINE (elasticsearch), NODE_PROFILE_VERSION (8.19.21 or 3.6.0),
# NODE_PROFILE_PORT (9294), BENCH_E2E_EVENTS (100000), BENCH_E2E_SEED (5), BENCH_E2E_WARMUPS (3),
# BENCH_E2E_HEAP (1g), BENCH_BIN (binary instead of a cargo build).
set -euo pipefail
# shellcheck source=../common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
# shellcheck source=bench/nodes.sh source-path=SCRIPTDIR
source "$REPO_ROOT/scripts/bench/nodes.sh"
# shellcheck source=corpus.sh source-path=SCRIPTDIR
source "$REPO_ROOT/scripts/bench/corpus.sh"

ENGINE=${NODE_PROFILE_ENGINE:-elasticsearch}
if [[ $ENGINE == opensearch ]]; then VERSION=${NODE_PROFILE_VERSION:-3.6.0}; else VERSION=${NODE_PROFILE_VERSION:-8.19.21}; fi
PORT=${NODE_PROFILE_PORT:-9294}
U="http://127.0.0.1:$PORT"
VARIANTS=("$@")
((${#VARIANTS[@]})) || VARIANTS=(template floor)

log() { echo "node-profile: $*" >&2; }
node_cpu_ms() {
  curl -sS "$U/_nodes/_local/stats/process?filter_path=nodes.*.process.cpu.total_in_millis" |
    grep -o '"total_in_millis":[0-9]*' | cut -d: -f2
}
install_variant() {
  local variant=$1 p=$2
  if [[ $variant == template ]]; then "$BIN" setup --es "$U" --index-prefix "$p" >/dev/null; return; fi
  curl -sS --fail-with-body -X PUT -H 'content-type: application/json' "$U/_index_template/$p" \
    -d "$(python3 "$REPO_ROOT/scripts/bench/variants.py" body "$variant" "$ENGINE" "$p")" >/dev/null
}
backfill() { "$BIN" backfill "${SOURCES[@]}" --es "$U" --index-prefix "$1" --no-setup -q >/dev/null 2>&1 || true; }
# jcmd_as_node ARGS...: jcmd against the node, as the user it runs as (JFR's attach needs it).
jcmd_as_node() { "${BENCH_RUN_AS[@]}" "$JDK/bin/jcmd" "$PID" "$@" >/dev/null; }

main() {
  local gen real i v p f c0 c1
  BIN=${BENCH_BIN:-$(cloudtrail_es_bin)}
  gen=$(bench_generated_corpus "${BENCH_E2E_EVENTS:-100000}" "${BENCH_E2E_SEED:-5}")
  SOURCES=("$gen")
  for real in "$REPO_ROOT/tests/corpus/real" "$REPO_ROOT/../shared/corpus/real"; do
    [[ -d $real ]] && { SOURCES+=("$real"); break; }
  done
  JDK=$(bench_node_jdk "$ENGINE" "$VERSION")
  OUT="$BENCH_STACK_DIR/node-profile"
  install -d -m 1777 "$OUT"
  trap bench_nodes_stop EXIT
  trap 'exit 130' INT TERM
  bench_node_start "$ENGINE" "$VERSION" "$PORT"
  bench_node_wait "$ENGINE" "$PORT"
  PID=$(cat "${BENCH_NODE_RUN[$ENGINE]}/server.pid" 2>/dev/null || bench_node_pids "$ENGINE" | tail -n 1)
  for ((i = 1; i <= ${BENCH_E2E_WARMUPS:-3}; i++)); do
    log "warm-up load $i (not measured)"
    install_variant template profile-warmup
    backfill profile-warmup
    curl -sS -X DELETE "$U/profile-warmup-*" >/dev/null
  done
  for v in "${VARIANTS[@]}"; do
    p="profile-$(tr -c 'a-z0-9\n' '-' <<<"$v")"
    f="$OUT/$ENGINE-$VERSION-${p#profile-}.jfr"
    rm -f "$f"
    install_variant "$v" "$p"
    jcmd_as_node JFR.start name=node-profile settings=profile "filename=$f"
    c0=$(node_cpu_ms)
    backfill "$p"
    curl -sS -X POST "$U/_refresh" >/dev/null
    curl -sS -X POST "$U/_flush" >/dev/null
    c1=$(node_cpu_ms)
    jcmd_as_node JFR.stop name=node-profile
    [[ -s $f ]] || { log "the node wrote no recording to $f"; return 1; }
    echo "== $ENGINE $VERSION $v: node CPU $((c1 - c0)) ms ($f)"
    python3 "$REPO_ROOT/scripts/bench/jfr_summary.py" --jfr "$JDK/bin/jfr" "$f"
    curl -sS -X DELETE "$U/$p-*" >/dev/null
    curl -sS -X DELETE "$U/_index_template/$p" >/dev/null
  done
}

main "$@"
