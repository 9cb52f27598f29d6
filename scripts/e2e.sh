#!/usr/bin/env bash
# The web app's tests: Vitest component tests, then Playwright end-to-end tests in Debian's
# Chromium against the debug build of maestro (with the app embedded) on a fresh database,
# with Redis. Needs `npm ci` and the app built (`npm run build`), then `cargo build`, as
# scripts/test.sh does. SCREENSHOTS_DIR=docs/screenshots also writes the README's pictures.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/services.sh
ensure_chromium

echo "== web app: component tests (Vitest)"
(cd ui && npx vitest run)

echo "== web app: end-to-end tests (Playwright, Chromium)"
export REDIS_URL="${TEST_REDIS_URL:-redis://127.0.0.1:6379}"
start_test_server e2e
if [ -n "${SCREENSHOTS_DIR:-}" ]; then
  mkdir -p "$SCREENSHOTS_DIR"
  SCREENSHOTS_DIR="$(cd "$SCREENSHOTS_DIR" && pwd)"
  export SCREENSHOTS_DIR
fi
(cd ui && E2E_BASE_URL="$SERVER_URL" npx playwright test) || {
  echo "--- server log (last 40 lines)"
  tail -40 "$SERVER_LOG"
  exit 1
}
