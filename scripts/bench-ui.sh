#!/usr/bin/env bash
# The web app's benchmark: the run page in Chromium against a release build of maestro on a
# fresh database, its charts drawn from 1,000 and from 10,000 points per metric. Prints
# timings (compare them within one run; the machine is shared).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/services.sh
ensure_postgres
ensure_chromium
ensure_ui_built
cargo build --release --locked --bin maestro
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
server="${TEST_DATABASE_SERVER:-postgres://postgres@127.0.0.1:5432}"
db="maestro_bench_ui_$$"
log="$(mktemp)"
DATABASE_URL="$server/$db" MAESTRO_LISTEN="127.0.0.1:$port" "$CARGO_TARGET_DIR/release/maestro" serve >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; psql "$server/postgres" -qc "DROP DATABASE IF EXISTS \"$db\"" >/dev/null 2>&1; rm -f "$log"' EXIT
for _ in $(seq 1 120); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.5; done
(cd ui && E2E_BASE_URL="http://127.0.0.1:$port" npx playwright test -c playwright.bench.config.ts --reporter=line)
