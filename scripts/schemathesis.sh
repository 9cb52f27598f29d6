#!/usr/bin/env bash
# Starts a Maestro on a free port with its own database, signs up a member with a WRITE API
# token, and lets schemathesis fuzz every query and mutation as that member, a bounded
# number of examples per operation (SCHEMATHESIS_EXAMPLES, default 50; SCHEMATHESIS_SEED,
# default 1, keeps runs repeatable). Fails on a 5xx, on an error outside the contract's
# codes (conformance/schemathesis/hooks.py), on a response that breaks the schema, or on
# an internal error in the server's log.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
mkdir -p "$target"
venv="$(cd "$target" && pwd)/schemathesis-venv"
if [ ! -x "$venv/bin/st" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==4.32.5"
fi
source scripts/services.sh
start_test_server schemathesis
url="$SERVER_URL/graphql"
gql() { # token, JSON body → the field named by $3 from data
  curl -fsS "$url" -H 'content-type: application/json' ${1:+-H "authorization: Bearer $1"} -d "$2" |
    python3 -c "import json, sys; print(json.load(sys.stdin)['data']['$3']['$4'])"
}
# The first account is ADMIN; fuzz as the second, an ordinary member.
gql "" '{"query":"mutation { register(input: {email: \"admin@fuzz.test\", password: \"correct horse battery\", name: \"Admin\"}) { accessToken } }"}' register accessToken >/dev/null
access="$(gql "" '{"query":"mutation { register(input: {email: \"member@fuzz.test\", password: \"correct horse battery\", name: \"Member\"}) { accessToken } }"}' register accessToken)"
token="$(gql "$access" '{"query":"mutation { createApiToken(input: {name: \"schemathesis\", scopes: [READ, WRITE]}) { token } }"}' createApiToken token)"

status=0
(cd conformance/schemathesis &&
  SCHEMATHESIS_HOOKS=hooks "$venv/bin/st" run "$url" \
    -H "Authorization: Bearer $token" \
    --checks maestro_no_server_error,response_schema_conformance \
    --max-examples "${SCHEMATHESIS_EXAMPLES:-50}" --seed "${SCHEMATHESIS_SEED:-1}" \
    --generation-database none --no-color --report-dir "$(mktemp -d)") || status=$?
if grep -Eiq "internal error|panicked" "$SERVER_LOG"; then
  echo "the server logged internal errors:" >&2
  grep -Ei -A3 "internal error|panicked" "$SERVER_LOG" >&2
  status=1
fi
exit $status
