#!/usr/bin/env bash
# Starts a Maestro on a free port and runs the graphql-http audit against it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/services.sh
(cd conformance && npm ci --no-audit --no-fund --silent)
start_test_server conformance
node conformance/audit.mjs "$SERVER_URL/graphql"
