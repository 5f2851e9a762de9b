#!/usr/bin/env bash
# The whole test suite: type check, lint, format and build, then vitest against throwaway services it
# starts itself.
set -euo pipefail
cd "$(dirname "$0")/.."

# The four checks are independent and each mostly single-threaded: run side by side (CI has two
# cores; eslint's typed rules alone take as long as the others together). Each one's output is
# printed whole, in order, and the first that failed fails the suite.
checks_dir=$(mktemp -d)
trap 'rm -rf "$checks_dir"' EXIT
run_check() { # name, command...
  local name=$1
  shift
  ("$@" >"$checks_dir/$name.out" 2>&1; echo $? >"$checks_dir/$name.rc") &
}
run_check typecheck npx tsc --noEmit -p .
run_check lint npx eslint .
run_check format npx prettier --check .
# dist/ as it ships (bin/caliper.js runs it; the benchmark smoke tests start it): the current sources.
run_check build npm run build
wait
failed=0
for name in typecheck lint format build; do
  echo "== $name"
  cat "$checks_dir/$name.out"
  rc=$(cat "$checks_dir/$name.rc")
  if [ "$rc" != 0 ]; then
    echo "== $name failed (exit $rc)"
    failed=1
  fi
done
[ "$failed" = 0 ] || exit 1

source scripts/services.sh
trap 'rm -rf "$checks_dir"; stop_services' EXIT
start_postgres
start_influxdb
ensure_chromium
ensure_git
ensure_buildbot  # test/bench/bench-smoke.test.ts runs bench:compare against Buildbot
ensure_promtool  # test/integration/agent-metrics.test.ts checks the agent's /metrics with it
echo "== tests"
npx vitest run "$@"
