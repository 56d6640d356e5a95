#!/usr/bin/env bash
# Runs every benchmark of docs/benchmarks.md and rewrites it, with its
# plots, from their output: `peets bench report` (internal/report). Run as
# root (the network benchmarks make network namespaces), on a quiet
# machine: nothing else should run meanwhile. About 20 minutes.
#
#   bash scripts/bench-report.sh                 # everything
#   bash scripts/bench-report.sh --only fanout   # one benchmark; the others keep their kept output
#   bash scripts/bench-report.sh --render        # redraw from docs/bench/data.json only
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
export PEETS_CHROMIUM="${PEETS_CHROMIUM:-/usr/bin/chromium}"
exec bin/peets bench report "$@"
