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
