#!/usr/bin/env bash
# Validates docker-compose.yml without Docker: loads it with compose-go, the library `docker compose`
# itself uses (Compose Specification schema, interpolation, merge keys, depends_on conditions), and
# prints the normalized model. Needs Go; the checker is built once under $CACHE_DIR/compose-check.
#
#   scripts/ci/check-compose.sh [FILE]      # default: docker-compose.yml
set -euo pipefail
# shellcheck source=../common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"

COMPOSE_GO=v2.16.2
FILE="${1:-$REPO_ROOT/docker-compose.yml}"
DIR="$CACHE_DIR/compose-check-$COMPOSE_GO"

if [[ ! -x $DIR/check ]]; then
  mkdir -p "$DIR"
  cat >"$DIR/main.go" <<'GO'
// Loads a compose file as `docker compose config` does and prints the normalized model.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	path, _ := filepath.Abs(os.Args[1])
	opts, err := cli.NewProjectOptions([]string{path}, cli.WithWorkingDirectory(filepath.Dir(path)), cli.WithOsEnv)
	if err == nil {
		project, err := opts.LoadProject(context.Background())
		if err == nil {
			out, _ := project.MarshalYAML()
			fmt.Print(string(out))
			return
		}
		fmt.Fprintln(os.Stderr, "invalid:", err)
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, "invalid:", err)
	os.Exit(1)
}
GO
  (cd "$DIR" && { [[ -f go.mod ]] || go mod init compose-check >/dev/null 2>&1; } &&
    go get "github.com/compose-spec/compose-go/v2@$COMPOSE_GO" >/dev/null 2>&1 && go mod tidy >/dev/null 2>&1 &&
    go build -o check .) >&2
fi
"$DIR/check" "$FILE"
