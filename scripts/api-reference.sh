#!/usr/bin/env bash
# Writes docs/api-reference.md from schema.graphql with graphql-markdown (pinned in
# scripts/api-reference/package-lock.json). `--check` fails instead when the committed
# page differs from what the schema gives (the test command runs it so).
set -euo pipefail
cd "$(dirname "$0")/.."
(cd scripts/api-reference && npm ci --no-audit --no-fund --silent)
generated="$(mktemp)"
trap 'rm -f "$generated"' EXIT
scripts/api-reference/node_modules/.bin/graphql-markdown schema.graphql \
  --title "Maestro GraphQL API reference" \
  --prologue "Generated from \`schema.graphql\` by \`scripts/api-reference.sh\` (graphql-markdown); do not edit by hand. Every type, field and argument carries the description written beside its code. Queries and mutations go to \`POST /graphql\`, subscriptions to \`/graphql/ws\` (graphql-transport-ws)." \
  --toc-fields "Query,Mutation,Subscription" >"$generated"
if [[ "${1:-}" == "--check" ]]; then
  if ! diff -q docs/api-reference.md "$generated" >/dev/null 2>&1; then
    echo "docs/api-reference.md is stale: run scripts/api-reference.sh and commit it" >&2
    exit 1
  fi
  echo "docs/api-reference.md matches schema.graphql"
else
  cp "$generated" docs/api-reference.md
  echo "wrote docs/api-reference.md"
fi
