#!/usr/bin/env bash
# Makes this machine the test machine, whatever its image shipped: Debian's
# current chromium and firefox-esr (installed, or upgraded when older than
# what apt serves after an update), gcc for the race detector, iproute2 for
# the network-namespace tests, then an ndnd binary built from the pinned
# module (external-forwarder tests) and bin/peets. Idempotent: a machine
# that is up to date costs an apt-get update (skipped when this script
# ran less than an hour ago) and two quick builds. Prints what it does and
# the versions the tests run with.
#
# PEETS_NO_APT=1 skips apt-get (a machine without network or root): the
# tests then run with whatever is installed, as printed. A failing apt-get
# makes the script fail, after the builds.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(chromium firefox-esr gcc libc6-dev iproute2)

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

# installed_version PKG prints the installed version, or nothing (dpkg-query
# fails for a package it never saw).
installed_version() {
	{ dpkg-query -W -f='${db:Status-Status} ${Version}\n' "$1" 2>/dev/null || true; } | awk '$1 == "installed" { print $2 }'
}

# candidate_version PKG prints the version apt would install, or nothing.
candidate_version() {
	{ apt-cache policy "$1" 2>/dev/null || true; } | awk '/Candidate:/ && $2 != "(none)" { print $2 }'
}

apt_setup() {
	if [ "${PEETS_NO_APT:-}" = 1 ]; then
		echo "install-deps: PEETS_NO_APT=1: apt-get skipped"
		return 0
	fi
	if ! command -v apt-get >/dev/null 2>&1; then
		echo "install-deps: no apt-get here: install ${pkgs[*]} by hand"
		return 0
	fi
	# The image's package lists may be old: apt would then "install" the
	# browser it already has. Refresh them unless this script did less than
	# an hour ago (apt keeps the files' times when nothing changed, so a
	# stamp of our own tells).
	local stamp=bin/.apt-updated
	if [ -z "$(find "$stamp" -mmin -60 2>/dev/null)" ]; then
		echo "install-deps: apt-get update"
		if ! $SUDO apt-get update -qq; then
			echo "install-deps: apt-get update failed: the tests run with what is installed" >&2
			return 1
		fi
		touch "$stamp"
	fi
	local want=() p have cand
	for p in "${pkgs[@]}"; do
		have=$(installed_version "$p")
		cand=$(candidate_version "$p")
		if [ -z "$cand" ]; then
			echo "install-deps: apt serves no $p${have:+ (installed: $have)}" >&2
			continue
		fi
		if [ -z "$have" ] || dpkg --compare-versions "$have" lt "$cand"; then
			echo "install-deps: $p ${have:-not installed} -> $cand"
			want+=("$p")
		fi
	done
	if [ ${#want[@]} -gt 0 ] && ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${want[@]}" >/dev/null; then
		echo "install-deps: apt-get install ${want[*]} failed: the tests run with what is installed" >&2
		return 1
	fi
}

mkdir -p bin
# A failed apt step still builds the binaries and prints the versions, then
# fails the script (test.sh reports it and runs the tests anyway).
apt_status=0
apt_setup || apt_status=$?

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

# first_line CMD... prints the first line of CMD's output, or "missing".
first_line() {
	local out
	if out=$("$@" 2>/dev/null) && [ -n "$out" ]; then
		printf '%s\n' "$out" | head -1
	else
		echo "missing"
	fi
}
chromium=${PEETS_CHROMIUM:-/usr/bin/chromium}
firefox=${PEETS_FIREFOX:-/usr/bin/firefox-esr}
echo "install-deps: testing with"
echo "  $(go version)"
echo "  gcc: $(first_line gcc --version)"
echo "  chromium ($chromium): $(first_line "$chromium" --version)"
echo "  firefox ($firefox): $(first_line "$firefox" --version)"
exit "$apt_status"
