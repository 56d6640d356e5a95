#!/usr/bin/env bash
# The project's whole test run: unit tests, then the multi-process and
# real-browser end-to-end tests. This is the README's test command and what
# CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

export PEETS_NDND="$PWD/bin/ndnd"
export PEETS_BIN="$PWD/bin/peets"
export PEETS_CHROMIUM="${PEETS_CHROMIUM:-/usr/bin/chromium}"

echo "== go vet"
go vet ./...
echo "== go vet (e2e)"
go vet -tags e2e ./...
echo "== unit tests"
go test -count=1 -timeout 300s ./...
echo "== end-to-end tests (multi-process, real browser)"
go test -count=1 -p 1 -timeout 900s -tags e2e ./...
