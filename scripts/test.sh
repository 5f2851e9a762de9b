#!/usr/bin/env bash
# The whole test suite: starts its own throwaway services, runs vitest, stops them.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/services.sh
trap stop_services EXIT
start_postgres
npx vitest run "$@"
