# shellcheck shell=bash
# Shared settings for the scripts in this folder: where downloads and build output are cached
# (outside the repository, so a fresh clone on the same machine starts fast) and how to find
# the binary. Source it; it defines variables and functions, and runs nothing.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Downloads (Maven repo, server zips, Python venv) and unpacked servers live here.
CACHE_DIR="${CLOUDTRAIL_ES_CACHE:-$HOME/.cache/cloudtrail-es}"
# Cargo build output is cached beside them unless the caller chose a target dir.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE_DIR/target}"

# Builds the release binary (quietly) and prints its path.
cloudtrail_es_bin() {
  (cd "$REPO_ROOT" && cargo build --release --quiet --bin cloudtrail-es) >&2 || return 1
  echo "$CARGO_TARGET_DIR/release/cloudtrail-es"
}

# jdk_for SERVER VERSION: the JDK for a server line, printed; non-zero when there is none.
# Elasticsearch >= 9 and OpenSearch >= 3 need Java 21+ (the newest Temurin), older lines use
# OpenJDK 17; ES_JAVA_HOME / OPENSEARCH_JAVA_HOME override. dev-stack.sh and the benches use it.
jdk_for() {
  local server=$1 major=${2%%.*} jdk
  if [[ $server == elasticsearch && -n ${ES_JAVA_HOME:-} ]]; then echo "$ES_JAVA_HOME"; return; fi
  if [[ $server == opensearch && -n ${OPENSEARCH_JAVA_HOME:-} ]]; then echo "$OPENSEARCH_JAVA_HOME"; return; fi
  if [[ $server == elasticsearch && $major -ge 9 || $server == opensearch && $major -ge 3 ]]; then
    jdk=$(compgen -G '/usr/lib/jvm/temurin-*' | sort -V | tail -n 1 || true)
  else
    jdk=$(compgen -G '/usr/lib/jvm/java-17-openjdk*' | head -n 1 || true)
  fi
  [[ -n $jdk && -x $jdk/bin/java ]] || return 1
  echo "$jdk"
}

# AWS's Lambda Runtime Interface Emulator, for the Lambda tests and bench/lambda.sh: installed once
# with `go install` (from the Go module proxy) into $CACHE_DIR/go-bin, reinstalled when RIE_VERSION
# changes; prints its path.
RIE_MODULE=github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie
RIE_VERSION="${RIE_VERSION:-v0.0.0-20261030222936-bef5c4ba774d}"
rie_bin() {
  local dir="$CACHE_DIR/go-bin"
  if [[ ! -x $dir/aws-lambda-rie || $(cat "$dir/aws-lambda-rie.version" 2>/dev/null) != "$RIE_VERSION" ]]; then
    command -v go >/dev/null || { echo "go is needed to install aws-lambda-rie (Debian package: golang-go)" >&2; return 1; }
    echo "installing aws-lambda-rie $RIE_VERSION into $dir" >&2
    mkdir -p "$dir"
    GOBIN="$dir" go install "$RIE_MODULE@$RIE_VERSION" >&2 || return 1
    echo "$RIE_VERSION" >"$dir/aws-lambda-rie.version"
  fi
  echo "$dir/aws-lambda-rie"
}
