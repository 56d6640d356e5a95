#!/usr/bin/env bash
# The project's whole test run: checks, unit tests, then the multi-process
# and real-browser end-to-end tests. This is the README's test command and
# what CI runs (.ci/run).
#
# Every stage runs, whatever happened before it: a failing stage does not
# hide the later ones. The end prints a summary (each stage's result and
# time, and the names of the failing tests) and the exit status is non-zero
# if any stage failed.
set -uo pipefail
cd "$(dirname "$0")/.."

logs=$(mktemp -d "${TMPDIR:-/tmp}/peets-test.XXXXXX")
trap 'rm -rf "$logs"' EXIT
summary=()
failed=0
began=$SECONDS

# failed_tests LOG prints "package: Test Test/sub ..." for each package that
# failed in a go test log (and the tests a timeout panic names).
failed_tests() {
	awk '
		/^[ \t]*--- FAIL: / { names = names " " $3; next }
		/^panic: test timed out/ { timeout = 1; next }
		timeout && /^\t\t[^ \t]+ \(/ { sub(/^\t\t/, ""); names = names " " $1 " (timed out)"; next }
		/^FAIL\t/ {
			if (names == "") names = " (no test failed by name: build failure, panic or exit)"
			print "    " $2 ":" names
			names = ""; timeout = 0; next
		}
		/^ok[ \t]/ { names = ""; timeout = 0 }
	' "$1"
}

# stage NAME CMD... runs one stage, echoing its output and keeping it.
stage() {
	local name=$1
	shift
	local log="$logs/$(printf '%02d' ${#summary[@]}).log"
	local t0=$SECONDS status
	echo
	echo "== $name"
	"$@" 2>&1 | tee "$log"
	status=${PIPESTATUS[0]}
	local took=$((SECONDS - t0))
	if [ "$status" = 0 ]; then
		summary+=("ok    $(printf '%4ds' "$took")  $name")
	else
		failed=1
		summary+=("FAIL  $(printf '%4ds' "$took")  $name (exit $status)")
		local tests
		tests=$(failed_tests "$log")
		if [ -n "$tests" ]; then summary+=("$tests"); fi
	fi
}

stage "install dependencies" bash scripts/install-deps.sh

export PEETS_NDND="$PWD/bin/ndnd"
export PEETS_BIN="$PWD/bin/peets"
export PEETS_CHROMIUM="${PEETS_CHROMIUM:-/usr/bin/chromium}"
export PEETS_FIREFOX="${PEETS_FIREFOX:-/usr/bin/firefox-esr}"

stage "go vet" go vet ./...
stage "go vet (e2e)" go vet -tags e2e ./...
# staticcheck, pinned (fetched through the Go module proxy; go.mod untouched):
# it found a NACK buffer that was never cleared on a publisher restart.
stage "staticcheck" go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 -tags e2e ./...
# The proxy runs on macOS and Windows too: keep it building there.
stage "cross build darwin/arm64" env GOOS=darwin GOARCH=arm64 go build -o /dev/null ./cmd/peets
stage "cross build windows/amd64" env GOOS=windows GOARCH=amd64 go build -o /dev/null ./cmd/peets
# One package at a time: several tests start forwarders and check
# latencies that two packages' tests competing for 2 cores could blur.
stage "unit tests" go test -count=1 -p 1 -timeout 600s ./...
# The same tests under the race detector: the daemon is goroutines and
# locks throughout (it found a test that changed a guard's state while
# the guard's goroutine read it, and a test that only passed when fast).
stage "unit tests (race detector)" go test -race -count=1 -p 1 -timeout 900s ./...
# The packages that have end-to-end tests (build tag e2e): real processes,
# a real ndnd forwarder, real headless Chromium and Firefox.
stage "end-to-end tests: forwarder" go test -count=1 -p 1 -timeout 300s -tags e2e -run E2E ./daemon/forwarder/
stage "end-to-end tests: e2e/..." go test -count=1 -p 1 -timeout 900s -tags e2e ./e2e/...
# The browser tests again with other Chromium binaries, when asked
# (PEETS_CHROMIUM_ALSO="/path/chromium ..."; e.g. the 148 that some images
# ship, unpacked with dpkg-deb -x beside Debian's).
for c in ${PEETS_CHROMIUM_ALSO:-}; do
	stage "browser tests with $c" env PEETS_CHROMIUM="$c" go test -count=1 -timeout 600s -tags e2e ./e2e/browser/
done

echo
echo "== summary ($(((SECONDS - began) / 60)) min $(((SECONDS - began) % 60)) s)"
printf '%s\n' "${summary[@]}"
if [ "$failed" != 0 ]; then
	echo "test.sh: FAILED"
	exit 1
fi
echo "test.sh: all stages passed"
