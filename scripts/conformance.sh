#!/usr/bin/env bash
# Starts a Maestro on a free port and runs the graphql-http audit against it.
set -euo pipefail
cd "$(dirname "$0")/.."
port="${CONFORMANCE_PORT:-18080}"
db="${TEST_DATABASE_SERVER:-postgres://postgres@127.0.0.1:5432}/maestro_test_conformance"
(cd conformance && npm ci --no-audit --no-fund --silent)
log="$(mktemp)"
DATABASE_URL="$db" MAESTRO_LISTEN="127.0.0.1:$port" "${CARGO_TARGET_DIR:-target}/debug/maestro" serve >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true' EXIT
up=""
for _ in $(seq 1 120); do
  if curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then up=1; break; fi
  sleep 0.5
done
if [ -z "$up" ]; then
  echo "the server did not start; its log:" >&2
  cat "$log" >&2
  exit 1
fi
node conformance/audit.mjs "http://127.0.0.1:$port/graphql"
