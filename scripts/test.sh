#!/usr/bin/env bash
# The whole test suite: type check, lint, then vitest against throwaway services it starts itself.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== typecheck" && npx tsc --noEmit -p .
echo "== lint" && npx eslint .
echo "== format" && npx prettier --check .
source scripts/services.sh
trap stop_services EXIT
start_postgres
start_influxdb
ensure_chromium
ensure_git
echo "== tests"
npx vitest run "$@"
