#!/usr/bin/env bash
# Installs what the tests need on a fresh machine: Debian's chromium (browser
# tests), gcc when missing (the race detector) and an ndnd binary built from
# the pinned module (external-forwarder tests). Idempotent; prints what it
# does.
set -euo pipefail
cd "$(dirname "$0")/.."

# chromium for the browser tests; gcc for the race detector (go test -race
# needs cgo).
pkgs=()
if ! command -v chromium >/dev/null 2>&1 && [ ! -x /usr/bin/chromium ]; then
	pkgs+=(chromium)
fi
if ! command -v gcc >/dev/null 2>&1; then
	pkgs+=(gcc libc6-dev)
fi
if [ ${#pkgs[@]} -gt 0 ]; then
	echo "install-deps: installing ${pkgs[*]} (apt-get)"
	SUDO=""
	if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${pkgs[@]}" >/dev/null
fi

mkdir -p bin
if [ ! -x bin/ndnd ] || [ go.mod -nt bin/ndnd ]; then
	echo "install-deps: building bin/ndnd (github.com/named-data/ndnd/cmd/ndnd, pinned in go.mod)"
	go build -o bin/ndnd github.com/named-data/ndnd/cmd/ndnd
fi
echo "install-deps: building bin/peets"
go build -o bin/peets ./cmd/peets
