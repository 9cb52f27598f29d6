#!/usr/bin/env bash
# Installs (with apt-get, when missing) and starts the services Maestro's tests need:
# PostgreSQL and Redis. Sourced by the other scripts; safe to run again.
set -euo pipefail

SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi

apt_install() {
  if [ -z "${MAESTRO_APT_UPDATED:-}" ]; then
    $SUDO apt-get update -qq
    export MAESTRO_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

ensure_postgres() {
  if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then return 0; fi
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "installing PostgreSQL…"
    apt_install postgresql postgresql-client
    local version
    version="$(ls /etc/postgresql | sort -V | tail -1)"
    # A fresh install asks for passwords over TCP: trust local connections, as a dev box does.
    $SUDO sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' \
      "/etc/postgresql/$version/main/pg_hba.conf"
  fi
  echo "starting PostgreSQL…"
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start || true
  for _ in $(seq 1 30); do
    pg_isready -q -h 127.0.0.1 -p 5432 && return 0
    sleep 1
  done
  echo "PostgreSQL did not start" >&2
  return 1
}

ensure_redis() {
  if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then return 0; fi
  if ! command -v redis-server >/dev/null 2>&1; then
    echo "installing Redis…"
    apt_install redis-server redis-tools
  fi
  echo "starting Redis…"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  for _ in $(seq 1 30); do
    redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && return 0
    sleep 1
  done
  echo "Redis did not start" >&2
  return 1
}

ensure_python() {
  if python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then return 0; fi
  echo "installing Python (venv)…"
  apt_install python3 python3-venv
}

ensure_node() {
  if command -v npm >/dev/null 2>&1; then return 0; fi
  echo "installing Node.js…"
  apt_install nodejs npm
}

ensure_chromium() {
  if [ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then return 0; fi
  echo "installing Chromium (Playwright drives Debian's; it cannot download its own here)…"
  apt_install chromium
}

# Installs the web app's packages when they are missing or older than the lock file, then
# builds it into ui/dist (which build.rs embeds in the binary) when the build is missing
# or older than its sources.
ensure_ui_built() {
  ensure_node
  if [ ! -d ui/node_modules ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
    echo "installing the web app's packages…"
    (cd ui && npm ci --no-audit --no-fund --loglevel=error)
  fi
  local newest
  newest="$(find ui/src ui/index.html ui/graphiql.html ui/public ui/vite.config.ts schema.graphql -newer ui/dist/index.html 2>/dev/null | head -1 || true)"
  if [ ! -f ui/dist/index.html ] || [ -n "$newest" ]; then
    echo "building the web app…"
    (cd ui && npm run build --silent)
  fi
}

# Starts the debug build of maestro on a free port with a database of its own, dropped
# again on exit; sets SERVER_URL, SERVER_PID and SERVER_LOG. Used by the audits that run
# against a live server (conformance.sh, schemathesis.sh).
start_test_server() {
  local name="$1"
  local target="${CARGO_TARGET_DIR:-target}"
  local port
  port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  SERVER_DB_SERVER="${TEST_DATABASE_SERVER:-postgres://postgres@127.0.0.1:5432}"
  SERVER_DB="maestro_test_$$_${name}"
  SERVER_LOG="$(mktemp)"
  DATABASE_URL="$SERVER_DB_SERVER/$SERVER_DB" MAESTRO_LISTEN="127.0.0.1:$port" \
    "$target/debug/maestro" serve >"$SERVER_LOG" 2>&1 &
  SERVER_PID=$!
  SERVER_URL="http://127.0.0.1:$port"
  trap stop_test_server EXIT
  for _ in $(seq 1 120); do
    if curl -fsS "$SERVER_URL/healthz" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  echo "the server did not start; its log:" >&2
  cat "$SERVER_LOG" >&2
  return 1
}

stop_test_server() {
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  psql "$SERVER_DB_SERVER/postgres" -qc "DROP DATABASE IF EXISTS \"$SERVER_DB\"" >/dev/null 2>&1 || true
}
