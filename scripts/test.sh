#!/usr/bin/env bash
# The whole test suite: starts what is not running, then formatting, lints, the
# graphql-http conformance audit and schemathesis against a live server, and every unit
# and integration test against real PostgreSQL and Redis. `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/services.sh

ensure_postgres
ensure_redis
ensure_node
ensure_python
ensure_chromium

export TEST_DATABASE_SERVER="${TEST_DATABASE_SERVER:-postgres://postgres@127.0.0.1:5432}"
export TEST_REDIS_URL="${TEST_REDIS_URL:-redis://127.0.0.1:6379}"
# Builds check every static SQL statement against the committed .sqlx/, never a database
# (a DATABASE_URL in .env would otherwise make the macros ask it).
export SQLX_OFFLINE=true

# Each test makes its own database, named after its process, and leaves it behind (its
# server's connections are still open when the test ends). Those whose process is gone are
# dropped before the run (left by earlier ones) and after it; a run beside this one keeps
# its own.
drop_finished_test_databases() {
  psql "$TEST_DATABASE_SERVER/postgres" -Atqc \
    "SELECT datname FROM pg_database WHERE datname LIKE 'maestro\_test\_%'" |
    while read -r db; do
      pid="${db#maestro_test_}"
      pid="${pid%%_*}"
      # Names without a process id come from versions before it was added.
      if [[ ! "$pid" =~ ^[0-9]+$ ]] || ! kill -0 "$pid" 2>/dev/null; then
        psql "$TEST_DATABASE_SERVER/postgres" -qc "DROP DATABASE IF EXISTS \"$db\"" || true
      fi
    done
}
drop_finished_test_databases
trap drop_finished_test_databases EXIT

echo "== web app: packages, typed documents checked against schema.graphql, build"
# Built first: the binary embeds ui/dist (build.rs), so every build below serves it.
ensure_ui_built

echo "== format and lints"
cargo fmt --check
scripts/unused-deps.sh
scripts/api-reference.sh --check
scripts/sqlx-prepare.sh --check
cargo clippy --locked --all-targets -- -D warnings

echo "== graphql-http conformance audit"
cargo build --locked --bin maestro
scripts/conformance.sh

echo "== schemathesis (GraphQL fuzzing as a member, bounded examples)"
scripts/schemathesis.sh

scripts/e2e.sh

echo "== tests"
# Unit and integration tests (doc tests hold no tests here). The last line sums them up.
out="$(mktemp)"
set +e
cargo test --locked --no-fail-fast --lib --tests 2>&1 | tee "$out"
status=${PIPESTATUS[0]}
set -e
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$out"
exit "$status"
