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

# --- NFD and NDNts, for e2e/ndn's TestNFDCall, TestTwoHostsNFD and
# TestNDNtsInterop (they skip, saying why, without them) ---
# NFD 24.07 is a build beside the repository (shared/tools/nfd, see its
# README; or $PEETS_NFD): install its run-time libraries (apt-get).
asroot=""
if [ "$(id -u)" != 0 ]; then asroot="sudo"; fi
for nfd_dir in "${PEETS_NFD:-}" ../shared/tools/nfd ../../shared/tools/nfd; do
	if [ -n "$nfd_dir" ] && [ -x "$nfd_dir/bin/nfd" ]; then
		if ! "$nfd_dir/bin/nfd" --version >/dev/null 2>&1; then
			echo "install-deps: installing NFD's run-time libraries ($nfd_dir/install-runtime.sh)"
			$asroot bash "$nfd_dir/install-runtime.sh"
		fi
		break
	fi
done
# NDNts from npm, pinned by e2e/ndn/testdata/ndnts/package-lock.json.
ndnts=e2e/ndn/testdata/ndnts
if command -v npm >/dev/null 2>&1; then
	if [ ! -d "$ndnts/node_modules" ] || [ "$ndnts/package-lock.json" -nt "$ndnts/node_modules" ]; then
		echo "install-deps: npm ci in $ndnts (NDNts, pinned)"
		(cd "$ndnts" && npm ci --no-audit --no-fund --loglevel=error)
	fi
else
	echo "install-deps: no npm: the NDNts interop test will be skipped"
fi
