#!/usr/bin/env bash
# Builds the AWS Lambda function's package: ARCH/bootstrap.zip under $LAMBDA_OUT (default
# target/lambda in the repository), for x86_64 and arm64, the two Lambda architectures. The zip holds
# the release binary, stripped, named `bootstrap` (runtime provided.al2023: it runs `cloudtrail-es
# lambda` when started without arguments). deploy/lambda/template.yaml deploys it.
#
#   scripts/build-lambda.sh [x86_64] [arm64]     (default: both)
#
# arm64 is cross-compiled with Debian's toolchain: it needs the Rust target
# (`rustup target add aarch64-unknown-linux-gnu`) and the packages gcc-aarch64-linux-gnu and
# libc6-dev-arm64-cross. As root on Debian the script adds what is missing; otherwise it says what a
# user needs, and builds the other architecture. Each binary is checked to need no glibc newer than
# 2.34 (Amazon Linux 2023's), so that it starts on Lambda.
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT"

OUT="${LAMBDA_OUT:-$REPO_ROOT/target/lambda}"
MAX_GLIBC=2.34
ARCHS=("$@")
((${#ARCHS[@]})) || ARCHS=(x86_64 arm64)

log() { echo "build-lambda: $*" >&2; }

# The Rust target, the cross C compiler (empty: the host's) and strip for an architecture.
triple_of() { case $1 in x86_64) echo x86_64-unknown-linux-gnu ;; arm64) echo aarch64-unknown-linux-gnu ;; *) return 1 ;; esac; }
cc_of() { case $1 in arm64) echo aarch64-linux-gnu-gcc ;; *) echo "" ;; esac; }
strip_of() { case $1 in arm64) echo aarch64-linux-gnu-strip ;; *) echo strip ;; esac; }

# Adds the Rust target and Debian's cross toolchain for arm64 when missing (as root, on Debian);
# non-zero, saying what is needed, when they cannot be had.
ensure_cross() {
  local triple; triple=$(triple_of "$1")
  [[ $1 == arm64 ]] || return 0
  if ! rustup target list --installed 2>/dev/null | grep -qx "$triple"; then
    log "adding the Rust target $triple"
    rustup target add "$triple" >&2 || { log "arm64 needs: rustup target add $triple"; return 1; }
  fi
  if ! command -v aarch64-linux-gnu-gcc >/dev/null; then
    if ((EUID == 0)) && command -v apt-get >/dev/null; then
      log "installing gcc-aarch64-linux-gnu libc6-dev-arm64-cross (Debian packages)"
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc-aarch64-linux-gnu libc6-dev-arm64-cross; } >/dev/null 2>&1 || true
    fi
    command -v aarch64-linux-gnu-gcc >/dev/null || {
      log "arm64 needs Debian's cross compiler: apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross"
      return 1
    }
  fi
}

# The newest glibc symbol version a binary needs.
newest_glibc() {
  objdump -T "$1" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -Vu | tail -n 1
}

build() {
  local arch=$1 triple cc built dir upper glibc
  triple=$(triple_of "$arch") || { log "unknown architecture $arch (x86_64 or arm64)"; return 1; }
  ensure_cross "$arch" || return 1
  cc=$(cc_of "$arch")
  upper=$(echo "${triple//-/_}" | tr '[:lower:]' '[:upper:]')
  log "building $arch ($triple)"
  if [[ -n $cc ]]; then
    env "CARGO_TARGET_${upper}_LINKER=$cc" "CC_${triple//-/_}=$cc" \
      cargo build --locked --release --quiet --bin cloudtrail-es --target "$triple"
    built="$CARGO_TARGET_DIR/$triple/release/cloudtrail-es"
  else
    # The host's own architecture: the ordinary release build (shared with the benches), not a second one.
    cargo build --locked --release --quiet --bin cloudtrail-es
    built="$CARGO_TARGET_DIR/release/cloudtrail-es"
  fi
  dir="$OUT/$arch"
  rm -rf "$dir" && mkdir -p "$dir"
  cp "$built" "$dir/bootstrap"
  "$(strip_of "$arch")" "$dir/bootstrap"
  glibc=$(newest_glibc "$dir/bootstrap")
  if [[ $(printf '%s\n%s\n' "$glibc" "$MAX_GLIBC" | sort -V | tail -n 1) != "$MAX_GLIBC" ]]; then
    log "$arch: the binary needs glibc $glibc, newer than Lambda's $MAX_GLIBC: build on an older system"
    return 1
  fi
  (cd "$dir" && rm -f bootstrap.zip && zip -q -9 bootstrap.zip bootstrap)
  log "$arch: $dir/bootstrap.zip ($(stat -c %s "$dir/bootstrap.zip") bytes; binary $(stat -c %s "$dir/bootstrap") bytes, glibc >= $glibc)"
}

failed=()
for arch in "${ARCHS[@]}"; do build "$arch" || failed+=("$arch"); done
if ((${#failed[@]})); then
  log "not built: ${failed[*]}"
  exit 1
fi
