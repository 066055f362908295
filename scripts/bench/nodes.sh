# shellcheck shell=bash
# Dedicated, throw-away Elasticsearch / OpenSearch nodes for scripts/bench/e2e.sh. The dev nodes
# (:9200, :9201) also serve other people's test runs, whose indexing would be counted in their CPU;
# these nodes serve the bench alone, on their own loopback ports, with their own data dir, and are
# stopped (and their data removed) by bench_nodes_stop. Source it after common.sh; it runs nothing.
#
# They start the way scripts/dev/dev-stack.sh starts its nodes (read it, this file does not change it):
# from the zips it already unpacked under its STACK_DIR, with a copy of the server's config, as the
# unprivileged service user when run as root (ES and OpenSearch refuse root), single-node, security
# off, the JDK dev-stack picks for that version. Only the ports, the cluster name, the data dir and
# the heap (BENCH_E2E_HEAP, default 1g) differ.

BENCH_SVC_USER=cloudtrail-es-it
if ((EUID == 0)); then
  BENCH_STACK_DIR="${CLOUDTRAIL_ES_STACK_DIR:-/var/tmp/cloudtrail-es}"; BENCH_RUN_AS=(runuser -u "$BENCH_SVC_USER" --)
else
  BENCH_STACK_DIR="${CLOUDTRAIL_ES_STACK_DIR:-$CACHE_DIR}"; BENCH_RUN_AS=()
fi
declare -A BENCH_NODE_RUN=()   # server name -> run dir of the node started by this shell

# bench_node_home SERVER VERSION: the unpacked server, or an error saying how to get it.
bench_node_home() {
  local home="$BENCH_STACK_DIR/servers/$1-$2"
  [[ -x $home/bin/$1 ]] || { echo "bench: no $1 $2 under $BENCH_STACK_DIR/servers: run scripts/dev/dev-stack.sh up first" >&2; return 1; }
  echo "$home"
}

# bench_node_jdk SERVER VERSION: the JDK dev-stack.sh picks (`jdk_for` in common.sh).
bench_node_jdk() {
  jdk_for "$1" "$2" || { echo "bench: no JDK for $1 $2 under /usr/lib/jvm" >&2; return 1; }
}

# bench_node_start SERVER VERSION PORT: starts a node in the background (does not wait).
bench_node_start() {
  local server=$1 ver=$2 port=$3 home jdk run
  home=$(bench_node_home "$server" "$ver") || return 1
  jdk=$(bench_node_jdk "$server" "$ver") || return 1
  if curl -s -m 2 -o /dev/null "http://127.0.0.1:$port/"; then
    echo "bench: something already answers on 127.0.0.1:$port; choose other ports (BENCH_E2E_ES_PORT / BENCH_E2E_OS_PORT)" >&2
    return 1
  fi
  ((EUID != 0)) || id "$BENCH_SVC_USER" >/dev/null 2>&1 || { echo "bench: user $BENCH_SVC_USER missing: run scripts/dev/dev-stack.sh up first" >&2; return 1; }
  install -d -m 755 "$BENCH_STACK_DIR/run"
  run=$(mktemp -d "$BENCH_STACK_DIR/run/bench-$server.XXXXXX")
  chmod 755 "$run"
  BENCH_NODE_RUN[$server]=$run
  mkdir -p "$run"/{data,logs,tmp}
  cp -r "$home/config" "$run/config"
  sed -i -e "s#=data\$#=$run/data#" -e "s#logs/#$run/logs/#g" "$run/config/jvm.options"
  {
    echo "cluster.name: cloudtrail-es-bench-$port"
    echo "node.name: bench-$server"
    echo "path.data: $run/data"
    echo "path.logs: $run/logs"
    echo "network.host: 127.0.0.1"
    echo "http.port: $port"
    echo "transport.port: $((port + 100))"
    echo "discovery.type: single-node"
    echo "cluster.routing.allocation.disk.threshold_enabled: false"
    echo "action.destructive_requires_name: false"
    [[ $server == elasticsearch ]] && echo "xpack.security.enabled: false"
  } >"$run/config/$server.yml"
  ((EUID != 0)) || chown -R "$BENCH_SVC_USER:" "$run"
  local p=ES daemon=-d; if [[ $server == opensearch ]]; then p=OPENSEARCH daemon=""; fi
  local heap=${BENCH_E2E_HEAP:-1g}
  (cd "$run" && exec setsid "${BENCH_RUN_AS[@]}" env "${p}_JAVA_HOME=$jdk" "${p}_PATH_CONF=$run/config" \
    "${p}_TMPDIR=$run/tmp" "${p}_JAVA_OPTS=-Xms$heap -Xmx$heap" \
    "$home/bin/$server" ${daemon:+"$daemon"} -p "$run/server.pid" </dev/null >"$run/logs/stdout.log" 2>&1) &
  echo "bench: starting $server $ver on 127.0.0.1:$port (JDK $jdk, heap $heap, run dir $run)" >&2
}

# bench_node_wait SERVER PORT [SECS]: polls until the node is yellow; prints its log tail on failure.
bench_node_wait() {
  local server=$1 port=$2 deadline=$((SECONDS + ${3:-180})) run=${BENCH_NODE_RUN[$1]:-}
  while ((SECONDS < deadline)); do
    [[ $(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/_cluster/health?wait_for_status=yellow&timeout=2s") == 200 ]] && return 0
    sleep 2
  done
  echo "bench: $server did not come up on :$port; log tail:" >&2
  tail -n 30 "$run/logs/stdout.log" "$run"/logs/*.log 2>/dev/null | grep -v '^$' | tail -n 40 >&2
  return 1
}

# bench_node_pid SERVER: the node's JVM pid (from its pid file, checked against its run dir).
bench_node_pid() {
  local run=${BENCH_NODE_RUN[$1]:-} pid
  [[ -n $run ]] || return 1
  pid=$(cat "$run/server.pid" 2>/dev/null) || return 1
  [[ -r /proc/$pid/cmdline ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$run" && echo "$pid"
}

# bench_node_pids SERVER: the pids whose command line names the node's own run dir (a fresh mktemp
# name): the JVM, and while it starts, the ES launcher, which has not written the pid file yet.
bench_node_pids() {
  local run=${BENCH_NODE_RUN[$1]:-} f pid
  [[ -n $run ]] || return 0
  for f in /proc/[0-9]*/cmdline; do
    pid=${f#/proc/}; pid=${pid%/cmdline}
    { tr '\0' ' ' <"$f"; } 2>/dev/null | grep -qF -- "$run/" && echo "$pid"
  done
  return 0
}

# bench_nodes_stop: stops every node this shell started (TERM, KILL after 30 s) and removes its run dir.
bench_nodes_stop() {
  local server pids i run
  for server in "${!BENCH_NODE_RUN[@]}"; do
    run=${BENCH_NODE_RUN[$server]}
    mapfile -t pids < <(bench_node_pids "$server")
    if ((${#pids[@]})); then
      kill -TERM "${pids[@]}" 2>/dev/null || true
      for ((i = 0; i < 30; i++)); do kill -0 "${pids[@]}" 2>/dev/null || break; sleep 1; done
      kill -0 "${pids[@]}" 2>/dev/null && kill -KILL "${pids[@]}" 2>/dev/null
      echo "bench: stopped $server (pid ${pids[*]})" >&2
    fi
    [[ ${BENCH_E2E_KEEP:-0} == 1 ]] || rm -rf "$run"
    unset "BENCH_NODE_RUN[$server]"
  done
}
