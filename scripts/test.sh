#!/usr/bin/env bash
# The whole test suite: type check, lint, then vitest against throwaway services it starts itself.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== typecheck" && npx tsc --noEmit -p .
echo "== lint" && npx eslint .
echo "== format" && npx prettier --check .
# dist/ as it ships (bin/caliper.js runs it; the benchmark smoke tests start it): the current sources.
echo "== build" && npm run build
source scripts/services.sh
trap stop_services EXIT
start_postgres
start_influxdb
ensure_chromium
ensure_git
ensure_buildbot  # test/bench/bench-smoke.test.ts runs bench:compare against Buildbot
ensure_promtool  # test/integration/agent-metrics.test.ts checks the agent's /metrics with it
echo "== tests"
npx vitest run "$@"
