#!/usr/bin/env bash
# Regenerates .sqlx/, the description of every static SQL statement that the sqlx macros
# check the code against at compile time, from a fresh database with the migrations
# applied. Run it after changing a statement or a migration, and commit .sqlx/.
# `--check` fails instead when the committed .sqlx/ differs (the test command runs it so;
# builds elsewhere use the committed data with SQLX_OFFLINE=true and no database).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/services.sh
ensure_postgres

server="${TEST_DATABASE_SERVER:-postgres://postgres@127.0.0.1:5432}"
db="maestro_test_$$_sqlx"
out="$(mktemp -d)"
cleanup() {
  psql "$server/postgres" -qc "DROP DATABASE IF EXISTS \"$db\"" >/dev/null 2>&1 || true
  rm -rf "$out"
}
trap cleanup EXIT
psql "$server/postgres" -qc "CREATE DATABASE \"$db\""
for migration in migrations/*.sql; do
  psql "$server/$db" -q -v ON_ERROR_STOP=1 -f "$migration" >/dev/null
done

# The macros describe each statement against the database and write what they learn to
# SQLX_OFFLINE_DIR; touching the crate root makes them run again.
touch src/lib.rs
DATABASE_URL="$server/$db" SQLX_OFFLINE=false SQLX_OFFLINE_DIR="$out" \
  cargo check --locked --lib --quiet
touch src/lib.rs

if [[ "${1:-}" == "--check" ]]; then
  if ! diff -r .sqlx "$out" >/dev/null 2>&1; then
    diff -r .sqlx "$out" | head -20 >&2 || true
    echo ".sqlx/ is stale: run scripts/sqlx-prepare.sh and commit .sqlx/" >&2
    exit 1
  fi
  echo ".sqlx/ matches the statements and the migrations"
else
  rm -rf .sqlx
  cp -r "$out" .sqlx
  echo "wrote .sqlx/ ($(ls .sqlx | wc -l) statements)"
fi
