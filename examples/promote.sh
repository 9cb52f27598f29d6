#!/usr/bin/env bash
# Registers a run's output as the next version of a model, moves it to a stage, and points
# an alias at it — what a CI job does after training and evaluation pass.
#
#   MAESTRO_URL=https://maestro.example.com MAESTRO_TOKEN=<API token with WRITE> \
#     examples/promote.sh <model id> <run id> [STAGING|PRODUCTION] [alias]
#
# Needs curl and python3. Prints the new version's number. Promoting to PRODUCTION
# archives the model's previous PRODUCTION version.
set -euo pipefail
model="$1" run="$2" stage="${3:-STAGING}" alias="${4:-}"
url="${MAESTRO_URL:-http://127.0.0.1:8000}/graphql"

# gql QUERY VARIABLES_JSON → the response's data as JSON; exits non-zero on an error.
gql() {
  curl -fsS "$url" -H 'content-type: application/json' -H "authorization: Bearer $MAESTRO_TOKEN" \
    -d "$(python3 -c 'import json, sys; print(json.dumps({"query": sys.argv[1], "variables": json.loads(sys.argv[2])}))' "$1" "$2")" |
    python3 -c '
import json, sys
answer = json.load(sys.stdin)
if answer.get("errors"):
    e = answer["errors"][0]
    sys.exit("maestro: " + str(e["extensions"].get("code")) + ": " + e["message"])
print(json.dumps(answer["data"]))'
}
field() { python3 -c "import json, sys; d = json.load(sys.stdin); print(d$1)"; }

version="$(gql 'mutation($i: CreateModelVersionInput!) { createModelVersion(input: $i) { id version } }' \
  "{\"i\": {\"modelId\": \"$model\", \"sourceRunId\": \"$run\", \"description\": \"registered by CI\"}}")"
id="$(echo "$version" | field '["createModelVersion"]["id"]')"
number="$(echo "$version" | field '["createModelVersion"]["version"]')"
gql 'mutation($v: ID!, $s: ModelStage!) { setModelVersionStage(id: $v, stage: $s) { stage } }' \
  "{\"v\": \"$id\", \"s\": \"$stage\"}" >/dev/null
if [ -n "$alias" ]; then
  gql 'mutation($m: ID!, $a: String!, $v: ID!) { setModelAlias(modelId: $m, alias: $a, versionId: $v) { version } }' \
    "{\"m\": \"$model\", \"a\": \"$alias\", \"v\": \"$id\"}" >/dev/null
fi
echo "version $number is now $stage${alias:+ and $alias}"
