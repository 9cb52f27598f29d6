#!/usr/bin/env bash
# Starts a Maestro on a free port and runs the graphql-http audit against it.
set -euo pipefail
cd "$(dirname "$0")/.."
port="${CONFORMANCE_PORT:-18080}"
db="${TEST_DATABASE_SERVER:-postgres://postgres@127.0.0.1:5432}/maestro_test_conformance"
(cd conformance && npm ci --no-audit --no-fund --silent)
DATABASE_URL="$db" MAESTRO_LISTEN="127.0.0.1:$port" ./target/debug/maestro serve >/tmp/maestro-conformance.log 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 60); do
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.5
done
node conformance/audit.mjs "http://127.0.0.1:$port/graphql"
