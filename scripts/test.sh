#!/usr/bin/env bash
# The test command (README, .ci/run): starts the real servers the integration tests talk to
# (Elasticsearch, OpenSearch, moto and the TLS + security Elasticsearch on 127.0.0.1, see dev-stack.sh),
# then runs every test.
# Extra arguments go to `cargo test`, e.g. `scripts/test.sh es_bulk`.
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT"

"$REPO_ROOT/scripts/dev/dev-stack.sh" up all   # `all`: elasticsearch-secure too (opt-in otherwise)
# The report page's browser test (tests/report_browser.rs) loads it in Debian's headless Chromium.
if ! command -v chromium >/dev/null 2>&1; then
  echo "==> installing chromium (for the report page's browser test)"
  sudo_=""; [ "$(id -u)" -eq 0 ] || sudo_="sudo"
  $sudo_ apt-get install -y -qq chromium >/dev/null 2>&1 \
    || { $sudo_ apt-get update -qq >/dev/null 2>&1 && $sudo_ apt-get install -y -qq chromium >/dev/null; }
fi
cargo test --locked --all-targets --features servers "$@"
