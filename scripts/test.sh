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
# staticcheck, pinned (fetched through the Go module proxy; go.mod untouched):
# it found a NACK buffer that was never cleared on a publisher restart.
echo "== staticcheck"
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 -tags e2e ./...
# The proxy runs on macOS and Windows too: keep it building there.
echo "== cross builds (darwin/arm64, windows/amd64)"
GOOS=darwin GOARCH=arm64 go build -o /dev/null ./cmd/peets
GOOS=windows GOARCH=amd64 go build -o /dev/null ./cmd/peets
# One package at a time: several tests start forwarders and check
# latencies that two packages' tests competing for 2 cores could blur.
echo "== unit tests"
go test -count=1 -p 1 -timeout 600s ./...
# The same tests under the race detector: the daemon is goroutines and
# locks throughout (it found a test that changed a guard's state while
# the guard's goroutine read it, and a test that only passed when fast).
echo "== unit tests (race detector)"
go test -race -count=1 -p 1 -timeout 900s ./...
# The packages that have end-to-end tests (build tag e2e): real processes,
# a real ndnd forwarder, real headless Chromium.
echo "== end-to-end tests (multi-process, real browser)"
go test -count=1 -p 1 -timeout 300s -tags e2e -run E2E ./daemon/forwarder/
go test -count=1 -p 1 -timeout 900s -tags e2e ./e2e/...
