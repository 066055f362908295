#!/usr/bin/env bash
# Local backing services for development and integration tests, without Docker:
#   scripts/dev/dev-stack.sh up|down|status [all|elasticsearch|opensearch|moto|elasticsearch-secure|elasticsearch9|opensearch2 ...]
#
#   elasticsearch   http://127.0.0.1:9200  ES 8.19 integ-test zip from Maven Central, security off, single node
#   opensearch      http://127.0.0.1:9201  OpenSearch 3.6 integ-test zip (no security plugin)
#   moto            http://127.0.0.1:5000  moto[server] (S3/SQS/SNS) from PyPI, in a venv
#   elasticsearch-secure  https://127.0.0.1:9202  the ES 8.19 zip with security and HTTP TLS on: user `elastic`,
#                   password $ES_SECURE_PASSWORD (set through the keystore's bootstrap.password), certificate
#                   signed by a self-signed CA made once with openssl (SAN IP:127.0.0.1, DNS:localhost); the CA
#                   is $STACK_DIR/run/elasticsearch-secure/certs/ca.pem (`status` prints it). API keys work
#                   thanks to a stub plugin built with javac (see dev-stack-secure.sh, which holds its parts).
#   elasticsearch9  http://127.0.0.1:9203  ES 9.2 integ-test zip, security off (Java 21+: newest Temurin)
#   opensearch2     http://127.0.0.1:9204  OpenSearch 2.19 integ-test zip (OpenJDK 17)
# The integration tests use all six; the four plain clusters are the ones every cluster test runs on.
#
# No names: `up` starts elasticsearch, opensearch and moto (enough to try the tool by hand; ~5 GB less
# memory than `all` and quicker on 2 cores); `all` adds the opt-in elasticsearch-secure, elasticsearch9 and
# opensearch2 (scripts/test.sh runs `up all`). `down` and `status` without names cover all six; `status`
# then ignores an opt-in service being down, unless it died (below).
# `up` starts what is not already answering, all at once: the servers are downloaded and unpacked in
# parallel (Maven itself one at a time), then every JVM starts in the background, then `up` waits
# (DEV_STACK_TIMEOUT, default 240 s, per service from the start of the wait) for ES/OS to be yellow and
# moto to answer, and exits non-zero with log tails otherwise. Every `up` gets a fresh data dir
# (elasticsearch-secure keeps its certs/). `down` stops by pid file (SIGTERM, then SIGKILL after 30 s).
# `status` prints one line per service and exits 1 if any is down. A service whose pid file is still
# there (`down` removes it) but which does not answer has died or hung after starting: `up` and `status`
# say so, with the tail of its logs (and any hs_err / heap dump files), and `up` then starts it afresh.
#
# Heaps: DEV_STACK_HEAP (default 2g) for each plain cluster, DEV_STACK_SECURE_HEAP (default 1g) for
# elasticsearch-secure; a value is passed as -Xms and -Xmx. Why: a 512 MB heap died of OutOfMemoryError
# under legitimate test load (the corpus backfills, 5,000-key events, concurrent test binaries). The
# machine this runs on has 24 GB and 2 cores, shared by up to five JVM nodes and several cargo builds:
# 4 x 2 GB + 1 GB = 9 GB of heap, ~12 GB resident with metaspace, direct buffers and threads, which
# leaves ~12 GB for builds and the page cache Lucene reads through. The secure node only serves the auth
# tests' few documents. Changing a heap applies when the node is next started (`down NAME`, `up NAME`).
#
# Env: ES_VERSION, OS_VERSION, ES9_VERSION, OS2_VERSION, MOTO_VERSION (pins below), ES_SECURE_PASSWORD
# (default below: a dev-only password), DEV_STACK_HEAP, DEV_STACK_SECURE_HEAP, DEV_STACK_TIMEOUT,
# CLOUDTRAIL_ES_CACHE (see common.sh), CLOUDTRAIL_ES_STACK_DIR (unpacked servers + run dirs), ES_JAVA_HOME /
# OPENSEARCH_JAVA_HOME (override the JDK of every ES / OpenSearch node; by default it is picked per major
# version: ES 8 / OS 2 -> OpenJDK 17, ES 9+ / OS 3+ -> newest Temurin under /usr/lib/jvm).
#
# Versions: this machine's Maven Central serves ES integ-test zips 8.19.21 and 9.0.0, 9.1.0, 9.2.0 (9.2.1,
# 9.2.3, 9.3.0, 9.4.0 and 9.5.6 were refused), and OpenSearch up to 3.6.0 (3.7.0 and 3.9.0 refused).
# Confirmed working: ES 8.19.21 on OpenJDK 17 (and on Temurin 25), ES 9.2.0 on Temurin 25, OpenSearch 3.6.0
# on Temurin 25, OpenSearch 2.19.6 on OpenJDK 17. The ES integ-test zip has no rest-root module: GET /
# answers 405 there.
set -euo pipefail
# shellcheck source=../common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
# shellcheck source=dev-stack-secure.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/dev-stack-secure.sh"

ES_VERSION="${ES_VERSION:-8.19.21}"
OS_VERSION="${OS_VERSION:-3.6.0}"
ES9_VERSION="${ES9_VERSION:-9.2.0}"
OS2_VERSION="${OS2_VERSION:-2.19.6}"
MOTO_VERSION="${MOTO_VERSION:-5.2.5}"
# Dev only, and distinctive on purpose: the integration tests grep the binary's output for it.
ES_SECURE_PASSWORD="${ES_SECURE_PASSWORD:-dev-only-s3cret-9202}"
TIMEOUT="${DEV_STACK_TIMEOUT:-240}"
HEAP="${DEV_STACK_HEAP:-2g}"
SECURE_HEAP="${DEV_STACK_SECURE_HEAP:-1g}"
SVC_USER=cloudtrail-es-it
DEP_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1
M2="$CACHE_DIR/m2"
VENV="$CACHE_DIR/venv"
# ES and OpenSearch refuse to run as root, so as root they run as $SVC_USER, which must be able to reach
# the unpacked servers and run dirs. $CACHE_DIR is under /root (mode 700) by default; rather than loosen
# /root, keep those (derived, re-creatable) trees under /var/tmp, which every user can traverse and which
# survives reboots. The downloads themselves (zips in the Maven repo, the venv) stay in $CACHE_DIR; if
# /var/tmp is ever cleaned, the next `up` just unzips again. Not root: everything runs as the current user.
if ((EUID == 0)); then
  STACK_DIR="${CLOUDTRAIL_ES_STACK_DIR:-/var/tmp/cloudtrail-es}"; RUN_AS=(runuser -u "$SVC_USER" --)
else
  STACK_DIR="${CLOUDTRAIL_ES_STACK_DIR:-$CACHE_DIR}"; RUN_AS=()
fi
DEFAULT=(elasticsearch opensearch moto)
OPT_IN=(elasticsearch-secure elasticsearch9 opensearch2)
ALL=("${DEFAULT[@]}" "${OPT_IN[@]}")

log() { echo "dev-stack: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
port_of() {
  case $1 in
    elasticsearch) echo 9200 ;; opensearch) echo 9201 ;; elasticsearch-secure) echo 9202 ;;
    elasticsearch9) echo 9203 ;; opensearch2) echo 9204 ;; moto) echo 5000 ;;
  esac
}
server_of() { case $1 in elasticsearch*) echo elasticsearch ;; opensearch*) echo opensearch ;; *) echo "$1" ;; esac; }
version_of() {
  case $1 in
    elasticsearch | elasticsearch-secure) echo "$ES_VERSION" ;; elasticsearch9) echo "$ES9_VERSION" ;;
    opensearch) echo "$OS_VERSION" ;; opensearch2) echo "$OS2_VERSION" ;; moto) echo "$MOTO_VERSION" ;;
  esac
}
heap_of() { if [[ $1 == elasticsearch-secure ]]; then echo "$SECURE_HEAP"; else echo "$HEAP"; fi; }
run_dir() { echo "$STACK_DIR/run/$1"; }
certs_dir() { echo "$(run_dir elasticsearch-secure)/certs"; }

# curl on a service's HTTP API (extra curl options after the path); the secure node over TLS, as `elastic`.
api() {
  local name=$1 path=$2; shift 2
  if [[ $name == elasticsearch-secure ]]; then
    curl -s -m 5 --cacert "$(certs_dir)/ca.pem" -u "elastic:$ES_SECURE_PASSWORD" "$@" "https://127.0.0.1:9202$path"
  else
    curl -s -m 5 "$@" "http://127.0.0.1:$(port_of "$name")$path"
  fi
}
http_code() { api "$1" "$2" -o /dev/null -w '%{http_code}' || true; }

# True when the service answers: ES/OS at least yellow, moto any HTTP answer on its API.
answers() {
  case $1 in
    moto) [[ $(http_code moto /moto-api/) == 200 ]] ;;
    *) [[ $(http_code "$1" '/_cluster/health?wait_for_status=yellow&timeout=2s') == 200 ]] ;;
  esac
}

# Downloads the zip into the Maven repo (once) and unpacks it under $STACK_DIR/servers (once); prints the home.
fetch_server() {
  local name=$1 ver=$2 group="org.$1.distribution.integ-test-zip"
  local home="$STACK_DIR/servers/$name-$ver" zip="$M2/${group//.//}/$name/$ver/$name-$ver.zip"
  if [[ ! -d $home ]]; then
    if [[ ! -f $zip ]]; then
      local mlog="$CACHE_DIR/mvn-$name-$ver.log"
      log "downloading $group:$name:$ver:zip from Maven Central"
      mkdir -p "$CACHE_DIR"
      # One Maven at a time: Maven 3.8 does not guard its local repository against concurrent writers.
      flock "$CACHE_DIR/mvn.lock" mvn -B -Dmaven.repo.local="$M2" "$DEP_PLUGIN:get" -Dtransitive=false \
        -Dartifact="$group:$name:$ver:zip" >"$mlog" 2>&1 ||
        { grep -m 1 ERROR "$mlog" >&2; die "could not download $name $ver (see $mlog)"; }
    fi
    log "unpacking $zip"
    install -d -m 755 "$STACK_DIR" "$STACK_DIR/servers"
    local tmp; tmp=$(mktemp -d "$STACK_DIR/servers/.unzip.XXXXXX")
    { unzip -q "$zip" -d "$tmp" && chmod -R a+rX "$tmp" && mv "$tmp/$name-$ver" "$home" && rm -rf "$tmp"; } ||
      die "could not unpack $zip"
  fi
  echo "$home"
}

# The JDK for a server line (common.sh), or stop.
java_home_for() {
  jdk_for "$1" "$2" || die "no suitable JDK under /usr/lib/jvm for $1 $2"
}

ensure_user() {
  ((EUID == 0)) || return 0
  id "$SVC_USER" >/dev/null 2>&1 ||
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$SVC_USER"
}

# Fresh run dir: data, logs, tmp, and a copy of the server's config with our settings (certs/ is kept).
prepare_run_dir() {
  local name=$1 home=$2 run; run=$(run_dir "$1")
  local port; port=$(port_of "$name")
  install -d -m 755 "$STACK_DIR/run" "$run"
  find "$run" -mindepth 1 -maxdepth 1 ! -name certs -exec rm -rf {} + && mkdir -p "$run"/{data,logs,tmp}
  cp -r "$home/config" "$run/config"
  # OpenSearch's jvm.options writes gc logs, heap dumps and crash files relative to its home; point them here.
  sed -i -e "s#=data\$#=$run/data#" -e "s#logs/#$run/logs/#g" "$run/config/jvm.options"
  {
    echo "cluster.name: cloudtrail-es-dev"
    echo "node.name: $name-1"
    echo "path.data: $run/data"
    echo "path.logs: $run/logs"
    echo "network.host: 127.0.0.1"
    echo "http.port: $port"
    echo "transport.port: $((port + 100))"
    echo "discovery.type: single-node"
    echo "cluster.routing.allocation.disk.threshold_enabled: false"
    echo "action.destructive_requires_name: false"
    case $name in
      elasticsearch | elasticsearch9) echo "xpack.security.enabled: false" ;;
      elasticsearch-secure)   # transport TLS is left off: single-node discovery does not enforce it
        echo "xpack.security.enabled: true"
        echo "xpack.security.http.ssl.enabled: true"
        echo "xpack.security.http.ssl.key: certs/node.key"
        echo "xpack.security.http.ssl.certificate: certs/node.pem"
        echo "xpack.security.http.ssl.certificate_authorities: certs/ca.pem" ;;
    esac
  } >"$run/config/$(server_of "$name").yml"
  # The server reads TLS files only from its config dir.
  if [[ $name == elasticsearch-secure ]]; then
    mkdir -p "$run/config/certs" && cp "$(certs_dir)"/{ca.pem,node.pem,node.key} "$run/config/certs/"
  fi
  ((EUID != 0)) || chown -R "$SVC_USER:" "$run"
}

# Starts ES/OpenSearch in the background as the service user; the server writes its pid to $run/server.pid.
# ES gets -d so that its launcher JVM exits once the node is up; OpenSearch has no launcher JVM and runs in
# the foreground (its -d would exit before the pid file exists, hiding early crashes).
start_search() {
  local name=$1 server ver; server=$(server_of "$1") ver=$(version_of "$1")
  local home; home=$(fetch_server "$server" "$ver")
  local jdk; jdk=$(java_home_for "$server" "$ver")
  local run; run=$(run_dir "$name")
  local p=ES daemon=-d; if [[ $server == opensearch ]]; then p=OPENSEARCH daemon=""; fi
  local env=("${p}_JAVA_HOME=$jdk" "${p}_PATH_CONF=$run/config" "${p}_TMPDIR=$run/tmp")
  ensure_user
  if [[ $name == elasticsearch-secure ]]; then ensure_certs && home=$(secure_home "$home" "$jdk"); fi
  prepare_run_dir "$name" "$home"
  if [[ $name == elasticsearch-secure ]]; then install_keystore "$home" "${env[@]}"; fi
  local heap; heap=$(heap_of "$name")
  log "starting $name $ver (JDK $jdk, heap $heap)"
  (cd "$run" && exec setsid "${RUN_AS[@]}" env "${env[@]}" "${p}_JAVA_OPTS=-Xms$heap -Xmx$heap" \
    "$home/bin/$server" ${daemon:+"$daemon"} -p "$run/server.pid" </dev/null >"$run/logs/stdout.log" 2>&1) &
  echo $! >"$run/launcher.pid"
}

# Installs moto into the venv when it is missing (or another version).
install_moto() {
  compgen -G "$VENV/lib/python3*/site-packages/moto-$MOTO_VERSION.dist-info" >/dev/null && return 0
  log "installing moto[server]==$MOTO_VERSION into $VENV"
  [[ -x $VENV/bin/python ]] || python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check "moto[server]==$MOTO_VERSION" >&2
}

# Starts moto_server detached.
start_moto() {
  local run; run=$(run_dir moto)
  install_moto
  rm -rf "$run" && mkdir -p "$run/logs"
  log "starting moto $MOTO_VERSION"
  (cd "$run" && exec setsid "$VENV/bin/moto_server" -H 127.0.0.1 -p "$(port_of moto)" \
    </dev/null >"$run/logs/moto.log" 2>&1) &
  echo $! >"$run/server.pid"
}

# What the named services need on disk (server zips unpacked, each once; moto's venv), fetched in parallel.
prefetch() {
  local name key pid pids=() failed=0
  local -A seen=()
  for name in "$@"; do
    key="$(server_of "$name") $(version_of "$name")"
    [[ -z ${seen[$key]:-} ]] || continue
    seen[$key]=1
    # shellcheck disable=SC2086 # key is "server version"
    if [[ $name == moto ]]; then install_moto & else fetch_server $key >/dev/null & fi
    pids+=("$!")
  done
  for pid in ${pids[@]+"${pids[@]}"}; do wait "$pid" || failed=1; done
  return "$failed"
}

# Prints the pid in pid file $1 if it names a live process of this stack (a stale pid file, e.g. after a
# reboot, may name someone else's pid); prints nothing otherwise.
live_pid() {
  local pid; pid=$(cat "$1" 2>/dev/null || true)
  if [[ -n $pid && -r /proc/$pid/cmdline ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -e "$STACK_DIR" -e "$VENV"; then
    echo "$pid"
  fi
}

# Why a service that does not answer is down, or nothing if it was never started or was stopped by `down`.
# `up` leaves the started node's pid in $run/up, which only `down` removes (nodes started before that marker
# existed are judged by their server.pid, which ES and OpenSearch delete on a clean exit only).
down_reason() {
  local run f pid; run=$(run_dir "$1")
  for f in "$run/up" "$run/server.pid" ""; do [[ -z $f || -s $f ]] && break; done
  [[ -n $f ]] || return 0
  pid=$(cat "$f")
  if [[ -n $(live_pid "$f") ]]; then echo "not answering (pid $pid alive)"; else echo "died after starting (pid $pid gone)"; fi
}

# On stderr: the last lines of a service's logs (GC and deprecation logs aside; of stdout.log, only lines the
# server's own log lacks, e.g. the JVM's "Terminating due to java.lang.OutOfMemoryError"), and the crash
# files a JVM left.
log_tails() {
  local run f n=${2:-30}; run=$(run_dir "$1")
  {
    for f in "$run"/logs/*.log; do
      [[ -s $f && $f != */gc.log && $f != *_deprecation.log && $f != */stdout.log ]] || continue
      echo "---- tail $f" && tail -n "$n" "$f"
    done
    f=$run/logs/stdout.log
    if [[ -s $f ]]; then
      echo "---- tail $f (lines not in the server log)"
      tail -n "$n" "$f" | grep -vxF -f <(cat "$run/logs/cloudtrail-es-dev.log" 2>/dev/null) || true
    fi
    for f in "$run"/hs_err_pid*.log "$run"/logs/hs_err_pid*.log "$run"/data/*.hprof; do
      if [[ -e $f ]]; then echo "---- the JVM left $f"; fi
    done
  } >&2
}

# Polls until the service answers or the deadline passes; on failure prints log tails and stops it.
wait_ready() {
  local name=$1 run start=$SECONDS deadline=$((SECONDS + TIMEOUT)) launcher; run=$(run_dir "$1")
  launcher=$(cat "$run/launcher.pid" 2>/dev/null || true)
  while ((SECONDS < deadline)); do
    if answers "$name"; then
      cp "$run/server.pid" "$run/up" 2>/dev/null || echo "?" >"$run/up"
      log "$name up on 127.0.0.1:$(port_of "$name") after ${SECONDS}s"
      return 0
    fi
    if [[ -n $launcher ]] && ! kill -0 "$launcher" 2>/dev/null; then   # ES -d launcher exits when ready
      local rc=0; wait "$launcher" 2>/dev/null || rc=$?
      ((rc == 0 || rc == 127)) || { log "$name launcher exited with $rc"; break; }
      launcher=""
    fi
    local pid; pid=$(cat "$run/server.pid" 2>/dev/null || true)
    if [[ -z $launcher && ( -z $pid || ! -e /proc/$pid ) ]]; then log "$name process is gone"; break; fi
    sleep 2
  done
  log "ERROR: $name is not up (gave up after $((SECONDS - start))s, limit ${TIMEOUT}s); logs in $run/logs:"
  log_tails "$name"
  stop_service "$name"
  return 1
}

# Stops by pid file (and the -d launcher if still there): TERM, wait up to 30 s, then KILL.
stop_service() {
  local name=$1 run pids=() f pid i; run=$(run_dir "$1")
  for f in "$run/server.pid" "$run/launcher.pid"; do
    pid=$(live_pid "$f")
    if [[ -n $pid ]]; then pids+=("$pid"); fi
    rm -f "$f"
  done
  rm -f "$run/up"
  ((${#pids[@]})) || { log "$name: not running (no live pid file)"; return 0; }
  kill -TERM "${pids[@]}" 2>/dev/null || true
  for ((i = 0; i < 30; i++)); do
    kill -0 "${pids[@]}" 2>/dev/null || { log "$name stopped"; return 0; }
    sleep 1
  done
  log "$name did not stop within 30s; sending SIGKILL"
  kill -KILL "${pids[@]}" 2>/dev/null || true
}

# The command-line tools `up` needs; as root on Debian, missing ones are installed.
ensure_tools() {
  local missing=() tool
  for tool in curl unzip mvn; do command -v "$tool" >/dev/null || missing+=("$tool"); done
  ((${#missing[@]})) || return 0
  if ((EUID == 0)) && command -v apt-get >/dev/null; then
    log "installing ${missing[*]} (Debian packages)"
    local pkgs=("${missing[@]/mvn/maven}")
    { apt-get update -qq && apt-get install -y -qq "${pkgs[@]}"; } >/dev/null 2>&1 || true
  fi
  for tool in "${missing[@]}"; do command -v "$tool" >/dev/null || die "$tool is needed (Debian package: ${tool/mvn/maven})"; done
}

cmd_up() {
  local name reason todo=() failed=0
  ensure_tools
  for name in "$@"; do
    if answers "$name"; then log "$name already up on 127.0.0.1:$(port_of "$name")"; continue; fi
    reason=$(down_reason "$name")
    if [[ -n $reason ]]; then log "$name $reason; its logs, then a fresh start:"; log_tails "$name" 20; fi
    stop_service "$name" >/dev/null 2>&1   # leftovers of a half-started or dead earlier run
    todo+=("$name")
  done
  ((${#todo[@]})) || return 0
  prefetch "${todo[@]}" || die "could not fetch the servers (see above)"
  for name in "${todo[@]}"; do
    if [[ $name == moto ]]; then start_moto; else start_search "$name"; fi
  done
  for name in "${todo[@]}"; do wait_ready "$name" || failed=1; done
  return "$failed"
}

cmd_down() { local name; for name in "$@"; do stop_service "$name"; done; }

# Services in OPTIONAL (set by main) being down does not make `status` fail, unless they died.
OPTIONAL=()
cmd_status() {
  local name port ver extra reason down=0
  for name in "$@"; do
    port=$(port_of "$name") ver="" extra=""
    if [[ $name == moto ]]; then
      ver=$(compgen -G "$VENV/lib/python3*/site-packages/moto-*.dist-info" | sed 's#.*/moto-##; s#\.dist-info##' | head -n 1)
    else
      # Not GET /: the ES integ-test zip lacks the rest-root module, so GET / answers 405 there.
      ver=$(api "$name" "/_nodes/_local?filter_path=nodes.*.version" | sed -n 's/.*"version":"\([^"]*\)".*/\1/p' || true)
    fi
    if [[ $name == elasticsearch-secure ]]; then extra="  https, user elastic, CA $(certs_dir)/ca.pem"; fi
    if answers "$name"; then
      printf '%-20s up    127.0.0.1:%s  %s%s\n' "$name" "$port" "${ver:-?}" "$extra"
      continue
    fi
    reason=$(down_reason "$name")
    if [[ -n $reason ]]; then
      printf '%-20s down  127.0.0.1:%s  %s, logs on stderr\n' "$name" "$port" "$reason"
      log "$name $reason; its logs:" && log_tails "$name" 20
      down=1
    elif [[ " ${OPTIONAL[*]} " == *" $name "* ]]; then
      printf '%-20s down  127.0.0.1:%s  (opt-in: up %s)\n' "$name" "$port" "$name"
    else printf '%-20s down  127.0.0.1:%s\n' "$name" "$port"; down=1; fi
  done
  return "$down"
}

main() {
  local cmd=${1:-} name; shift || true
  if (($# == 0)); then
    if [[ $cmd == up ]]; then set -- "${DEFAULT[@]}"; else set -- "${ALL[@]}"; OPTIONAL=("${OPT_IN[@]}"); fi
  elif [[ $* == all ]]; then
    set -- "${ALL[@]}"
  fi
  for name in "$@"; do
    [[ " ${ALL[*]} " == *" $name "* ]] || die "unknown service '$name' (expected: ${ALL[*]})"
  done
  case $cmd in
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    status) cmd_status "$@" ;;
    *) die "usage: $0 up|down|status [all|$(IFS='|'; echo "${ALL[*]}") ...]" ;;
  esac
}

main "$@"
