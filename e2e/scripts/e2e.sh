#!/usr/bin/env bash
# Runs the e2e suites. The invariant soak runs beside the others on a control plane of its own:
# it spends most of its ~5 minutes in timed windows, so running it alongside saves that much of
# the run's wall time, and its write counts are kept per patcher identity, so other suites'
# requests cannot disturb them. Both reports land in .vitest/ for scripts/summarize-tests.mjs.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p .vitest
vitest run --project soak --reporter=default --reporter=json --outputFile.json=.vitest/soak.json >.vitest/soak.log 2>&1 &
soak=$!
# Stop the soak too when this script is interrupted.
trap 'kill "$soak" 2>/dev/null' INT TERM
vitest run --project e2e --reporter=default --reporter=json --outputFile.json=.vitest/e2e.json
main=$?
wait "$soak"
soak_status=$?
echo "---- soak (ran alongside; its output) ----"
cat .vitest/soak.log
exit $(( main != 0 || soak_status != 0 ))
