#!/usr/bin/env bash
# Builds Maestro in release mode, starts it on a fresh database (with Redis when running),
# and runs benchmarks against it: `scripts/bench.sh` runs all of them, `scripts/bench.sh
# login_storm` one (benches/api.rs, login_storm.rs, subscriptions.rs). Each prints a
# Markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/services.sh
ensure_postgres
db="postgres://postgres@127.0.0.1:5432/maestro_bench_$(date +%s)"
port="${BENCH_PORT:-18090}"
cargo build --release --locked --bin maestro
if redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then export REDIS_URL="redis://127.0.0.1:6379"; fi
log="$(mktemp)"
DATABASE_URL="$db" MAESTRO_REDIS_PREFIX="bench:$port:" MAESTRO_LISTEN="127.0.0.1:$port" \
  RUST_LOG=warn "${CARGO_TARGET_DIR:-target}/release/maestro" serve >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; psql "${db%/*}/postgres" -qc "DROP DATABASE IF EXISTS \"${db##*/}\" WITH (FORCE)" || true' EXIT
for _ in $(seq 1 120); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.5; done
for bench in ${1:-api login_storm subscriptions}; do
  MAESTRO_URL="http://127.0.0.1:$port" MAESTRO_PID="$pid" DATABASE_URL="$db" cargo bench --locked --bench "$bench"
done
