#!/usr/bin/env bash
# Runs Maestro on a laptop: starts PostgreSQL if needed, then `maestro serve` with the
# embedded defaults (in-process limits, local-disk artifacts). Set REDIS_URL and the
# AWS_* variables to use Redis and S3/MinIO instead (see .env.example).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/services.sh
ensure_postgres
# The web app, embedded in the binary: built when missing or older than its sources.
ensure_ui_built
# The local superuser's database, unless the environment or a .env file names another.
if [ -z "${DATABASE_URL:-}" ] && ! grep -qs '^DATABASE_URL=' .env; then
  export DATABASE_URL="postgres://postgres@127.0.0.1:5432/maestro"
fi
exec cargo run --release --locked --bin maestro -- serve
